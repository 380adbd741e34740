"""Colour flows and LHE-ready :class:`~diffsim.events.Events` for hadronic channels.

An event of a :class:`~diffsim.hadronic.HadronicChannels` point needs the flavours of its
incoming partons (chosen per event with probability proportional to each subprocess's
share of the weight, ``IntegrandPoint.subprocess_weights``) and a leading-colour flow in
the Les Houches convention (hep-ph/0609017: ``ICOLUP`` tags, the colour of an incoming
quark flows into the event, that of an incoming antiquark is an anticolour).

:func:`colour_flow` gives the flow where it is unique at tree level: a quark–antiquark
pair annihilating into colourless particles (Drell–Yan: ``q(501,0) q̄(0,501)``) or, through
one s-channel gluon, into a quark–antiquark pair (``q(501,0) q̄(0,502) → Q(501,0)
Q̄(0,502)``). Processes with several flows (any external gluon, e.g. ``g g > t t~``)
need the per-flow partial amplitudes to choose a flow and raise ``ValueError``.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.events import Events

__all__ = ["colour_flow", "hadronic_events"]

FIRST_TAG = 501
"""First colour-line tag (MadGraph's convention)."""


def _is_quark(pid: int) -> bool:
    return 1 <= abs(pid) <= 6


def colour_flow(pdg_ids: tuple[int, ...], n_incoming: int = 2) -> np.ndarray:
    """``ICOLUP (n, 2)`` for a process with a unique colour flow (module docstring)."""
    coloured = [i for i, pid in enumerate(pdg_ids) if _is_quark(pid) or pid == 21]
    flow = np.zeros((len(pdg_ids), 2), dtype=np.int32)
    if not coloured:
        return flow
    incoming, outgoing = [i for i in coloured if i < n_incoming], [i for i in coloured if i >= n_incoming]

    def pair(indices):
        quarks = [i for i in indices if _is_quark(pdg_ids[i]) and pdg_ids[i] > 0]
        antiquarks = [i for i in indices if _is_quark(pdg_ids[i]) and pdg_ids[i] < 0]
        if len(indices) != 2 or len(quarks) != 1 or len(antiquarks) != 1:
            return None
        return quarks[0], antiquarks[0]

    initial = pair(incoming)
    if initial is None or (outgoing and pair(outgoing) is None):
        raise ValueError(
            f"the colour flow of {pdg_ids} is not unique at tree level (gluons or several quark "
            "lines); choosing among flows needs partial amplitudes, not implemented"
        )
    quark, antiquark = initial
    flow[quark, 0] = FIRST_TAG
    if not outgoing:
        flow[antiquark, 1] = FIRST_TAG
        return flow
    out_quark, out_antiquark = pair(outgoing)
    flow[antiquark, 1] = FIRST_TAG + 1
    flow[out_quark, 0] = FIRST_TAG
    flow[out_antiquark, 1] = FIRST_TAG + 1
    return flow


def hadronic_events(
    key: PRNGKeyArray, channels, c: int, r: Float[Array, "N d"], weight: Float[Array, " N"]
) -> Events:
    """Events for points ``r`` of channel ``c`` of ``channels`` (a ``HadronicChannels``).

    Flavours are drawn per event from the subprocess weights (``key``); momenta are the lab
    momenta of the point (beam order); ``weight`` becomes ``XWGTUP`` (pb); ``SCALUP`` is
    μ_F. Raises ``ValueError`` for processes without a unique colour flow.
    """
    process = channels.integrand.process
    point = channels.mapped_integrand(c)(r)
    final = process.channels[0].process.pdg_ids[2:]
    table = np.array([(*pair, *final) for pair in process.subprocess_flavours()], dtype=np.int32)
    colours = np.stack([colour_flow(tuple(int(p) for p in row)) for row in table])
    shares = jnp.abs(point.subprocess_weights)
    total = jnp.sum(shares, axis=-1, keepdims=True)
    logits = jnp.log(jnp.where(total > 0, shares / jnp.where(total > 0, total, 1.0), 1.0 / shares.shape[-1]))
    choice = jax.random.categorical(key, logits, axis=-1)
    return Events.from_momenta(
        point.momenta, jnp.asarray(table)[choice], colour=jnp.asarray(colours)[choice], weight=weight,
        scale=point.mu_f,
    )
