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

**Components.** The algebra is written out component by component (as ALOHA does) on
tuples of four components, each a real array or a
:class:`~diffsim.amplitudes.split.SplitComplex`: ``dot``, ``slash_components``,
``row_slash_components``, ``bilinear_components``, ``chiral_components``,
``inverse_denominator`` and ``numerator_components``. XLA fuses such elementwise code into a
few loops over events and helicities. The array functions in ``__all__`` (last axis of size
4, complex) are thin wrappers kept for use outside the kernels.
"""

import numbers

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float

from diffsim.amplitudes.split import (
    SplitComplex,
    as_split,
    from_complex,
    i_times,
    to_complex,
)
from diffsim.kinematics import minkowski_dot

__all__ = [
    "METRIC",
    "chiral",
    "denominator",
    "flow_momentum",
    "row_slash",
    "slash_column",
    "vector_bilinear",
    "vector_numerator",
]

METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
"""Minkowski metric ``g_{μν} = diag(+1, -1, -1, -1)``."""


# ------------------------------------------------------------------ component algebra
# In this basis γ^μ = [[0, σ^μ], [σ̄^μ, 0]] with σ^μ = (1, σ⃗), σ̄^μ = (1, -σ⃗), so
# a̸ = [[0, a·σ], [a·σ̄, 0]] with the 2×2 blocks
#   a·σ = [[a⁰ - a³, -a¹ + i a²], [-a¹ - i a², a⁰ + a³]],
#   a·σ̄ = [[a⁰ + a³,  a¹ - i a²], [ a¹ + i a², a⁰ - a³]].


def is_static_zero(x) -> bool:
    """Whether ``x`` is a Python number equal to zero (a mass or width known to vanish)."""
    return isinstance(x, numbers.Number) and x == 0


def times_i(x):
    """``i·x`` for a real array or a :class:`SplitComplex`."""
    if isinstance(x, SplitComplex):
        return SplitComplex(None if x.im is None else -x.im, x.re)
    return i_times(x)


def dot(a, b):
    """Minkowski product ``a·b`` of two component tuples (no conjugation)."""
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


def _blocks(a):
    a0, a1, a2, a3 = a
    i2 = times_i(a2)
    sigma = ((a0 - a3, i2 - a1), (-a1 - i2, a0 + a3))
    sigma_bar = ((a0 + a3, a1 - i2), (a1 + i2, a0 - a3))
    return sigma, sigma_bar


def slash_components(a, c):
    """``a̸ c`` for a contravariant four-vector ``a`` and a column spinor ``c``."""
    (s00, s01), (s10, s11) = _blocks(a)[0]
    (b00, b01), (b10, b11) = _blocks(a)[1]
    c0, c1, c2, c3 = c
    return (s00 * c2 + s01 * c3, s10 * c2 + s11 * c3, b00 * c0 + b01 * c1, b10 * c0 + b11 * c1)


def row_slash_components(r, a):
    """``r a̸`` for a row spinor ``r`` and a contravariant four-vector ``a``."""
    (s00, s01), (s10, s11) = _blocks(a)[0]
    (b00, b01), (b10, b11) = _blocks(a)[1]
    r0, r1, r2, r3 = r
    return (r2 * b00 + r3 * b10, r2 * b01 + r3 * b11, r0 * s00 + r1 * s10, r0 * s01 + r1 * s11)


def bilinear_components(r, c):
    """``J^μ = r γ^μ c = r_L σ^μ c_R + r_R σ̄^μ c_L`` (contravariant)."""
    r0, r1, r2, r3 = r
    c0, c1, c2, c3 = c
    return (
        r0 * c2 + r1 * c3 + r2 * c0 + r3 * c1,
        r0 * c3 + r1 * c2 - r2 * c1 - r3 * c0,
        times_i(r1 * c2 + r2 * c1 - r0 * c3 - r3 * c0),
        r0 * c2 - r1 * c3 - r2 * c0 + r3 * c1,
    )


def chiral_components(spinor, g_left, g_right):
    """``(g_L P_L + g_R P_R)`` applied to a spinor (column, or row from the right)."""
    g_left, g_right = as_split(g_left), as_split(g_right)
    return (g_left * spinor[0], g_left * spinor[1], g_right * spinor[2], g_right * spinor[3])


def inverse_denominator(p, mass, width):
    """``1/(p² - M(M - iΓ))`` as a :class:`SplitComplex` (real when ``M`` or ``Γ`` is a static zero)."""
    p2 = dot(p, p)
    if is_static_zero(mass):
        return SplitComplex(1 / p2, None)
    real = p2 - mass * mass
    if is_static_zero(width):
        return SplitComplex(1 / real, None)
    imaginary = mass * width
    norm = real * real + imaginary * imaginary
    return SplitComplex(real / norm, -imaginary / norm)


def propagator_ratio(p, mass, width):
    """``p²/(p² − M(M − iΓ))``: the denominator of a propagator of mass ``M`` and width ``Γ``
    relative to a massless one (``1`` for a static zero mass), as a :class:`SplitComplex`."""
    if is_static_zero(mass):
        return SplitComplex(1.0, None)
    return inverse_denominator(p, mass, width) * dot(p, p)


def numerator_components(current, p, mass):
    """``(g^{μν} - p^μ p^ν/M²) J_ν`` (unitary gauge); for ``M = 0`` just ``J^μ``.

    A traced ``mass`` selects the ``M = 0`` case with a double ``where`` so that the gradient
    with respect to ``M`` stays finite.
    """
    if is_static_zero(mass):
        return tuple(current)
    mass = jnp.asarray(mass)
    massive = mass != 0
    inverse_mass_squared = jnp.where(massive, 1.0 / jnp.where(massive, mass, 1.0) ** 2, 0.0)
    longitudinal = dot(p, current) * inverse_mass_squared
    return tuple(c - x * longitudinal for c, x in zip(current, p))


# ------------------------------------------------------------------ array wrappers


def _vector(a: ArrayLike):
    a = jnp.asarray(a)
    if jnp.issubdtype(a.dtype, jnp.complexfloating):
        return tuple(from_complex(a[..., k]) for k in range(4))
    return tuple(a[..., k] for k in range(4))


def _spinor(c: ArrayLike):
    c = jnp.asarray(c)
    return tuple(as_split(c[..., k]) for k in range(4))


def _stack(components, dtype) -> Array:
    return jnp.stack(jnp.broadcast_arrays(*(to_complex(x, dtype) for x in components)), axis=-1)


def _complex_dtype(*arrays):
    dtype = jnp.result_type(*arrays)
    if not jnp.issubdtype(dtype, jnp.inexact):
        dtype = jnp.result_type(float)
    return jnp.result_type(dtype, jnp.complex64)


def slash_column(a: Complex[ArrayLike, "*batch 4"], c: Complex[Array, "*batch 4"]) -> Complex[Array, "*batch 4"]:
    """``a̸ c`` for a contravariant four-vector ``a`` and a column spinor ``c``."""
    return _stack(slash_components(_vector(a), _spinor(c)), _complex_dtype(a, c))


def row_slash(r: Complex[Array, "*batch 4"], a: Complex[ArrayLike, "*batch 4"]) -> Complex[Array, "*batch 4"]:
    """``r a̸`` for a row spinor ``r`` and a contravariant four-vector ``a``."""
    return _stack(row_slash_components(_spinor(r), _vector(a)), _complex_dtype(r, a))


def vector_bilinear(r: Complex[Array, "*batch 4"], c: Complex[Array, "*batch 4"]) -> Complex[Array, "*batch 4"]:
    """``J^μ = r γ^μ c = r_L σ^μ c_R + r_R σ̄^μ c_L`` (contravariant) for a row ``r`` and
    a column ``c`` spinor."""
    return _stack(bilinear_components(_spinor(r), _spinor(c)), _complex_dtype(r, c))


def flow_momentum(w: Complex[Array, "*batch n"]) -> Float[Array, "*batch 4"]:
    """Four-momentum ``(P⁰, P¹, P², P³)`` stored in the flow components ``w[..., 0:2]``.

    ``ixxxxx`` stores ``-nsf·p``, ``oxxxxx`` ``+nsf·p``, ``vxxxxx`` ``+nsv·p`` and
    ``sxxxxx`` ``+nss·p`` (GeV), so e.g. an incoming fermion (``nsf = +1``) reads ``-p``.
    """
    w = jnp.asarray(w)
    return jnp.stack(
        [w[..., 0].real, w[..., 1].real, w[..., 1].imag, w[..., 0].imag], axis=-1
    )


def chiral(
    spinor: Complex[Array, "*batch 4"], g_left: ArrayLike, g_right: ArrayLike
) -> Complex[Array, "*batch 4"]:
    """``(g_L P_L + g_R P_R)`` applied to a spinor (column, or row from the right).

    The projectors are diagonal in this basis, so the same operation serves both sides.
    """
    return _stack(
        chiral_components(_spinor(spinor), g_left, g_right),
        _complex_dtype(spinor, g_left, g_right),
    )


def denominator(
    p: Float[Array, "*batch 4"], mass: ArrayLike, width: ArrayLike
) -> Complex[Array, "*batch"]:
    """MadGraph's fixed-width propagator denominator ``p² - M(M - iΓ)`` (GeV²)."""
    return minkowski_dot(p, p) - mass * (mass - 1j * width)


def vector_numerator(
    current: Complex[Array, "*batch 4"], p: Float[Array, "*batch 4"], mass: ArrayLike
) -> Complex[Array, "*batch 4"]:
    """``(g^{μν} - p^μ p^ν/M²) J_ν`` (unitary gauge); for ``M = 0`` just ``J^μ`` (Feynman gauge).

    ``mass`` may be traced: the ``M = 0`` case is selected with a double ``where`` so the
    gradient with respect to ``M`` stays finite.
    """
    numerator = numerator_components(_spinor(current), _vector(p), jnp.asarray(mass))
    return _stack(numerator, _complex_dtype(current, p, mass))
