"""The integrand protocol of the neural importance samplers: one function per channel.

A multi-channel integral (MadNIS, arXiv:2212.06172, eq. 3) splits ``I = ∫ f(x) dx`` with
channel weights ``α_c(x)`` (``Σ_c α_c = 1``) into ``I = Σ_c ∫ α_c(x) f(x) dx`` and maps each
term from the unit hypercube with its own phase-space mapping ``x = G_c(r)``:

    I_c = ∫ dr  α_c(G_c(r)) · f(G_c(r)) · |∂G_c/∂r|.

A *channel integrand* is anything with ``n_channels``, ``dim`` and a method
``channel_integrand(c, r) -> ChannelPoint`` giving, for a static channel index ``c`` and
points ``r (N, dim)`` in ``[0, 1]^dim``, the mapped weight ``f·|J_c| (N,)``, the prior
channel weights ``(N, n_channels)`` (normalised, e.g. single-diagram squares
``|M_c|²/Σ_j |M_j|²``) and a feature vector ``(N, k)`` of the point for a channel-weight
network. :class:`SingleChannel` adapts a plain integrand ``f(r) -> (N,)`` on the unit
hypercube (one channel, identity mapping, prior 1).

A channel integrand may also have ``channel_integrands(channels, rs) -> tuple[ChannelPoint]``
evaluating several channels at once (the hadronic one runs its amplitudes once on all
points); :func:`channel_points` uses it when present.

:class:`EdgeMapped` composes a fixed change of variables into every channel of such an
integrand, so that the density a sampler must learn vanishes at the cube's faces like a
power, as parton luminosities do at ``x → 1`` (a spline flow's density stays finite at its
boundary, and points there carry weights near zero).
"""

from collections.abc import Callable, Mapping, Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.kernel_compilation import uses_amplitude_kernels

__all__ = ["ChannelPoint", "EdgeMapped", "SingleChannel", "channel_points"]


class ChannelPoint(eqx.Module):
    """What one channel of a multi-channel integrand returns for ``N`` points.

    ``weight (N,)``: ``f(G_c(r))·|∂G_c/∂r|`` (the integrand's unit, e.g. pb);
    ``prior (N, C)``: prior channel weights at ``G_c(r)``, each row summing to 1;
    ``features (N, k)``: inputs of the channel-weight network (order one numbers).
    """

    weight: Float[Array, " N"]
    prior: Float[Array, "N C"]
    features: Float[Array, "N k"]


class SingleChannel(eqx.Module):
    """A plain integrand ``f(r (N, dim)) -> (N,)`` on ``[0, 1]^dim`` as a one-channel integrand."""

    integrand: Callable
    dim: int = eqx.field(static=True)

    @property
    def n_channels(self) -> int:
        """Always 1."""
        return 1

    @property
    def amplitude_kernels(self) -> bool:
        """Whether the wrapped function's amplitude kernels dominate it."""
        return uses_amplitude_kernels(self.integrand)

    def channel_integrand(self, c: int, r: Float[Array, "N dim"]) -> ChannelPoint:
        """``f(r)`` with prior 1 and the point itself as features (``c`` must be 0)."""
        if c != 0:
            raise ValueError(f"a single-channel integrand has only channel 0, got {c}")
        weight = self.integrand(r)
        return ChannelPoint(weight, jnp.ones_like(weight)[:, None], r)


def channel_points(integrand, channels: Sequence[int], rs: Sequence[Float[Array, "N_i dim"]]) -> tuple[ChannelPoint, ...]:
    """``integrand.channel_integrand(c, r)`` for each pair of ``channels`` and ``rs``, in one
    call of ``integrand.channel_integrands`` where the integrand has it (module docstring)."""
    if hasattr(integrand, "channel_integrands"):
        return tuple(integrand.channel_integrands(tuple(channels), tuple(rs)))
    return tuple(integrand.channel_integrand(c, r) for c, r in zip(channels, rs))


class EdgeMapped(eqx.Module):
    """A channel integrand seen through Kumaraswamy maps of some of its coordinates.

    Each mapped coordinate ``r_i`` of the wrapped integrand is drawn from the Kumaraswamy
    density ``q(r) = a b r^{a−1} (1 − r^a)^{b−1}`` with ``a = p₀ + 1``, ``b = p₁ + 1``
    (Kumaraswamy 1980, J. Hydrol. 46, 79): the new coordinate is its CDF
    ``t = 1 − (1 − r^a)^b``, inverted in closed form as ``r = (1 − (1 − t)^{1/b})^{1/a}``,
    and every channel's weight is multiplied by ``1/q(r) = ∂r/∂t``. The integral is
    unchanged; a sampler working in ``t`` sees the integrand divided by ``q``, which vanishes
    like ``r^{p₀}`` at ``r → 0`` and like ``(1 − r)^{p₁}`` at ``r → 1``. Where the integrand
    itself vanishes like a power at a face (e.g. ``(1 − x₁)^β`` of the parton densities with
    ``x₁ = τ^{r}``), this removes most of that behaviour before training: a spline flow
    cannot make its density vanish at its boundary, so without the map the points it puts
    there carry weights near zero. Give a face a power only where the integrand vanishes at
    least that fast; otherwise the weights grow without bound there.

    ``t`` is clipped to ``[ε, 1 − ε]`` (``ε`` the machine epsilon of its dtype), so that
    faces hit exactly (possible for float32 flow samples) give finite weights; this changes
    the integral by at most ``2ε`` times the largest weight within ``ε`` of a face.
    Points drawn for this integrand live in ``t``; :meth:`forward` maps them to the wrapped
    integrand's ``r``, and :meth:`mapped_events` adapts an event builder to them.

    Args:
        integrand: any channel integrand (module docstring).
        powers: ``{coordinate: p}`` (both faces) or ``{coordinate: (p₀, p₁)}`` (the faces
            ``r = 0`` and ``r = 1``), each power ``> −1`` (``0`` leaves a face as it is).
    """

    integrand: object
    dims: tuple[int, ...] = eqx.field(static=True)
    powers: tuple[tuple[float, float], ...] = eqx.field(static=True)

    def __init__(self, integrand, powers: Mapping[int, float | tuple[float, float]]):
        dims = tuple(int(i) for i in powers)
        if not dims or not all(0 <= i < integrand.dim for i in dims):
            raise ValueError(f"powers must name coordinates in [0, {integrand.dim}), got {tuple(powers)}")
        pairs = tuple(tuple(map(float, p)) if isinstance(p, Sequence) else (float(p), float(p)) for p in powers.values())
        if not all(len(pair) == 2 and min(pair) > -1 for pair in pairs):
            raise ValueError(f"each power must be a number or a pair of numbers above -1, got {tuple(powers.values())}")
        self.integrand, self.dims, self.powers = integrand, dims, pairs

    def _shapes(self, dtype) -> tuple[Array, Array]:
        """Kumaraswamy ``a, b`` per mapped coordinate, ``(k,)`` each."""
        return tuple(jnp.asarray([pair[face] + 1.0 for pair in self.powers], dtype) for face in (0, 1))

    @staticmethod
    def _log_density(r, a, b):
        """``log q(r)`` of the Kumaraswamy density, elementwise ``(N, k)``."""
        return jnp.log(a * b) + (a - 1) * jnp.log(r) + (b - 1) * jnp.log1p(-(r**a))

    @property
    def n_channels(self) -> int:
        """The wrapped integrand's number of channels."""
        return self.integrand.n_channels

    @property
    def dim(self) -> int:
        """The wrapped integrand's dimension."""
        return self.integrand.dim

    @property
    def amplitude_kernels(self) -> bool:
        """Whether the wrapped integrand's amplitude kernels dominate it."""
        return uses_amplitude_kernels(self.integrand)

    def forward(self, t: Float[Array, "N dim"]) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """``t → r`` and ``log|∂r/∂t|`` per point (the sum over the mapped coordinates)."""
        a, b = self._shapes(t.dtype)
        eps = jnp.finfo(t.dtype).eps
        mapped = jnp.clip(t[:, self.dims], eps, 1 - eps)
        r = jnp.exp(jnp.log(-jnp.expm1(jnp.log1p(-mapped) / b)) / a)
        return t.at[:, self.dims].set(r), -jnp.sum(self._log_density(r, a, b), axis=1)

    def inverse(self, r: Float[Array, "N dim"]) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """``r → t`` and ``log|∂t/∂r|`` per point."""
        a, b = self._shapes(r.dtype)
        mapped = r[:, self.dims]
        t = -jnp.expm1(b * jnp.log1p(-(mapped**a)))
        return r.at[:, self.dims].set(t), jnp.sum(self._log_density(mapped, a, b), axis=1)

    def mapped_events(self, to_events: Callable) -> Callable:
        """An event builder ``(key, c, t, weight)`` for points drawn in ``t`` from one
        ``to_events(key, c, r, weight)`` written for the wrapped integrand's ``r`` (e.g. for
        :func:`~diffsim.inference.generation.unweighted_events`)."""

        def build(key, c, t, weight):
            return to_events(key, c, self.forward(t)[0], weight)

        return build

    def _mapped(self, point: ChannelPoint, log_det) -> ChannelPoint:
        return ChannelPoint(point.weight * jnp.exp(log_det).astype(point.weight.dtype), point.prior, point.features)

    def channel_integrand(self, c: int, t: Float[Array, "N dim"]) -> ChannelPoint:
        """Channel ``c`` of the wrapped integrand at ``forward(t)``, its weight times ``∂r/∂t``."""
        r, log_det = self.forward(t)
        return self._mapped(self.integrand.channel_integrand(c, r), log_det)

    def channel_integrands(self, channels: Sequence[int], ts: Sequence[Float[Array, "N_i dim"]]) -> tuple[ChannelPoint, ...]:
        """Several channels at once, through the wrapped integrand's batched call if it has one."""
        mapped = [self.forward(t) for t in ts]
        points = channel_points(self.integrand, channels, [r for r, _ in mapped])
        return tuple(self._mapped(p, log_det) for p, (_, log_det) in zip(points, mapped))
