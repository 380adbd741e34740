"""Momentum fractions of the two incoming partons of a hadron collision.

``(x₁, x₂)`` are drawn through ``ŝ = x₁ x₂ S`` and the rapidity ``y = ½ ln(x₁/x₂)`` of
the partonic system: ``ŝ`` by an :class:`~diffsim.phasespace.invariants.InvariantMap` on
``[ŝ_min, S]`` (logarithmic by default, i.e. flat in ``ln τ``; a Breit–Wigner map puts
the points on a resonance; an upper bound ``s_max < S`` restricts the range), ``y`` uniformly in ``[½ ln τ, -½ ln τ]`` with ``τ = ŝ/S``.
Weight convention: ``∫ dx₁ dx₂ f = E_r[f(x(r)) w(r)]``; since ``dx₁ dx₂ = dτ dy``,
``w = (dŝ/dr₀) / S · ln(1/τ)``.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffsim.phasespace.invariants import InvariantMap, PowerLawInvariant

__all__ = ["PartonFractions", "parton_momenta"]


def parton_momenta(x: Float[Array, "*batch 2"], s_hadronic: ArrayLike) -> Float[Array, "*batch 2 4"]:
    """Massless parton momenta ``x_i √S/2 (1, 0, 0, ±1)`` (beam 1 along +z), GeV."""
    half = 0.5 * jnp.sqrt(jnp.asarray(s_hadronic)) * x
    zero = jnp.zeros_like(half[..., 0])
    return jnp.stack(
        [
            jnp.stack([half[..., 0], zero, zero, half[..., 0]], axis=-1),
            jnp.stack([half[..., 1], zero, zero, -half[..., 1]], axis=-1),
        ],
        axis=-2,
    )


class PartonFractions(eqx.Module):
    """Bijection ``r ∈ [0,1]² → (x₁, x₂)`` with ``x₁ x₂ S ∈ [s_min, s_max]``.

    ``forward(r, s_hadronic, s_min, s_max=None) -> (x (..., 2), log_w)``;
    ``inverse(x, s_hadronic, s_min, s_max=None) -> (r, log_w)``; ``s_max`` defaults to
    ``S = s_hadronic``. Energies squared in GeV².
    """

    invariant: InvariantMap = PowerLawInvariant(nu=1.0)

    def forward(
        self, r: Float[Array, "*batch 2"], s_hadronic: ArrayLike, s_min: ArrayLike, s_max: ArrayLike | None = None
    ) -> tuple[Float[Array, "*batch 2"], Float[Array, "*batch"]]:
        s_max = s_hadronic if s_max is None else s_max
        s_hat, log_w_s = self.invariant.forward(r[..., 0], s_min, s_max)
        log_tau = jnp.log(s_hat / s_hadronic)
        y = 0.5 * log_tau * (1.0 - 2.0 * r[..., 1])
        x = jnp.exp(jnp.stack([0.5 * log_tau + y, 0.5 * log_tau - y], axis=-1))
        return x, log_w_s - jnp.log(s_hadronic) + jnp.log(-log_tau)

    def inverse(
        self, x: Float[Array, "*batch 2"], s_hadronic: ArrayLike, s_min: ArrayLike, s_max: ArrayLike | None = None
    ) -> tuple[Float[Array, "*batch 2"], Float[Array, "*batch"]]:
        s_max = s_hadronic if s_max is None else s_max
        log_tau = jnp.log(x[..., 0]) + jnp.log(x[..., 1])
        r_s, log_w_s = self.invariant.inverse(jnp.exp(log_tau) * s_hadronic, s_min, s_max)
        y = 0.5 * (jnp.log(x[..., 0]) - jnp.log(x[..., 1]))
        r_y = 0.5 * (1.0 - y / (0.5 * log_tau))
        return jnp.stack([r_s, r_y], axis=-1), log_w_s - jnp.log(s_hadronic) + jnp.log(-log_tau)
