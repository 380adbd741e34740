"""Colour flows and LHE-ready :class:`~diffsim.events.Events` for hadronic channels.

An event of a :class:`~diffsim.hadronic.HadronicChannels` point needs the flavours of its
incoming partons (chosen per event with probability proportional to each subprocess's
share of the weight, ``IntegrandPoint.subprocess_weights``) and a leading-colour flow in
the Les Houches convention (hep-ph/0609017: ``ICOLUP`` tags, the colour of an incoming
quark flows into the event, that of an incoming antiquark is an anticolour).

Colour flows come from the partonic process (duck-typed, e.g. a
:class:`diffsim.models.Process`): ``colour_tags`` lists the ``ICOLUP`` table of each flow of
its colour basis and ``colour_flow_squares(momenta, params)`` their leading-colour weights.
Where a process has one flow (Drell–Yan ``q(501,0) q̄(0,501)``, ``q q̄ → Q Q̄``) it is
taken as is; otherwise each event draws a flow with probability proportional to its
weight, as MadGraph does from its ``jamp²`` (``g g → t t̄``: two flows).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from diffsim.events import Events

__all__ = ["hadronic_events", "sample_colour_flows"]


def _choose(key: PRNGKeyArray, weights: Float[Array, "N k"]) -> Int[Array, " N"]:
    """Index per row drawn with probability ∝ ``|weights|`` (uniform for an all-zero row)."""
    shares = jnp.abs(weights)
    total = jnp.sum(shares, axis=-1, keepdims=True)
    logits = jnp.log(jnp.where(total > 0, shares / jnp.where(total > 0, total, 1.0), 1.0 / shares.shape[-1]))
    return jax.random.categorical(key, logits, axis=-1)


def _flow_weights(process, momenta, params) -> Float[Array, "N k"]:
    """Leading-colour weights of the process's flows (ones for a single flow: no evaluation)."""
    if len(process.colour_tags) == 1:
        return jnp.ones(momenta.shape[:-2] + (1,), momenta.dtype)
    return process.colour_flow_squares(momenta, params)


def sample_colour_flows(
    key: PRNGKeyArray, process, momenta: Float[Array, "N n 4"], params=None
) -> Int[Array, "N n 2"]:
    """``ICOLUP`` per event of a partonic ``process`` at ``momenta`` (its leg order): a flow
    of ``process.colour_tags`` drawn with probability ∝ its leading-colour weight."""
    tags = jnp.asarray(np.array(process.colour_tags, dtype=np.int32))
    return tags[_choose(key, _flow_weights(process, momenta, params))]


@eqx.filter_jit
def hadronic_events(
    key: PRNGKeyArray, channels, c: int, r: Float[Array, "N d"], weight: Float[Array, " N"]
) -> Events:
    """Events for points ``r`` of channel ``c`` of ``channels`` (a ``HadronicChannels``),
    compiled once per channel and batch shape.

    Flavours are drawn per event from the subprocess weights, then a colour flow of the
    chosen subprocess from its flows' weights (``key``); momenta are the lab momenta of the
    point (beam order); ``weight`` becomes ``XWGTUP`` (pb); ``SCALUP`` is μ_F.
    """
    flavour_key, colour_key = jax.random.split(key)
    process = channels.integrand.process
    point = channels.mapped_integrand(c)(r)
    final = process.channels[0].process.pdg_ids[2:]
    table = np.array([(*pair, *final) for pair in process.subprocess_flavours()], dtype=np.int32)
    choice = _choose(flavour_key, point.subprocess_weights)
    # Per subprocess: the flows of its partonic channel (incoming rows swapped for q~ q) and
    # their weights at the point, padded with zero-weight flows to a common count.
    n_flows = max(len(channel.process.colour_tags) for channel in process.channels)
    tags, weights = [], []
    for channel in process.channels:
        order = [1, 0, *range(2, len(table[0]))] if channel.swapped else list(range(len(table[0])))
        own = np.array(channel.process.colour_tags, dtype=np.int32)[:, order]
        w = _flow_weights(channel.process, channel.process_momenta(point.momenta), process.params)
        own = np.concatenate([own, np.zeros((n_flows - len(own),) + own.shape[1:], np.int32)])
        w = jnp.concatenate([w, jnp.zeros(w.shape[:-1] + (n_flows - w.shape[-1],), w.dtype)], axis=-1)
        tags += [own] * len(channel.flavour_pairs)
        weights += [w] * len(channel.flavour_pairs)
    tags, weights = jnp.asarray(np.stack(tags)), jnp.stack(weights, axis=1)  # (S, K, n, 2), (N, S, K)
    chosen_weights = jnp.take_along_axis(weights, choice[:, None, None], axis=1)[:, 0]
    colour = tags[choice, _choose(colour_key, chosen_weights)]
    return Events.from_momenta(
        point.momenta, jnp.asarray(table)[choice], colour=colour, weight=weight, scale=point.mu_f,
    )
