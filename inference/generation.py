"""Unweighted events from a weighted multi-channel sample (hit-or-miss, arXiv:2212.06172 sec. 2.3).

The sample's global weights ``w_i / frac_c`` all estimate the same integral, so one
``w_max`` serves every channel; each point is kept with probability ``min(1, |w|/w_max)``
(:func:`~diffsim.inference.unweighting.unweight`). A kept event's weight is
``sign(w) · max(|w|, w_max) / N`` (``N`` the sample size), so the events' weights sum to an
unbiased estimate of the integral and overweights are kept, not truncated. The
integrand-specific part — turning accepted points of channel ``c`` into
:class:`~diffsim.events.Events` (momenta, flavours, colour) — is a callable, e.g.
``functools.partial(diffsim.hadronic.hadronic_events, channels=…)``.
"""

from collections.abc import Callable

import jax
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from diffsim.events import Events
from diffsim.inference.nis import WeightedSample
from diffsim.inference.unweighting import unweight

__all__ = ["unweighted_events"]


def unweighted_events(
    key: PRNGKeyArray,
    sample: WeightedSample,
    w_max: ArrayLike,
    to_events: Callable[..., Events],
    *,
    unit_weight: float | None = None,
    allow_empty: bool = False,
) -> tuple[Events | None, int]:
    """The accepted events of ``sample`` (channel blocks in order) and the overweight count.

    ``w_max``: maximum of the global weights (e.g. :func:`bootstrap_max_weight` of a pilot
    sample's :meth:`WeightedSample.global_weights`, fixed for a whole run so that chunks are
    independent). ``to_events(key, c, r, weight)`` builds the events of a whole channel
    block — the same shapes for every sample of a given size, so a jitted ``to_events``
    compiles once per channel — and the accepted ones are selected on the host (the result
    holds NumPy arrays). Event weights: ``sign(w) · max(|w|, w_max) / N`` (module
    docstring), or with ``unit_weight`` (pb) ``unit_weight · sign(w) · max(|w|/w_max, 1)``
    (``±unit_weight`` for a normal event, as an LHE file of ``σ/N``-weighted events wants).
    With no accepted event: ``None`` if ``allow_empty``, else a ``ValueError``.
    """
    n_total = sum(len(w) for w in sample.weights)
    blocks, overweights = [], 0
    for i, (c, r, w, frac) in enumerate(zip(sample.channels, sample.points, sample.weights, sample.fractions)):
        accept_key, event_key = jax.random.split(jax.random.fold_in(key, i))
        kept = unweight(accept_key, w / frac, w_max)
        accepted = np.asarray(kept.accepted)
        overweights += int(kept.n_overweight)
        if accepted.any():
            weight = kept.weights / n_total if unit_weight is None else kept.weights / kept.w_max * unit_weight
            blocks.append(jax.tree.map(np.asarray, to_events(event_key, c, r, weight))[accepted])
    if not blocks:
        if allow_empty:
            return None, overweights
        raise ValueError("no event was accepted; the sample is too small for this w_max")
    return Events.concatenate(blocks), overweights
