"""The multi-channel neural importance sampler (MadNIS, arXiv:2212.06172 and 2311.01548).

One normalizing flow ``q_c(r)`` per channel on the unit hypercube, on top of the channel's
physics mapping (inside the :mod:`~diffsim.channels` integrand), and
trainable channel weights

    α_c(x) = prior_c(x) · exp(NN_c(x)) / Σ_j prior_j(x) · exp(NN_j(x))      (eq. 12)

with ``prior`` from the single-diagram squares and ``NN`` a small network of the point's
features whose last layer starts at zero (so a fresh sampler uses the prior). The integral
and its weights per channel are

    I = Σ_c I_c,   I_c = E_{r ~ q_c}[w_c(r)],   w_c(r) = α_c(x(r)) · f_c(r) / q_c(r),

where ``f_c(r) = f(x)|∂x/∂r|`` is the channel's mapped integrand. A single-channel sampler
is the special case ``C = 1`` (prior 1, no network). Channels can be dropped: an inactive
channel gets ``α_c = 0`` and the others renormalise, so the estimate stays unbiased.
"""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from diffsim.channels import ChannelPoint
from diffsim.flows import Flow, unit_hypercube_flow
from diffsim.inference.vegas import Vegas

__all__ = ["MultiChannelSampler", "multichannel_sampler", "vegas_initialise"]


class MultiChannelSampler(eqx.Module):
    """Flows per channel, the channel-weight network, and which channels are active.

    ``flows``: one :class:`~diffsim.flows.Flow` per channel on ``[0, 1]^dim``;
    ``channel_net``: an MLP ``features (k,) -> (C,)`` logits, or ``None`` for fixed prior
    weights; ``active``: static tuple of bools (dropped channels are ``False``).
    """

    flows: tuple[Flow, ...]
    channel_net: eqx.nn.MLP | None
    active: tuple[bool, ...] = eqx.field(static=True)

    def __check_init__(self):
        if len(self.active) != len(self.flows):
            raise ValueError(f"active has {len(self.active)} entries for {len(self.flows)} channels")
        if not any(self.active):
            raise ValueError("at least one channel must stay active")

    @property
    def n_channels(self) -> int:
        """Number of channels ``C`` (active or not)."""
        return len(self.flows)

    @property
    def active_channels(self) -> tuple[int, ...]:
        """Indices of the active channels."""
        return tuple(c for c, on in enumerate(self.active) if on)

    def alphas(self, prior: Float[Array, "N C"], features: Float[Array, "N k"]) -> Float[Array, "N C"]:
        """Channel weights ``α (N, C)`` (eq. 12 above); rows sum to 1, dropped channels are 0.

        Where the prior vanishes for every active channel (a point no diagram reaches), the
        weights fall back to uniform over the active channels.
        """
        active: Bool[Array, " C"] = jnp.asarray(self.active)
        prior = jnp.where(active, prior, 0.0)
        total = jnp.sum(prior, axis=-1, keepdims=True)
        uniform = jnp.broadcast_to(active / jnp.sum(active), prior.shape).astype(prior.dtype)
        prior = jnp.where(total > 0, prior / jnp.where(total > 0, total, 1.0), uniform)
        logits = jnp.where(prior > 0, jnp.log(jnp.where(prior > 0, prior, 1.0)), -jnp.inf)
        if self.channel_net is not None:
            logits = logits + jax.vmap(self.channel_net)(features).astype(prior.dtype)
        return jax.nn.softmax(logits, axis=-1)

    def channel_weights(self, c: int, point: ChannelPoint, log_q: Float[Array, " N"]) -> Float[Array, " N"]:
        """``w_c = α_c · f_c / q_c`` for points of channel ``c`` with flow log density ``log_q``."""
        return self.alphas(point.prior, point.features)[:, c] * point.weight * jnp.exp(-log_q)

    def drop(self, channels: Sequence[int]) -> "MultiChannelSampler":
        """A copy with ``channels`` made inactive (their flows are kept, unused)."""
        active = tuple(on and c not in set(channels) for c, on in enumerate(self.active))
        return MultiChannelSampler(self.flows, self.channel_net, active)

    def with_flows(self, flows: Sequence[Flow]) -> "MultiChannelSampler":
        """A copy with new flows (e.g. with VEGAS pre-maps), same network and activity."""
        return MultiChannelSampler(tuple(flows), self.channel_net, self.active)


def multichannel_sampler(
    key: PRNGKeyArray,
    n_channels: int,
    dim: int,
    n_features: int,
    *,
    trainable_weights: bool = True,
    net_width: int = 32,
    net_depth: int = 2,
    **flow_options,
) -> MultiChannelSampler:
    """A fresh sampler: identity flows (``unit_hypercube_flow(key, dim, **flow_options)``) and
    a channel-weight network with a zero last layer (``α`` = prior at the start).

    ``trainable_weights=False`` (or ``n_channels == 1``) keeps the prior weights fixed.
    """
    if n_channels < 1 or dim < 1:
        raise ValueError(f"need n_channels >= 1 and dim >= 1, got {n_channels} and {dim}")
    flow_keys = jax.random.split(key, n_channels + 1)
    flows = tuple(unit_hypercube_flow(k, dim, **flow_options) for k in flow_keys[1:])
    net = None
    if trainable_weights and n_channels > 1:
        net = eqx.nn.MLP(n_features, n_channels, net_width, net_depth, activation=jax.nn.gelu, key=flow_keys[0])
        last = net.layers[-1]
        net = eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), net,
                          (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))
    return MultiChannelSampler(flows, net, (True,) * n_channels)


class _WeightedChannel(eqx.Module):
    """``r (N, dim) -> α_c f_c (N,)``, channel ``c``'s weighted integrand. A module rather than
    a closure, so the compiled VEGAS iteration is reused by later calls with other samplers
    or integrand parameters of the same structure."""

    sampler: MultiChannelSampler
    integrand: Any
    channel: int = eqx.field(static=True)

    def __call__(self, r: Float[Array, "N dim"]) -> Float[Array, " N"]:
        point = self.integrand.channel_integrand(self.channel, r)
        return self.sampler.alphas(point.prior, point.features)[:, self.channel] * point.weight


def vegas_initialise(
    key: PRNGKeyArray,
    sampler: MultiChannelSampler,
    integrand,
    *,
    n_iterations: int = 5,
    n_per_iteration: int = 20_000,
    n_bins: int = 128,
    alpha: float = 0.5,
    smooth: bool = False,
    progress: bool = False,
) -> tuple[MultiChannelSampler, int]:
    """Adapt one VEGAS grid per active channel to ``α_c f_c`` and put it under that channel's flow.

    The grid becomes the flow's fixed outer map, ``r = G_vegas(flow(z))`` (MadNIS's VEGAS
    initialisation, arXiv:2311.01548 sec. 4.1): an untrained flow then samples exactly as
    the adapted VEGAS grid, and training refines it. The grids are not trained further
    (:func:`diffsim.inference.training.trainable` excludes them). ``smooth=True`` puts the
    grid's continuously differentiable interpolant there instead
    (:class:`~diffsim.inference.vegas.SmoothVegasMap`), which pathwise training needs.
    Returns the new sampler and the integrand calls spent.
    """
    flows = list(sampler.flows)
    keys = jax.random.split(key, sampler.n_channels)
    for c in sampler.active_channels:
        grid, _ = Vegas(flows[c].dim, n_bins=n_bins, alpha=alpha).adapt(
            keys[c], _WeightedChannel(sampler, integrand, c), n_iterations, n_per_iteration, progress=progress
        )
        flows[c] = flows[c].with_outer(grid.smooth() if smooth else grid)
    return sampler.with_flows(flows), len(sampler.active_channels) * n_iterations * n_per_iteration
