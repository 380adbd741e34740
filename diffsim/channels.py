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
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["ChannelPoint", "SingleChannel", "channel_points"]


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
