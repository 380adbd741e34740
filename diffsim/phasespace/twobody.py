"""Two-body decay ``P → p1 p2`` with isotropic angles in the rest frame of ``P``.

Weight convention (MadGraph's): ``dΦ_2 = (2π)^(-2) δ⁴(P - p1 - p2) d³p1/(2E1) d³p2/(2E2)
= (2π)^(-2) |p*|/(4√s) dΩ``, so the weight of a point is
``w = |p*|/(4π √s)`` with ``|p*| = λ^(1/2)(s, m1², m2²)/(2√s)`` (``1/(8π)`` when massless).
The angles are measured in the rest frame of ``P`` with respect to the axes of the frame in
which ``P`` is given; ``cos θ = 2 r₀ - 1`` and ``φ = 2π r₁``.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffsim.kinematics import (
    boost_from_rest_frame,
    boost_to_rest_frame,
    mass_squared,
    minkowski_dot,
    phi,
    safe_sqrt,
    two_body_momentum,
)
from diffsim.phasespace.batching import broadcast_batch

__all__ = ["TwoBodyDecay", "direction_from_unit_square", "unit_square_from_direction"]


def direction_from_unit_square(r: Float[Array, "*batch 2"]) -> Float[Array, "*batch 3"]:
    """Unit vector with ``cos θ = 2 r₀ - 1``, ``φ = 2π r₁`` (uniform on the sphere)."""
    cos_theta = 2.0 * r[..., 0] - 1.0
    sin_theta = safe_sqrt(1.0 - cos_theta**2)
    azimuth = 2.0 * jnp.pi * r[..., 1]
    return jnp.stack(
        [sin_theta * jnp.cos(azimuth), sin_theta * jnp.sin(azimuth), cos_theta], axis=-1
    )


def unit_square_from_direction(p: Float[Array, "*batch 4"]) -> Float[Array, "*batch 2"]:
    """Inverse of :func:`direction_from_unit_square` for the direction of a four-momentum."""
    length = safe_sqrt(jnp.sum(p[..., 1:] ** 2, axis=-1))
    cos_theta = p[..., 3] / jnp.where(length > 0, length, 1.0)
    azimuth = jnp.mod(phi(p), 2.0 * jnp.pi)
    return jnp.stack([(cos_theta + 1.0) / 2.0, azimuth / (2.0 * jnp.pi)], axis=-1)


def _two_body_log_weight(s, p_star):
    return jnp.log(p_star / (4.0 * jnp.pi * jnp.sqrt(s)))


class TwoBodyDecay(eqx.Module):
    """Isotropic two-body decay of a time-like momentum (2 random numbers).

    ``forward(r, parent, m1, m2) -> (momenta, log_w)`` with ``r`` of shape ``(..., 2)``,
    ``parent`` ``(..., 4)``, daughter masses in GeV and ``momenta`` ``(..., 2, 4)``;
    ``inverse(momenta, m1, m2) -> (r, log_w)``. ``log_w`` is ``log dΦ_2`` per unit of
    ``r`` (module docstring).

    Precision: pass ``parent_mass`` when it is known (a propagator's sampled mass) rather
    than letting it be recomputed from a boosted four-vector; the inverse takes the
    invariant from the daughters, ``s = m1² + m2² + 2 p1·p2``, which keeps its relative
    precision near threshold even for fast daughters of very different energies.
    """

    def forward(
        self,
        r: Float[Array, "*batch 2"],
        parent: Float[Array, "*batch 4"],
        m1: ArrayLike,
        m2: ArrayLike,
        parent_mass: ArrayLike | None = None,
    ) -> tuple[Float[Array, "*batch 2 4"], Float[Array, "*batch"]]:
        if parent_mass is None:
            parent_mass = jnp.sqrt(mass_squared(parent))
        r, parent, m1, m2, parent_mass = broadcast_batch(
            (r, 1), (parent, 1), (m1, 0), (m2, 0), (parent_mass, 0)
        )
        s = parent_mass**2
        p_star = two_body_momentum(s, m1, m2)
        direction = direction_from_unit_square(r) * p_star[..., None]
        e1 = jnp.sqrt(p_star**2 + m1**2)
        e2 = jnp.sqrt(p_star**2 + m2**2)
        p1 = jnp.concatenate([e1[..., None], direction], axis=-1)
        p2 = jnp.concatenate([e2[..., None], -direction], axis=-1)
        momenta = boost_from_rest_frame(
            jnp.stack([p1, p2], axis=-2), parent[..., None, :], parent_mass[..., None]
        )
        return momenta, _two_body_log_weight(s, p_star)

    def inverse(
        self, momenta: Float[Array, "*batch 2 4"], m1: ArrayLike, m2: ArrayLike
    ) -> tuple[Float[Array, "*batch 2"], Float[Array, "*batch"]]:
        parent = momenta[..., 0, :] + momenta[..., 1, :]
        s = m1**2 + m2**2 + 2.0 * minkowski_dot(momenta[..., 0, :], momenta[..., 1, :])
        rest = boost_to_rest_frame(momenta[..., 0, :], parent, jnp.sqrt(s))
        return unit_square_from_direction(rest), _two_body_log_weight(s, two_body_momentum(s, m1, m2))
