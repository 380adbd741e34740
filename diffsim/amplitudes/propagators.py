"""Dirac algebra in the HELAS chiral basis, momentum flows and ALOHA's propagators.

**Basis.** HELAS (Murayama, Watanabe, Hagiwara, KEK-91-11) and ALOHA (de Aquino et al.,
arXiv:1108.2041) use the chiral (Weyl) basis of Peskin & Schroeder eq. (3.40):

    γ⁰ = [[0, 1], [1, 0]],   γᵏ = [[0, σᵏ], [-σᵏ, 0]],   γ⁵ = diag(-1, -1, +1, +1),

so a column spinor is ``ψ = (ψ_L, ψ_R)`` and ``P_L = (1-γ⁵)/2 = diag(1, 1, 0, 0)``,
``P_R = diag(0, 0, 1, 1)``. The "flowing-out" wavefunctions (``oxxxxx`` and the off-shell
fermions built from them) store the *row* spinor ``ψ̄ = ψ†γ⁰`` itself, so a bilinear is the
plain product ``ψ̄ Γ ψ = Σ_ab ψ̄_a Γ_ab ψ_b`` with no conjugation or ``γ⁰`` inserted.
Four-vectors are contravariant ``(v⁰, v¹, v², v³)``; contractions use the metric (+,-,-,-)
and never conjugate (``ε·J``, not ``ε*·J``).

**Momentum flow.** Components 0 and 1 of every wavefunction carry a four-momentum:
``w[0] = P⁰ + i P³``, ``w[1] = P¹ + i P²`` (:func:`flow_momentum` reads it back). An
off-shell wavefunction carries the sum of its inputs' flows, and the momentum in its
propagator is read from that sum exactly as ALOHA does (see the vertex functions).

**Propagators.** With MadGraph's fixed-width denominator ``D = p² - M² + i M Γ``:

* fermion ``i(p̸ + M)/D`` (``p`` along the fermion-number arrow),
* vector ``-i(g^{μν} - p^μ p^ν/M²)/D`` for ``M ≠ 0`` (unitary gauge) and ``-i g^{μν}/D``
  for ``M = 0`` (Feynman gauge, ALOHA's ``P0`` routines),
* scalar ``i/D``.

ALOHA's off-shell wavefunctions are *coupling × Lorentz structure × propagator* (no vertex
factor ``-i``), its amplitudes ``-i × coupling × structure``; with UFO couplings (which carry
the Feynman-rule factors of ``i``) the amplitude of a tree diagram is then ``M`` itself
(``iM`` = product of Feynman rules).
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float

from diffsim.kinematics import minkowski_dot

__all__ = [
    "GAMMA",
    "METRIC",
    "chiral",
    "denominator",
    "flow_momentum",
    "fermion_numerator",
    "slash",
    "vector_numerator",
]

METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
"""Minkowski metric ``g_{μν} = diag(+1, -1, -1, -1)``."""


def _gamma_matrices() -> np.ndarray:
    pauli = np.array(
        [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
        dtype=np.complex128,
    )
    zero = np.zeros((2, 2), dtype=np.complex128)
    gamma = [np.block([[zero, pauli[0]], [pauli[0], zero]])]
    gamma += [np.block([[zero, pauli[k]], [-pauli[k], zero]]) for k in (1, 2, 3)]
    return np.stack(gamma)


GAMMA = _gamma_matrices()
"""``GAMMA[μ]`` = γ^μ (upper index) in the HELAS chiral basis, shape ``(4, 4, 4)``."""

_GAMMA_LOWER = GAMMA * np.diag(METRIC)[:, None, None]  # γ_μ


def flow_momentum(w: Complex[Array, "*batch n"]) -> Float[Array, "*batch 4"]:
    """Four-momentum ``(P⁰, P¹, P², P³)`` stored in the flow components ``w[..., 0:2]``.

    ``ixxxxx`` stores ``-nsf·p``, ``oxxxxx`` ``+nsf·p``, ``vxxxxx`` ``+nsv·p`` and
    ``sxxxxx`` ``+nss·p`` (GeV), so e.g. an incoming fermion (``nsf = +1``) reads ``-p``.
    """
    w = jnp.asarray(w)
    return jnp.stack([w[..., 0].real, w[..., 1].real, w[..., 1].imag, w[..., 0].imag], axis=-1)


def slash(a: Complex[ArrayLike, "*batch 4"]) -> Complex[Array, "*batch 4 4"]:
    """Feynman slash ``a̸ = γ^μ a_μ`` of a contravariant (real or complex) four-vector."""
    a = jnp.asarray(a)
    dtype = jnp.result_type(a.dtype, jnp.complex64)
    return jnp.einsum("...m,mij->...ij", a, jnp.asarray(_GAMMA_LOWER, dtype=dtype))


def chiral(
    spinor: Complex[Array, "*batch 4"], g_left: ArrayLike, g_right: ArrayLike
) -> Complex[Array, "*batch 4"]:
    """``(g_L P_L + g_R P_R)`` applied to a spinor (column, or row from the right).

    The projectors are diagonal in this basis, so the same operation serves both sides.
    """
    g_left = jnp.asarray(g_left)[..., None]
    g_right = jnp.asarray(g_right)[..., None]
    return jnp.concatenate([g_left * spinor[..., :2], g_right * spinor[..., 2:]], axis=-1)


def denominator(
    p: Float[Array, "*batch 4"], mass: ArrayLike, width: ArrayLike
) -> Complex[Array, "*batch"]:
    """MadGraph's fixed-width propagator denominator ``p² - M(M - iΓ)`` (GeV²)."""
    return minkowski_dot(p, p) - mass * (mass - 1j * width)


def fermion_numerator(q: Float[Array, "*batch 4"], mass: ArrayLike) -> Complex[Array, "*batch 4 4"]:
    """Numerator ``q̸ + M`` of the fermion propagator, ``q`` along the fermion arrow (GeV)."""
    q_slash = slash(q)
    return q_slash + jnp.asarray(mass, dtype=q_slash.dtype)[..., None, None] * jnp.eye(
        4, dtype=q_slash.dtype
    )


def vector_numerator(
    current: Complex[Array, "*batch 4"], p: Float[Array, "*batch 4"], mass: ArrayLike
) -> Complex[Array, "*batch 4"]:
    """``(g^{μν} - p^μ p^ν/M²) J_ν`` (unitary gauge); for ``M = 0`` just ``J^μ`` (Feynman gauge).

    ``mass`` may be traced: the ``M = 0`` case is selected with a double ``where`` so the
    gradient with respect to ``M`` stays finite.
    """
    mass = jnp.asarray(mass)
    massive = mass != 0
    inverse_mass_squared = jnp.where(massive, 1.0 / jnp.where(massive, mass, 1.0) ** 2, 0.0)
    longitudinal = minkowski_dot(p, current) * inverse_mass_squared
    return current - p * longitudinal[..., None]
