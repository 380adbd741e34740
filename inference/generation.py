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
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from diffsim.events import Events
from diffsim.inference.nis import WeightedSample
from diffsim.inference.unweighting import unweight

__all__ = ["unweighted_events"]


def unweighted_events(
    key: PRNGKeyArray, sample: WeightedSample, w_max: ArrayLike, to_events: Callable[..., Events]
) -> tuple[Events, int]:
    """The accepted events of ``sample`` (channel blocks in order) and the overweight count.

    ``w_max``: maximum of the global weights (e.g. :func:`bootstrap_max_weight` of a pilot
    sample's :meth:`WeightedSample.global_weights`, fixed for a whole run so that chunks are
    independent); ``to_events(key, c, r, weight)`` builds the events of channel ``c``.
    """
    n_total = sum(len(w) for w in sample.weights)
    blocks, overweights = [], 0
    for i, (c, r, w, frac) in enumerate(zip(sample.channels, sample.points, sample.weights, sample.fractions)):
        accept_key, event_key = jax.random.split(jax.random.fold_in(key, i))
        kept = unweight(accept_key, w / frac, w_max)
        indices = np.flatnonzero(np.asarray(kept.accepted))
        overweights += int(kept.n_overweight)
        if indices.size:
            blocks.append(to_events(event_key, c, r[indices], kept.weights[indices] / n_total))
    if not blocks:
        raise ValueError("no event was accepted; the sample is too small for this w_max")
    return _concatenate(blocks), overweights


def _concatenate(blocks):
    return jax.tree_util.tree_map(lambda *leaves: jnp.concatenate(leaves) if len(leaves) > 1 else leaves[0], *blocks)
