"""Unweighting of weighted event samples: maximum-weight estimates, efficiency, acceptance.

Hit-or-miss unweighting keeps event ``k`` with probability ``min(1, |w_k| / w_max)``; the
unweighting efficiency ``ε = mean(|w|) / w_max`` is the expected accepted fraction. The
maximum weight ``w_max`` of a finite sample is a fluctuating, outlier-driven number; the
MadNIS definition (Heimel et al., arXiv:2212.06172, Sect. 2.4) takes the median over
bootstrap replicas of the maximum weight of a resample of the same size.

Negative weights: acceptance uses ``|w|`` and the accepted event carries the sign of
``w``, so the unweighted sample stays an unbiased estimate of ``∫ f`` for signed ``f``.
"""

import functools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from .result import IntegrationResult

__all__ = [
    "UnweightedSample",
    "bootstrap_max_weight",
    "multichannel_efficiency",
    "quantile_max_weight",
    "unweight",
    "unweighting_efficiency",
]


def _weights(weights: ArrayLike) -> Array:
    w = jnp.asarray(weights)
    if w.ndim != 1 or w.shape[0] < 1:
        raise ValueError(f"weights must have shape (N,) with N >= 1, got {w.shape}")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise TypeError(f"weights must be floating point, got {w.dtype}")
    return w


def bootstrap_max_weight(
    key: PRNGKeyArray, weights: Float[Array, " n"], n_replicas: int = 100
) -> Float[Array, ""]:
    """Median over bootstrap replicas of the maximum ``|w|`` of a same-size resample.

    Replica ``r`` draws ``N`` indices with replacement,
    ``jax.random.randint(keys[r], (N,), 0, N)`` with ``keys = jax.random.split(key,
    n_replicas)``, and takes ``max |w[indices]|``; the result is ``median_r`` of those
    maxima (arXiv:2212.06172). Replicas run one after another (``lax.map``), so memory is
    ``O(N)``.
    """
    w = jnp.abs(_weights(weights))
    if not isinstance(n_replicas, int) or n_replicas < 1:
        raise ValueError(f"n_replicas must be a positive int, got {n_replicas!r}")
    return _bootstrap_max(key, w, n_replicas)


@functools.partial(jax.jit, static_argnums=2)
def _bootstrap_max(key: PRNGKeyArray, w: Array, n_replicas: int) -> Array:
    n = w.shape[0]
    keys = jax.random.split(key, n_replicas)
    maxima = jax.lax.map(lambda k: jnp.max(w[jax.random.randint(k, (n,), 0, n)]), keys)
    return jnp.median(maxima)


def quantile_max_weight(weights: Float[Array, " n"], q: float) -> Float[Array, ""]:
    """The ``q``-quantile of ``|w|`` as a maximum weight (``q = 1``: the sample maximum).

    Events above it become overweights (see :func:`unweight`); ``q`` in ``(0, 1]``.
    """
    if not 0 < q <= 1:
        raise ValueError(f"q must lie in (0, 1], got {q}")
    return jnp.quantile(jnp.abs(_weights(weights)), q)


def unweighting_efficiency(weights: Float[Array, " n"], w_max: ArrayLike) -> Float[Array, ""]:
    """``ε = mean(|w|) / w_max`` (equal to ``mean(w) / w_max`` for non-negative weights)."""
    return jnp.mean(jnp.abs(_weights(weights))) / w_max


def multichannel_efficiency(
    channel_weights: Sequence[Float[Array, " n_c"]],
    channel_integrals: Float[Array, " n_channels"],
    *,
    channel_max_weights: Float[Array, " n_channels"] | None = None,
) -> Float[Array, ""]:
    """Multi-channel unweighting efficiency ``Σ_c (I_c / I) ε_c`` with ``I = Σ_c I_c``.

    Channel ``c`` is unweighted separately with ``ε_c = mean(|w_c|) / w_max,c``;
    ``w_max,c`` is taken from ``channel_max_weights`` (e.g. :func:`bootstrap_max_weight`
    per channel) or, when that is ``None``, is the sample maximum of ``|w_c|``.
    """
    channel_weights = [_weights(w) for w in channel_weights]
    integrals = jnp.asarray(channel_integrals)
    if integrals.shape != (len(channel_weights),):
        raise ValueError(
            f"channel_integrals must have shape ({len(channel_weights)},), got {integrals.shape}"
        )
    if channel_max_weights is None:
        w_max = [jnp.max(jnp.abs(w)) for w in channel_weights]
    else:
        if jnp.shape(channel_max_weights) != integrals.shape:
            raise ValueError(
                f"channel_max_weights must have shape {integrals.shape}, "
                f"got {jnp.shape(channel_max_weights)}"
            )
        w_max = list(jnp.asarray(channel_max_weights))
    efficiencies = jnp.stack([unweighting_efficiency(w, m) for w, m in zip(channel_weights, w_max)])
    return jnp.sum(integrals * efficiencies) / jnp.sum(integrals)


class UnweightedSample(eqx.Module):
    """Result of :func:`unweight` on ``N`` weighted events.

    Attributes:
        accepted: ``(N,)`` mask of kept events.
        weights: ``(N,)`` event weights after unweighting: ``sign(w) · max(|w|, w_max)``
            for kept events, 0 otherwise. ``mean(weights)`` over all ``N`` input events is
            an unbiased estimate of the integral (``E[weights_k] = w_k``); relative to
            ``w_max`` a normal event has weight ±1 and an overweight ``|w| > w_max`` keeps
            ``w / w_max`` (never truncated).
        w_max: the maximum weight used.
        n_accepted: number of kept events.
        n_overweight: kept events with ``|w| > w_max``.
        overweight_fraction: ``n_overweight / n_accepted`` (0 when nothing is kept).
    """

    accepted: Bool[Array, " n"]
    weights: Float[Array, " n"]
    w_max: Float[Array, ""]
    n_accepted: Array
    n_overweight: Array
    overweight_fraction: Array

    @property
    def indices(self) -> np.ndarray:
        """Indices of the kept events (NumPy; data-dependent size, not for ``jit``)."""
        return np.flatnonzero(np.asarray(self.accepted))

    def estimate(self) -> IntegrationResult:
        """The integral from the unweighted sample: plain mean of :attr:`weights` over all
        input events, with ``unweighting_efficiency = n_accepted / N``."""
        result = IntegrationResult.from_weights(self.weights)
        efficiency = (self.n_accepted / self.weights.shape[0]).astype(self.weights.dtype)
        return eqx.tree_at(lambda r: r.unweighting_efficiency, result, efficiency)


def unweight(key: PRNGKeyArray, weights: Float[Array, " n"], w_max: ArrayLike) -> UnweightedSample:
    """Hit-or-miss unweighting: keep event ``k`` if ``u_k · w_max < |w_k|``, ``u_k ~ U[0,1)``.

    ``u = jax.random.uniform(key, (N,))``. Overweights (``|w_k| > w_max``) are always kept
    with weight ``w_k`` (i.e. ``w_k / w_max`` relative), so nothing is truncated and the
    sample stays unbiased; their number is reported. ``w_max`` must be positive (checked
    with ``eqx.error_if``).
    """
    w = _weights(weights)
    w_max = jnp.asarray(w_max, w.dtype)
    if w_max.ndim != 0:
        raise ValueError(f"w_max must be a scalar, got shape {w_max.shape}")
    w_max = eqx.error_if(w_max, ~(w_max > 0), "unweight needs a positive w_max")
    magnitude = jnp.abs(w)
    accepted = jax.random.uniform(key, w.shape, dtype=w.dtype) * w_max < magnitude
    overweight = accepted & (magnitude > w_max)
    n_accepted = jnp.sum(accepted)
    n_overweight = jnp.sum(overweight)
    return UnweightedSample(
        accepted=accepted,
        weights=jnp.where(accepted, jnp.sign(w) * jnp.maximum(magnitude, w_max), 0),
        w_max=w_max,
        n_accepted=n_accepted,
        n_overweight=n_overweight,
        overweight_fraction=n_overweight / jnp.maximum(n_accepted, 1),
    )
