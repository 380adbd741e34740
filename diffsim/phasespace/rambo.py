"""n-body phase space by "RAMBO on diet" (S. Plätzer, arXiv:1308.2922).

Massless momenta come from ``3n - 4`` numbers as a chain of two-body decays
``Q₁ → p₁ Q₂ → p₁ p₂ Q₃ → …`` whose intermediate masses ``M_i`` are drawn so that the
massless weight is flat (Plätzer, eqs. (6)–(11)). For step ``i = 2 … n-1`` with
``k = n - i + 1`` particles left, ``v = M_i²/M_{i-1}²`` has cumulative distribution
``F_k(v) = k v^(k-1) - (k-1) v^k`` and ``F_k(v) = r``. The massless weight is the total
volume

    Φ_n = (2π)^(4-3n) (π/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!).

Massive momenta follow by the RAMBO reshuffling (Kleiss, Stirling & Ellis, Comput. Phys.
Commun. 40 (1986) 359): in the centre-of-mass frame ``k⃗_i = ξ q⃗_i``,
``k⁰_i = sqrt(m_i² + ξ² q⁰_i²)`` with ``Σ k⁰_i = √s``, which multiplies the weight by

    w_m = ξ^(2n-3) Π_i (|k⃗_i| / k⁰_i) · √s / Σ_i (|k⃗_i|² / k⁰_i).

The inverse is closed form (``ξ = Σ |k⃗_i| / √s``), so the mapping is a bijection.

Weight convention: ``∫ dΦ_n f = E_r[f(p(r)) w(r)]`` with MadGraph's
``dΦ_n = (2π)^(4-3n) δ⁴(P - Σ p_i) Π d³p_i/(2E_i)``.
Random-number layout: ``r[..., :n-2]`` are the mass ratios, then one ``(cos θ, φ)`` pair
per step (``r[..., n-2+2j : n+2j]`` for step ``j = 0 … n-2``), angles as in
:func:`diffsim.phasespace.twobody.direction_from_unit_square`.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffsim.kinematics import (
    boost_from_rest_frame,
    boost_to_rest_frame,
    mass_squared,
    momentum_magnitude,
)
from diffsim.phasespace.batching import broadcast_batch
from diffsim.phasespace.twobody import (
    direction_from_unit_square,
    unit_square_from_direction,
)

__all__ = ["RamboOnDiet", "massless_volume"]

BISECTION_STEPS = 64
RESHUFFLE_NEWTON_STEPS = 40


def massless_volume(n: int, s: ArrayLike) -> Float[Array, "*batch"]:
    """Total massless n-body phase-space volume Φ_n at ``s`` (GeV²), MadGraph convention."""
    return jnp.exp(_log_massless_volume(n, jnp.asarray(s)))


def _log_massless_volume(n, s):
    constant = (
        (4 - 3 * n) * math.log(2 * math.pi)
        + (n - 1) * math.log(math.pi / 2)
        - math.lgamma(n)
        - math.lgamma(n - 1)
    )
    return constant + (n - 2) * jnp.log(s)


def _mass_ratio_cdf(v, k):
    return k * v ** (k - 1) - (k - 1) * v**k


def _solve_mass_ratio(r, k):
    """Solve ``F_k(v) = r`` for ``v ∈ [0, 1]``.

    Bisection on the stopped-gradient ``r``, then one Newton step carrying the gradient:
    its derivative is the implicit ``dv/dr = 1/F_k'(v)``. Where ``F_k'(v)`` vanishes
    (``r ∈ {0, 1}``, measure zero) the derivative is set to zero instead of infinity.
    """
    target = jax.lax.stop_gradient(r)

    def bisect(_, bounds):
        low, high = bounds
        middle = 0.5 * (low + high)
        below = _mass_ratio_cdf(middle, k) < target
        return jnp.where(below, middle, low), jnp.where(below, high, middle)

    low, high = jax.lax.fori_loop(
        0, BISECTION_STEPS, bisect, (jnp.zeros_like(target), jnp.ones_like(target))
    )
    v = jax.lax.stop_gradient(0.5 * (low + high))
    slope = k * (k - 1) * v ** (k - 2) * (1.0 - v)
    regular = slope > 0
    step = (_mass_ratio_cdf(v, k) - r) / jnp.where(regular, slope, 1.0)
    return v - jnp.where(regular, step, 0.0)


class RamboOnDiet(eqx.Module):
    """Invertible n-body phase space with ``3n - 4`` random numbers and exact weights.

    ``masses`` (GeV, shape ``(n,)``) is a leaf, so gradients w.r.t. masses flow through
    momenta and weights. ``forward(r, p_total) -> (momenta (..., n, 4), log_w)`` generates
    the momenta in the frame where ``p_total`` (``(..., 4)``) is given;
    ``inverse(momenta) -> (r, log_w)``. See the module docstring for conventions.
    """

    masses: Float[Array, " n"]

    def __init__(self, masses: ArrayLike):
        masses = jnp.asarray(masses)
        if masses.ndim != 1 or masses.shape[0] < 2:
            raise ValueError(f"RamboOnDiet needs a 1-d array of n >= 2 masses, got shape {masses.shape}")
        if not jnp.issubdtype(masses.dtype, jnp.floating):
            masses = masses.astype(jnp.result_type(float))
        self.masses = masses

    @property
    def n_particles(self) -> int:
        return self.masses.shape[0]

    @property
    def n_random(self) -> int:
        """Number of unit-hypercube coordinates, ``3n - 4``."""
        return 3 * self.n_particles - 4

    def _check_random(self, r):
        if r.shape[-1] != self.n_random:
            raise ValueError(
                f"RamboOnDiet with {self.n_particles} particles needs r[..., {self.n_random}], "
                f"got shape {r.shape}"
            )

    def _massless_rest_frame(self, r, sqrt_s):
        n = self.n_particles
        m_previous = sqrt_s
        zeros = jnp.zeros_like(sqrt_s)
        q_previous = jnp.stack([sqrt_s, zeros, zeros, zeros], axis=-1)
        momenta = []
        for step in range(n - 1):
            if step < n - 2:
                m_next = m_previous * jnp.sqrt(_solve_mass_ratio(r[..., step], n - step - 1))
            else:
                m_next = zeros
            q = (m_previous**2 - m_next**2) / (2.0 * m_previous)
            direction = direction_from_unit_square(r[..., n - 2 + 2 * step : n + 2 * step]) * q[..., None]
            emitted = jnp.concatenate([q[..., None], direction], axis=-1)
            rest = jnp.concatenate([jnp.sqrt(q**2 + m_next**2)[..., None], -direction], axis=-1)
            momenta.append(boost_from_rest_frame(emitted, q_previous, m_previous))
            q_previous = boost_from_rest_frame(rest, q_previous, m_previous)
            m_previous = m_next
        momenta.append(q_previous)
        return jnp.stack(momenta, axis=-2)

    def _reshuffle_log_weight(self, massive, xi, sqrt_s):
        n = self.n_particles
        magnitude = momentum_magnitude(massive)
        energy = massive[..., 0]
        return (
            (2 * n - 3) * jnp.log(xi)
            + jnp.sum(jnp.log(magnitude / energy), axis=-1)
            + jnp.log(sqrt_s / jnp.sum(magnitude**2 / energy, axis=-1))
        )

    def _solve_xi(self, energies, sqrt_s):
        """Solve ``Σ sqrt(m_i² + ξ² E_i²) = √s`` by Newton from above (monotone), then
        one differentiable Newton step giving the implicit-function gradient."""
        m2 = self.masses**2

        def excess(xi, e):
            return jnp.sum(jnp.sqrt(m2 + (xi[..., None] * e) ** 2), axis=-1) - sqrt_s

        def slope(xi, e):
            return jnp.sum(xi[..., None] * e**2 / jnp.sqrt(m2 + (xi[..., None] * e) ** 2), axis=-1)

        e_fixed = jax.lax.stop_gradient(energies)
        start = jnp.sqrt(1.0 - (jnp.sum(self.masses) / sqrt_s) ** 2)

        def newton(_, xi):
            return xi - excess(xi, e_fixed) / slope(xi, e_fixed)

        xi = jax.lax.stop_gradient(jax.lax.fori_loop(0, RESHUFFLE_NEWTON_STEPS, newton, start))
        return xi - excess(xi, energies) / slope(xi, energies)

    def forward(
        self, r: Float[Array, "*batch r"], p_total: Float[Array, "*batch 4"]
    ) -> tuple[Float[Array, "*batch n 4"], Float[Array, "*batch"]]:
        """Momenta ``(..., n, 4)`` and ``log w`` for unit-hypercube points ``r``."""
        r = jnp.asarray(r)
        self._check_random(r)
        r, p_total = broadcast_batch((r, 1), (p_total, 1))
        s = mass_squared(p_total)
        sqrt_s = jnp.sqrt(s)
        massless = self._massless_rest_frame(r, sqrt_s)
        xi = self._solve_xi(massless[..., 0], sqrt_s)
        spatial = xi[..., None, None] * massless[..., 1:]
        energy = jnp.sqrt(self.masses**2 + jnp.sum(spatial**2, axis=-1))
        massive = jnp.concatenate([energy[..., None], spatial], axis=-1)
        log_w = _log_massless_volume(self.n_particles, s) + self._reshuffle_log_weight(
            massive, xi, sqrt_s
        )
        momenta = boost_from_rest_frame(massive, p_total[..., None, :], sqrt_s[..., None])
        return momenta, log_w

    def inverse(
        self, momenta: Float[Array, "*batch n 4"]
    ) -> tuple[Float[Array, "*batch r"], Float[Array, "*batch"]]:
        """Unit-hypercube point ``(..., 3n-4)`` and ``log w`` of momenta ``(..., n, 4)``."""
        n = self.n_particles
        if momenta.shape[-2:] != (n, 4):
            raise ValueError(f"RamboOnDiet.inverse expects momenta[..., {n}, 4], got {momenta.shape}")
        p_total = jnp.sum(momenta, axis=-2)
        s = mass_squared(p_total)
        sqrt_s = jnp.sqrt(s)
        massive = boost_to_rest_frame(momenta, p_total[..., None, :], sqrt_s[..., None])
        magnitude = momentum_magnitude(massive)
        xi = jnp.sum(magnitude, axis=-1) / sqrt_s
        massless = jnp.concatenate([magnitude[..., None], massive[..., 1:]], axis=-1) / xi[..., None, None]
        log_w = _log_massless_volume(n, s) + self._reshuffle_log_weight(massive, xi, sqrt_s)

        mass_numbers, angle_numbers = [], []
        remaining = jnp.cumsum(massless[..., ::-1, :], axis=-2)[..., ::-1, :]
        for step in range(n - 1):
            parent = remaining[..., step, :]
            if step < n - 2:
                ratio = mass_squared(remaining[..., step + 1, :]) / mass_squared(parent)
                mass_numbers.append(_mass_ratio_cdf(ratio, n - step - 1))
            emitted = boost_to_rest_frame(massless[..., step, :], parent)
            angle_numbers.append(unit_square_from_direction(emitted))
        parts = [jnp.stack(mass_numbers, axis=-1)] if mass_numbers else []
        r = jnp.concatenate(parts + angle_numbers, axis=-1)
        return r, log_w
