"""The Breit–Wigner ⊗ Gaussian MEM toy: a resonance mass measured with a Gaussian detector.

A hard mass ``m`` follows a (non-relativistic) Breit–Wigner — the Cauchy density
``BW(m; M, Γ) = (Γ/2π) / ((m − M)² + Γ²/4)`` on ℝ — and is observed as
``x = m + σ ε`` (``ε`` standard normal); events are kept if ``x`` lies in the window
``[x_lo, x_hi]``. The exact per-event likelihood is the Voigt profile
``V(x − M; σ, Γ/2)`` (Olver et al., NIST DLMF 7.19) normalised over the window,

    L(x | M) = V(x − M; σ, Γ/2) / ∫_{x_lo}^{x_hi} V(x' − M; σ, Γ/2) dx',

the reference of issue 6 (m = 172.5, Γ = 1.32, σ = 10 GeV). In MEM form the hard mass is
reached from ``r ∈ [0, 1]`` by the Breit–Wigner map of the parameters themselves,
``m(r; θ) = M + (Γ/2) tan(π(r − ½))`` (the usual MEM resonance mapping), whose Jacobian
cancels the Breit–Wigner, ``BW(m; M, Γ) · dm/dr = 1``, so

    f(r, x, θ) = N(x; m(r; θ), σ),   σ_fid(θ) = ∫_0^1 dr ε(m(r; θ)),

with the acceptance ``ε(m) = Φ((x_hi − m)/σ) − Φ((x_lo − m)/σ)``. The map moves with ``θ``:
with the points ``r`` held fixed, a change of ``M`` moves every sampled hard mass
(reparametrisation), so ``Î(θ)`` stays smooth on scales far below Γ. (With a map frozen at
a reference ``M₀``, ``Î(M)`` would be a sum of Breit–Wigner spikes in ``M`` centred on the
sampled masses — bumpy on the scale Γ unless ``K ≫ (σ/Γ)²`` points per event.)
Parameters are the dict ``{"mass": M}`` with an optional ``"width": Γ`` (GeV); densities
per GeV.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["BreitWignerGaussian", "BreitWignerOrResolution"]


class BreitWignerGaussian(eqx.Module):
    """The toy (module docstring); the defaults are those of issue 6.

    Attributes:
        mass: reference mass ``M₀`` (GeV): centre of the window and of :meth:`context`.
        width: ``Γ`` (GeV) when ``θ`` has no ``"width"``.
        resolution: Gaussian ``σ`` of the observed mass, GeV.
        window: ``(x_lo, x_hi)`` accepted range of the observed mass, GeV (default
            ``M₀ ± 5σ``).
        n_nodes: midpoint-rule nodes in ``r`` for ``σ_fid`` (the integrand is smooth in ``r``:
            4096 nodes agree with 16384 to 1e-14 for the defaults).
    """

    mass: float = eqx.field(static=True, default=172.5)
    width: float = eqx.field(static=True, default=1.32)
    resolution: float = eqx.field(static=True, default=10.0)
    window: tuple[float, float] = eqx.field(static=True, default=(122.5, 222.5))
    n_nodes: int = eqx.field(static=True, default=1 << 12)

    dim = 1
    """Dimension of the integration (the hard mass)."""

    def hard_mass(self, r: Float[Array, "N 1"], theta: dict) -> Float[Array, " N"]:
        """``m(r; θ) = M + (Γ/2) tan(π(r − ½))`` (GeV); ``Γ`` defaults to :attr:`width`."""
        width = theta.get("width", self.width)
        return theta["mass"] + 0.5 * width * jnp.tan(math.pi * (r[:, 0] - 0.5))

    def integrand(self, r: Float[Array, "N 1"], x: Float[Array, ""], theta: dict) -> Float[Array, " N"]:
        """``f(r, x, θ) = N(x; m(r; θ), σ)`` per GeV of ``x`` (module docstring)."""
        m = self.hard_mass(r, theta)
        return jnp.exp(-0.5 * ((x - m) / self.resolution) ** 2) / (math.sqrt(2 * math.pi) * self.resolution)

    def efficiency(self, m: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        """Probability that the observed mass of a hard mass ``m`` falls in the window."""
        low, high = self.window
        return ndtr((high - m) / self.resolution) - ndtr((low - m) / self.resolution)

    def sigma_fid(self, theta: dict) -> Float[Array, ""]:
        """``∫ dr ε(m(r; θ))`` by the midpoint rule on ``n_nodes`` nodes (dimensionless:
        the accepted fraction)."""
        r = ((jnp.arange(self.n_nodes) + 0.5) / self.n_nodes)[:, None]
        return jnp.mean(self.efficiency(self.hard_mass(r, theta)))

    def defensive_density(self, prior_share: float = 0.5) -> "BreitWignerOrResolution":
        """The density in ``r`` of one factor at a time at the reference ``(M₀, Γ)``
        (:class:`BreitWignerOrResolution`), for a proposal's defensive component."""
        return BreitWignerOrResolution(self, prior_share)

    def context(self, x: Float[Array, ""]) -> Float[Array, " 1"]:
        """Standardised feature ``(x − M₀)/σ`` of an event, for a conditional proposal."""
        return jnp.reshape((x - self.mass) / self.resolution, (1,))

    def generate(self, key: PRNGKeyArray, theta: dict, n: int) -> Float[Array, " n"]:
        """``n`` accepted observed masses at ``θ`` (jittable; draws ``⌈1.2 n⌉ + 20`` and keeps
        the first ``n`` inside the window; fails with ``eqx.error_if`` if too few were)."""
        n_draw = math.ceil(1.2 * n) + 20
        bw_key, noise_key = jax.random.split(key)
        m = self.hard_mass(jax.random.uniform(bw_key, (n_draw, 1)), theta)
        x = m + self.resolution * jax.random.normal(noise_key, (n_draw,))
        low, high = self.window
        inside = (x >= low) & (x <= high)
        (index,) = jnp.nonzero(inside, size=n)
        x = eqx.error_if(x, jnp.sum(inside) < n, "too few accepted events drawn; raise the oversampling")
        return x[index]


class BreitWignerOrResolution(eqx.Module):
    """The hard mass from one factor of the toy's integrand at a time, as a density on the
    Breit–Wigner coordinate ``r = ½ + arctan(2(m − M₀)/Γ₀)/π`` at the reference parameters:
    with probability ``prior_share`` the Breit–Wigner itself (flat in ``r``), otherwise the
    detector resolution around the observed mass, ``m ~ N(x, σ)``. A fixed, event-dependent
    density for a proposal's defensive component (:class:`~diffsim.inference.FlowProposal`).

    In the tails of the observed mass (``|x − M₀| ≳ 2σ``) the integrand in ``r`` has two
    modes, one per factor: a plateau (the hard mass at the peak, weighted by the Gaussian's
    tail) and a sliver ``~ σΓ/(x − M₀)²`` wide at an edge of ``r`` (the hard mass near ``x``).
    This density reaches both. It is
    ``q(r | x) = s + (1 − s) N(m(r); x, σ) · dm/dr`` with ``dm/dr = (πΓ₀/2)(1 + tan²(π(r − ½)))``.

    Attributes: ``toy`` (its ``mass`` ``M₀``, ``width`` ``Γ₀`` and ``resolution`` ``σ``),
    ``prior_share`` ``s`` in ``[0, 1]``.
    """

    toy: BreitWignerGaussian
    prior_share: float = eqx.field(static=True, default=0.5)

    def __check_init__(self):
        if not 0 <= self.prior_share <= 1:
            raise ValueError(f"prior_share must lie in [0, 1], got {self.prior_share}")

    def sample(self, key: PRNGKeyArray, x: Float[Array, ""], n: int) -> Float[Array, "n 1"]:
        """``n`` points ``r (n, 1)`` for the event with observed mass ``x``."""
        dtype = jnp.result_type(float)
        toy = self.toy
        pick_key, prior_key, resolution_key = jax.random.split(key, 3)
        m = x + toy.resolution * jax.random.normal(resolution_key, (n,), dtype=dtype)
        resolution = 0.5 + jnp.arctan(2 * (m - toy.mass) / toy.width) / math.pi
        prior = jax.random.uniform(prior_key, (n,), dtype=dtype)
        return jnp.where(jax.random.uniform(pick_key, (n,)) < self.prior_share, prior, resolution)[:, None]

    def log_prob(self, r: Float[Array, "N 1"], x: Float[Array, ""]) -> Float[Array, " N"]:
        """``log q(r | x)`` of points ``r (N, 1)``."""
        toy = self.toy
        m = toy.hard_mass(r, {"mass": toy.mass})
        z = (m - x) / toy.resolution
        log_dm_dr = math.log(0.5 * math.pi * toy.width) + jnp.log1p((2 * (m - toy.mass) / toy.width) ** 2)
        log_resolution = -0.5 * z**2 - 0.5 * math.log(2 * math.pi) - math.log(toy.resolution) + log_dm_dr
        if self.prior_share == 0:
            return log_resolution
        if self.prior_share == 1:
            return jnp.zeros_like(log_resolution)
        return jnp.logaddexp(math.log(self.prior_share), math.log1p(-self.prior_share) + log_resolution)
