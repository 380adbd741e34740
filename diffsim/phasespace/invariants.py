"""One-dimensional mappings of an invariant (``s`` or ``-t``, GeV²) from the unit interval.

Each map samples ``s ∈ [s_min, s_max]`` from ``r ∈ [0, 1]`` with a density shaped like a
propagator, so that ``∫ ds f(s) = E_r[f(s(r)) · w(r)]`` with ``w = ds/dr``. These are the
importance-sampling blocks of multi-channel integration (MadGraph's ``genps``; Sherpa's
``Channel_Basics``; see also Byckling & Kajantie, *Particle Kinematics*, ch. V):

* :class:`FlatInvariant`: ``s = s_min + r (s_max - s_min)``;
* :class:`BreitWignerInvariant`: density ∝ ``1/((s - M²)² + M²Γ²)`` via ``s = M² + MΓ tan y``;
* :class:`PowerLawInvariant`: density ∝ ``(s - pole)^(-ν)`` for massless propagators
  (``pole = 0`` for an s-channel photon; for ``-t`` of a t-channel propagator of mass ``m``
  use ``pole = -m²``);
* :class:`GaussianInvariant`: a truncated normal density, e.g. a measured mass and its
  resolution in the matrix element method (MoMEMta's transfer-function blocks,
  arXiv:1805.08555);
* :class:`TruncatedInvariant`: another map's density restricted to a sub-range (a
  resonance only where a measurement allows it);
* :class:`MixtureInvariant`: a weighted sum of the densities of other maps, sampled by
  inverting the summed CDF, so that the map stays continuous in ``r`` (a resonance on
  top of a resolution peak, say, with no seam where one density hands over to the other);
* :class:`TabulatedInvariant`: any density given by its values at nodes, interpolated
  linearly in ``log q``: a product of factors (a resonance times a resolution, say) that
  no closed-form map samples.

``forward(r, s_min, s_max) -> (s, log_w)``; ``inverse(s, s_min, s_max) -> (r, log_w)``
returns the same ``log_w = log(ds/dr)`` evaluated at the point, so a sample's weight is
available in either direction. Mass, width and pole are leaves: gradients reach them.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri
from jaxtyping import Array, ArrayLike, Float

__all__ = [
    "BreitWignerInvariant",
    "FlatInvariant",
    "GaussianInvariant",
    "InvariantMap",
    "MixtureInvariant",
    "PowerLawInvariant",
    "TabulatedInvariant",
    "TruncatedInvariant",
]

Scalar = Float[Array, "*batch"]


class InvariantMap(eqx.Module):
    """Interface: a bijection ``[0, 1] → [s_min, s_max]`` with weight ``ds/dr``."""

    def forward(self, r: Scalar, s_min: ArrayLike, s_max: ArrayLike) -> tuple[Scalar, Scalar]:
        """Map ``r ∈ [0, 1]`` to ``s`` (GeV²); returns ``(s, log(ds/dr))``."""
        raise NotImplementedError

    def inverse(self, s: Scalar, s_min: ArrayLike, s_max: ArrayLike) -> tuple[Scalar, Scalar]:
        """Map ``s`` back to ``r``; returns ``(r, log(ds/dr))`` at that point."""
        raise NotImplementedError


class FlatInvariant(InvariantMap):
    """Uniform sampling of ``s`` in ``[s_min, s_max]``; weight ``s_max - s_min``."""

    def forward(self, r, s_min, s_max):
        width = s_max - s_min
        return s_min + r * width, jnp.log(width) * jnp.ones_like(r)

    def inverse(self, s, s_min, s_max):
        width = s_max - s_min
        return (s - s_min) / width, jnp.log(width) * jnp.ones_like(s)


class BreitWignerInvariant(InvariantMap):
    """Breit–Wigner (arctan) mapping for a massive s-channel propagator.

    ``s = M² + MΓ tan y`` with ``y`` uniform in ``[y(s_min), y(s_max)]``,
    ``y(s) = arctan((s - M²)/(MΓ))``; the weight is
    ``ds/dr = (y_max - y_min) ((s - M²)² + M²Γ²)/(MΓ)``, exactly the inverse of the
    normalised Breit–Wigner density. ``mass`` and ``width`` in GeV (``width > 0``).
    """

    mass: Float[Array, ""] | float
    width: Float[Array, ""] | float

    def _angles(self, s_min, s_max):
        m2, mg = self.mass**2, self.mass * self.width
        return jnp.arctan((s_min - m2) / mg), jnp.arctan((s_max - m2) / mg)

    def _log_weight(self, s, y_min, y_max):
        m2, mg = self.mass**2, self.mass * self.width
        return jnp.log(y_max - y_min) + jnp.log(((s - m2) ** 2 + mg**2) / mg)

    def forward(self, r, s_min, s_max):
        y_min, y_max = self._angles(s_min, s_max)
        y = y_min + r * (y_max - y_min)
        s = self.mass**2 + self.mass * self.width * jnp.tan(y)
        return s, self._log_weight(s, y_min, y_max)

    def inverse(self, s, s_min, s_max):
        y_min, y_max = self._angles(s_min, s_max)
        y = jnp.arctan((s - self.mass**2) / (self.mass * self.width))
        return (y - y_min) / (y_max - y_min), self._log_weight(s, y_min, y_max)


class PowerLawInvariant(InvariantMap):
    """Power-law mapping with density ∝ ``(s - pole)^(-ν)`` on ``[s_min, s_max]``.

    With ``a = s_min - pole``, ``b = s_max - pole`` (both > 0) and ``ν ≠ 1``:
    ``s - pole = (a^(1-ν) + r (b^(1-ν) - a^(1-ν)))^(1/(1-ν))``; for ``ν = 1`` the map is
    logarithmic, ``s - pole = a (b/a)^r``. The weight is
    ``ds/dr = (s - pole)^ν (b^(1-ν) - a^(1-ν))/(1-ν)`` (``(s - pole) ln(b/a)`` for ν = 1).
    ``nu`` is a static tuning exponent (MadGraph and Sherpa use values near 1);
    ``pole`` (GeV²) is a differentiable leaf.
    """

    nu: float = eqx.field(static=True, default=1.0)
    pole: Float[Array, ""] | float = 0.0

    def _normalisation(self, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        if self.nu == 1.0:
            return jnp.log(b / a)
        return (b ** (1.0 - self.nu) - a ** (1.0 - self.nu)) / (1.0 - self.nu)

    def forward(self, r, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        if self.nu == 1.0:
            x = a * (b / a) ** r
        else:
            e = 1.0 - self.nu
            x = (a**e + r * (b**e - a**e)) ** (1.0 / e)
        log_w = self.nu * jnp.log(x) + jnp.log(self._normalisation(s_min, s_max))
        return self.pole + x, log_w

    def inverse(self, s, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        x = s - self.pole
        if self.nu == 1.0:
            r = jnp.log(x / a) / jnp.log(b / a)
        else:
            e = 1.0 - self.nu
            r = (x**e - a**e) / (b**e - a**e)
        log_w = self.nu * jnp.log(x) + jnp.log(self._normalisation(s_min, s_max))
        return r, log_w


class GaussianInvariant(InvariantMap):
    """Normal density of ``s`` with mean ``centre`` and standard deviation ``width``
    (both GeV², ``width > 0``), truncated to ``[s_min, s_max]``.

    ``s = c + σ Φ⁻¹(Φ(a) + r (Φ(b) − Φ(a)))`` with ``a, b = (s_min − c)/σ, (s_max − c)/σ``
    and ``Φ`` the standard normal CDF; the weight is
    ``ds/dr = σ √(2π) exp(z²/2) (Φ(b) − Φ(a))`` at ``z = (s − c)/σ``. The CDF is evaluated
    directly, so a range lying entirely beyond about 8 σ on the upper side loses precision
    (``Φ`` rounds to 1 there); use it for peaks inside or near the range.
    """

    centre: Float[Array, "*batch"] | float
    width: Float[Array, "*batch"] | float

    def _bounds(self, s_min, s_max):
        return ndtr((s_min - self.centre) / self.width), ndtr((s_max - self.centre) / self.width)

    def _log_weight(self, s, low, high):
        z = (s - self.centre) / self.width
        return jnp.log(self.width * (high - low)) + 0.5 * z**2 + 0.5 * math.log(2 * math.pi)

    def forward(self, r, s_min, s_max):
        low, high = self._bounds(s_min, s_max)
        s = self.centre + self.width * ndtri(low + r * (high - low))
        return s, self._log_weight(s, low, high)

    def inverse(self, s, s_min, s_max):
        low, high = self._bounds(s_min, s_max)
        return (ndtr((s - self.centre) / self.width) - low) / (high - low), self._log_weight(s, low, high)


class TruncatedInvariant(InvariantMap):
    """The density of ``base`` restricted to ``[lower, upper] ∩ [s_min, s_max]`` (GeV²) and
    renormalised there; zero outside (``inverse`` then gives ``r`` clipped to 0 or 1 and
    ``log_w = +∞``). ``forward`` is ``base.forward`` on the intersection, which must not
    be empty. As a component of :class:`MixtureInvariant` it keeps a narrow resonance from
    spending points in tails that another factor of the integrand (a resolution) cuts off.
    """

    base: InvariantMap
    lower: Float[Array, "*batch"] | float
    upper: Float[Array, "*batch"] | float

    def _range(self, s_min, s_max):
        return jnp.maximum(s_min, self.lower), jnp.minimum(s_max, self.upper)

    def forward(self, r, s_min, s_max):
        return self.base.forward(r, *self._range(s_min, s_max))

    def inverse(self, s, s_min, s_max):
        low, high = self._range(s_min, s_max)
        inside = (s >= low) & (s <= high)
        r, log_w = self.base.inverse(jnp.clip(s, low, high), low, high)
        return jnp.clip(r, 0.0, 1.0), jnp.where(inside, log_w, jnp.inf)


class MixtureInvariant(InvariantMap):
    """Density ``q(s) = Σ_c a_c q_c(s)`` of component maps ``q_c`` (each normalised on
    ``[s_min, s_max]``) with shares ``a_c ≥ 0`` summing to 1.

    ``forward`` solves ``F(s) = Σ_c a_c r_c(s) = r`` for ``s``, with ``r_c(s)`` the
    components' inverses (their CDFs): :data:`BISECTIONS` bisection steps on the range
    (``F`` is monotone), then :data:`NEWTON_STEPS` Newton steps ``s ← s − (F(s) − r)/q(s)``
    to rounding precision. The map is continuous in ``r`` (unlike choosing a component by
    cutting ``r`` at ``a_1``), so a pathwise gradient through it, as in flow training,
    sees every point move smoothly. Derivatives come from the implicit function theorem:
    the last Newton step is taken from a point held fixed, which gives ``ds/dr = 1/q(s)``
    and ``ds/dθ = −(∂F/∂θ)/q(s)`` for the components' parameters ``θ`` exactly at the
    solution, without differentiating through the iterations. The weight is
    ``ds/dr = 1/q(s)``.
    """

    components: tuple[InvariantMap, ...]
    shares: Float[Array, " n_components"]

    BISECTIONS = 40
    """Halve the range ``s_max − s_min`` this often: 2⁻⁴⁰ of it, inside Newton's quadratic basin."""
    NEWTON_STEPS = 3

    def __init__(self, components: Sequence[InvariantMap], shares: ArrayLike):
        self.components = tuple(components)
        self.shares = jnp.asarray(shares)
        if self.shares.shape != (len(self.components),):
            raise ValueError(f"need one share per component ({len(self.components)}), got shape {self.shares.shape}")

    def _cdf_and_log_density(self, s, s_min, s_max):
        """``(F(s), log q(s))``."""
        cdfs, log_ws = zip(*(c.inverse(s, s_min, s_max) for c in self.components))
        shares = self.shares.reshape((-1,) + (1,) * jnp.ndim(s))
        cdf = jnp.sum(shares * jnp.stack(cdfs), 0)
        log_density = jax.nn.logsumexp(-jnp.stack(log_ws), axis=0, b=shares)
        return cdf, log_density

    def forward(self, r, s_min, s_max):
        r = jnp.asarray(r)
        mixture, target, low, high = jax.lax.stop_gradient((self, r, s_min, s_max))

        def bisect(_, bracket):
            below, above = bracket
            middle = 0.5 * (below + above)
            left = mixture._cdf_and_log_density(middle, low, high)[0] < target
            return jnp.where(left, middle, below), jnp.where(left, above, middle)

        bracket = (jnp.full(r.shape, low, r.dtype), jnp.full(r.shape, high, r.dtype))
        s = 0.5 * sum(jax.lax.fori_loop(0, self.BISECTIONS, bisect, bracket))
        for _ in range(self.NEWTON_STEPS):
            cdf, log_density = mixture._cdf_and_log_density(s, low, high)
            s = jnp.clip(s - (cdf - target) * jnp.exp(-log_density), low, high)
        cdf, log_density = self._cdf_and_log_density(s, s_min, s_max)
        s = s - (cdf - r) * jax.lax.stop_gradient(jnp.exp(-log_density))
        return s, -self._cdf_and_log_density(s, s_min, s_max)[1]

    def inverse(self, s, s_min, s_max):
        cdf, log_density = self._cdf_and_log_density(s, s_min, s_max)
        return cdf, -log_density


class TabulatedInvariant(InvariantMap):
    """Density ``q(s)`` given by its logarithm at increasing ``nodes`` (GeV²) and linear in
    ``log q`` between them (exponential on each segment), normalised on
    ``[nodes₀, nodes_K] ∩ [s_min, s_max]`` and zero outside.

    The map is exact for that interpolated density, whatever the nodes: on a segment of
    length ``L`` with ``log q`` rising by ``c``, the share ``t`` of its mass lies below
    ``ξ L`` with ``ξ = log(1 + t (eᶜ − 1))/c`` (``ξ = t`` as ``c → 0``), written with
    ``expm1``/``log1p`` from the segment's lower-density end so that no exponential
    overflows. ``q`` is continuous, so ``s(r)`` is continuously differentiable in ``r``
    (no seam for a pathwise gradient); the weight is ``ds/dr = 1/q(s)``. Tabulate a
    target density densely enough that ``log q`` is near linear between nodes (half a
    standard deviation of a normal factor, say): the interpolation error costs variance,
    never bias. Repeated nodes are allowed (an empty segment has no mass).

    Attributes:
        nodes: ``(K,)`` increasing positions (GeV²), ``K ≥ 2`` (one table; ``jax.vmap``
            over tables, one per event, say).
        log_density: ``(K,)`` unnormalised ``log q`` at the nodes (finite).
    """

    nodes: Float[Array, " K"]
    log_density: Float[Array, " K"]

    def __init__(self, nodes: ArrayLike, log_density: ArrayLike):
        self.nodes, self.log_density = jnp.asarray(nodes), jnp.asarray(log_density)
        if self.nodes.ndim != 1 or self.nodes.shape != self.log_density.shape or self.nodes.shape[0] < 2:
            raise ValueError(f"need one-dimensional nodes and log densities of one shape, at least two nodes; "
                             f"got shapes {self.nodes.shape} and {self.log_density.shape}")

    def _segments(self, s_min, s_max):
        """Nodes clipped to the range, ``log q`` there (shifted by its maximum), segment
        lengths ``L``, rises ``c`` and masses, and the cumulative masses ``(K,)``."""
        x = jnp.clip(self.nodes, s_min, s_max)
        log_q = jnp.interp(x, self.nodes, self.log_density)
        log_q = log_q - jax.lax.stop_gradient(jnp.max(log_q))  # cancels in every result
        length, rise = jnp.diff(x), jnp.diff(log_q)
        # ∫ = L e^{q_a} (eᶜ − 1)/c = L e^{(q_a + q_b)/2} sinh(c/2)/(c/2): even in c, smooth at c = 0.
        mass = length * jnp.exp(0.5 * (log_q[1:] + log_q[:-1]) + _log_sinhc(0.5 * jnp.abs(rise)))
        return x, log_q, length, rise, mass, jnp.concatenate([jnp.zeros(1, mass.dtype), jnp.cumsum(mass)])

    def forward(self, r, s_min, s_max):
        x, log_q, length, rise, mass, cumulative = self._segments(s_min, s_max)
        u = r * cumulative[-1]
        k = jnp.clip(jnp.searchsorted(cumulative, u, side="right") - 1, 0, length.shape[-1] - 1)
        share = jnp.clip((u - cumulative[k]) / jnp.where(mass[k] > 0, mass[k], 1.0), 0.0, 1.0)
        c = rise[k]
        rising = c > 0
        # From the lower-density end: the segment's mass share t below ξ, with c ≤ 0 there
        # (for |c| → 0 the series in the signed c, so derivatives in c survive at c = 0).
        fraction = _log1p_ratio(jnp.where(rising, 1 - share, share), -jnp.abs(c))
        xi = jnp.where(jnp.abs(c) < SMALL_RISE, share * (1 + 0.5 * c * (1 - share)),
                       jnp.where(rising, 1 - fraction, fraction))
        s = x[k] + xi * length[k]
        return s, jnp.log(cumulative[-1]) - (log_q[k] + c * xi)

    def inverse(self, s, s_min, s_max):
        x, log_q, length, rise, mass, cumulative = self._segments(s_min, s_max)
        inside = (s >= x[0]) & (s <= x[-1])
        s = jnp.clip(s, x[0], x[-1])
        k = jnp.clip(jnp.searchsorted(x, s, side="right") - 1, 0, length.shape[-1] - 1)
        xi = jnp.clip((s - x[k]) / jnp.where(length[k] > 0, length[k], 1.0), 0.0, 1.0)
        c = rise[k]
        rising = c > 0
        # Mass share below ξ from the lower-density end (so c ≤ 0 there; for |c| → 0 the
        # series in the signed c, so derivatives in c survive at c = 0).
        fraction = _expm1_ratio(jnp.where(rising, 1 - xi, xi), -jnp.abs(c))
        share = jnp.where(jnp.abs(c) < SMALL_RISE, xi * (1 + 0.5 * c * (xi - 1)),
                          jnp.where(rising, 1 - fraction, fraction))
        r = (cumulative[k] + share * mass[k]) / cumulative[-1]
        log_w = jnp.log(cumulative[-1]) - (log_q[k] + c * xi)
        return r, jnp.where(inside, log_w, jnp.inf)


SMALL_RISE = 1e-8
"""Below this rise of ``log q`` across a segment, its formulas are taken to first order in it."""


def _log_sinhc(y):
    """``log(sinh y / y)`` for ``y ≥ 0`` without overflow (``y²/6`` near 0)."""
    small = y < 1e-3
    safe = jnp.where(small, 1.0, y)
    return jnp.where(small, y**2 / 6, safe + jnp.log1p(-jnp.exp(-2 * safe)) - jnp.log(2 * safe))


def _expm1_ratio(xi, c):
    """``t = expm1(c ξ)/expm1(c)`` for ``c < 0``: the share of a segment's mass below ``ξ``
    for density ``∝ e^{c ξ}``, the inverse of :func:`_log1p_ratio` (callers take
    ``|c| <`` :data:`SMALL_RISE` apart)."""
    safe = jnp.where(jnp.abs(c) < SMALL_RISE, -1.0, c)
    return jnp.expm1(safe * xi) / jnp.expm1(safe)


def _log1p_ratio(t, c):
    """``ξ = log(1 + t (eᶜ − 1))/c`` for ``c < 0``: where the share ``t`` of a segment's
    mass ends, for density ``∝ e^{c ξ}`` (callers take ``|c| <`` :data:`SMALL_RISE` apart)."""
    safe = jnp.where(jnp.abs(c) < SMALL_RISE, -1.0, c)
    return jnp.log1p(t * jnp.expm1(safe)) / safe
