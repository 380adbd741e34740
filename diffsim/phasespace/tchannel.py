"""t-channel two-body mapping ``p_a p_b → p1 p2`` sampled in ``t = (p_a - p1)²``.

As in MadGraph's ``genps`` and Sherpa's t-channel blocks, the scattering angle is
generated through the momentum transfer so that a t-channel propagator ``1/(t - m²)``
is flattened: ``-t`` is drawn by an :class:`~diffsim.phasespace.invariants.InvariantMap`
(e.g. ``PowerLawInvariant(nu, pole=-m²)``) between its kinematic limits, and the azimuth
around ``p_a`` (in the centre-of-mass frame of ``p_a + p_b``) is uniform.

Weight convention: ``dΦ_2 = (2π)^(-2) |p1*|/(4√s) dcos θ dφ`` and
``dt = 2 |p_a*| |p1*| dcos θ``, so ``w = w_t / (16π √s |p_a*|)`` with ``w_t = d(-t)/dr₀``.
The incoming momenta may be off-shell or space-like (inner links of a t-channel chain);
``s = (p_a + p_b)²`` must be time-like.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffsim.kinematics import (
    boost_from_rest_frame,
    boost_to_rest_frame,
    mass_squared,
    momentum_magnitude,
    phi,
    rotate,
    rotation_from_z,
    safe_sqrt,
    two_body_momentum,
)
from diffsim.phasespace.batching import broadcast_batch
from diffsim.phasespace.invariants import InvariantMap

__all__ = ["TChannel"]


class TChannel(eqx.Module):
    """Two-body final state ``(p1, p2)`` from ``p_a + p_b`` with ``-t`` drawn by ``invariant``.

    ``forward(r, p_a, p_b, m1, m2) -> (momenta (..., 2, 4), log_w)`` for ``r (..., 2)``
    (``r₀`` → ``-t``, ``r₁`` → azimuth); ``inverse(momenta, p_a, p_b, m1, m2) -> (r, log_w)``.
    """

    invariant: InvariantMap

    def _frame(self, p_a, p_b, m1, m2):
        total = p_a + p_b
        s = mass_squared(total)
        sqrt_s = jnp.sqrt(s)
        a_star = boost_to_rest_frame(p_a, total, sqrt_s)
        pa = momentum_magnitude(a_star)
        p1 = two_body_momentum(s, m1, m2)
        e1 = jnp.sqrt(p1**2 + m1**2)
        # t = m_a² + m1² - 2 E_a E1 + 2 |p_a| |p1| cos θ; -t runs over [u_min, u_max].
        base = 2.0 * a_star[..., 0] * e1 - mass_squared(p_a) - m1**2
        u_min, u_max = base - 2.0 * pa * p1, base + 2.0 * pa * p1
        log_w = -jnp.log(16.0 * jnp.pi * sqrt_s * pa)
        return total, sqrt_s, a_star, pa, p1, e1, base, u_min, u_max, log_w

    def forward(
        self,
        r: Float[Array, "*batch 2"],
        p_a: Float[Array, "*batch 4"],
        p_b: Float[Array, "*batch 4"],
        m1: ArrayLike,
        m2: ArrayLike,
    ) -> tuple[Float[Array, "*batch 2 4"], Float[Array, "*batch"]]:
        r, p_a, p_b, m1, m2 = broadcast_batch((r, 1), (p_a, 1), (p_b, 1), (m1, 0), (m2, 0))
        total, sqrt_s, a_star, pa, p1, e1, base, u_min, u_max, log_w = self._frame(p_a, p_b, m1, m2)
        u, log_w_t = self.invariant.forward(r[..., 0], u_min, u_max)
        cos_theta = (base - u) / (2.0 * pa * p1)
        sin_theta = safe_sqrt(1.0 - cos_theta**2)
        azimuth = 2.0 * jnp.pi * r[..., 1]
        spatial = p1[..., None] * jnp.stack(
            [sin_theta * jnp.cos(azimuth), sin_theta * jnp.sin(azimuth), cos_theta], axis=-1
        )
        e2 = jnp.sqrt(p1**2 + m2**2)
        pair = jnp.stack(
            [
                jnp.concatenate([e1[..., None], spatial], axis=-1),
                jnp.concatenate([e2[..., None], -spatial], axis=-1),
            ],
            axis=-2,
        )
        pair = rotate(pair, rotation_from_z(a_star[..., 1:])[..., None, :, :])
        momenta = boost_from_rest_frame(pair, total[..., None, :], sqrt_s[..., None])
        return momenta, log_w + log_w_t

    def inverse(
        self,
        momenta: Float[Array, "*batch 2 4"],
        p_a: Float[Array, "*batch 4"],
        p_b: Float[Array, "*batch 4"],
        m1: ArrayLike,
        m2: ArrayLike,
    ) -> tuple[Float[Array, "*batch 2"], Float[Array, "*batch"]]:
        total, sqrt_s, a_star, _, _, _, _, u_min, u_max, log_w = self._frame(p_a, p_b, m1, m2)
        u = -mass_squared(p_a - momenta[..., 0, :])
        r_t, log_w_t = self.invariant.inverse(u, u_min, u_max)
        p1_star = boost_to_rest_frame(momenta[..., 0, :], total, sqrt_s)
        aligned = rotate(p1_star, jnp.swapaxes(rotation_from_z(a_star[..., 1:]), -1, -2))
        r_phi = jnp.mod(phi(aligned), 2.0 * jnp.pi) / (2.0 * jnp.pi)
        return jnp.stack([r_t, r_phi], axis=-1), log_w + log_w_t
