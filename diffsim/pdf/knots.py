"""Knot arrays of LHAPDF grids: locating a point, and LHAPDF's 1-D Hermite rule in ln Q².

Both the PDF's Q² direction (:mod:`diffsim.pdf.interpolation`) and the ``ipol`` αs table
(:mod:`diffsim.pdf.alphas`) are knot arrays in Q² whose subgrids are concatenated with the
boundary knot repeated, and both interpolate them with the same rule (LHAPDF 6.5
``LogBicubicInterpolator`` and ``AlphaS_Ipol``; arXiv:1412.7420, sec. 4–5):

* **Search** (LHAPDF ``indexbelow``): ``i = upper_bound(knots, v) - 1`` clamped to
  ``[0, n-2]``; a value equal to a repeated knot selects the last copy, i.e. the upper
  subgrid.
* **Hermite step** on interval ``i`` with ``u = (ln Q² - ln Q²_i)/δ₁``: the cubic Hermite
  polynomial through ``v_i, v_{i+1}`` whose end slopes (times ``δ₁``) are central inside a
  subgrid — ``v'_i δ₁ = ½[(v_{i+1} - v_i) + (v_i - v_{i-1}) δ₁/δ₀]``, likewise at ``i+1`` —
  forward at the first knot of a subgrid (``v'_i δ₁ = v_{i+1} - v_i``) and backward at its
  last knot. ``δ₀, δ₁, δ₂`` are the ln Q² widths of intervals ``i-1, i, i+1``. A subgrid
  with only two knots is interpolated linearly (LHAPDF's fallback).

Knots are static (Python floats): the tables below are numpy constants built once per
knot tuple, so under ``jit`` they are compile-time constants.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

__all__ = ["QIntervals", "gather_intervals", "hermite_q_weights", "locate", "q_intervals"]

MAX_BUCKETS = 1 << 16  # bucket table size limit of the fast search (else binary search)


@functools.lru_cache(maxsize=64)
def _buckets(knots: tuple[float, ...]):
    """Bucket table for :func:`locate`: (ln knot₀, 1/width, guess per bucket) or None.

    Buckets are uniform in ln v, half as wide as the smallest gap between distinct knots,
    so a bucket holds at most one distinct knot; the guess is the exact index of the
    bucket's lower edge. Returns None when that would need more than MAX_BUCKETS buckets.
    """
    k = np.asarray(knots, dtype=np.float64)
    log_k = np.log(np.unique(k))
    span = log_k[-1] - log_k[0]
    width = 0.5 * np.min(np.diff(log_k))
    n_buckets = int(np.ceil(span / width)) + 1
    if n_buckets > MAX_BUCKETS:
        return None
    edges = np.exp(log_k[0] + width * np.arange(n_buckets))
    guess = np.clip(np.searchsorted(k, edges, side="right") - 1, 0, k.size - 2)
    return float(log_k[0]), float(1 / width), guess.astype(np.int32)


def locate(knots: tuple[float, ...], value: Array, log_value: Array) -> Int[Array, "*batch"]:
    """LHAPDF ``indexbelow`` of ``value`` among the static, non-decreasing ``knots``.

    ``log_value = ln(value)`` is passed in because callers need it anyway. A bucket in
    ln v gives a guess within two knots of the answer (one distinct knot per bucket, a
    repeated knot counting twice, and ±1 bucket from rounding of the log), then up to two
    exact comparisons down and two up fix it, so the result is exactly
    ``clip(upper_bound(knots, value) - 1, 0, n-2)`` for every finite value. Costs a few
    fused scalar gathers per point instead of a binary search.
    """
    dtype = jnp.result_type(value)
    table = _buckets(tuple(knots))
    k = jnp.asarray(knots, dtype)
    n = len(knots)
    if table is None:
        index = jnp.searchsorted(k, value, side="right", method="scan_unrolled") - 1
        return jnp.clip(index, 0, n - 2)
    log_first, inverse_width, guess = table
    position = jnp.clip((log_value - log_first) * inverse_width, 0, guess.size - 1)
    index = jnp.asarray(guess)[position.astype(jnp.int32)]
    for _ in range(2):
        index = jnp.maximum(index - (value < k[index]), 0)
    for _ in range(2):
        index = jnp.minimum(index + (value >= k[index + 1]), n - 2)
    return index


class QIntervals(NamedTuple):
    """Per-interval constants of the Hermite step (module docstring), one entry per interval.

    ``log_low`` = ln Q²_i, ``width`` = δ₁ (1 for the zero-width interval between the two
    copies of a boundary knot, never selected by :func:`locate`), and the slope
    coefficients with ``v'_i δ₁ = a_low (v_{i+1} - v_i) + b_low (v_i - v_{i-1})`` and
    ``v'_{i+1} δ₁ = a_high (v_{i+1} - v_i) + b_high (v_{i+2} - v_{i+1})``; ``linear`` marks
    two-knot subgrids.
    """

    log_low: np.ndarray
    width: np.ndarray
    a_low: np.ndarray
    b_low: np.ndarray
    a_high: np.ndarray
    b_high: np.ndarray
    linear: np.ndarray


@functools.lru_cache(maxsize=64)
def q_intervals(q2_knots: tuple[float, ...]) -> QIntervals:
    """The :class:`QIntervals` of the concatenated Q² knots (float64 numpy arrays)."""
    q2 = np.asarray(q2_knots, dtype=np.float64)
    n = q2.size
    i = np.arange(n - 1)
    width = np.diff(np.log(q2))
    first = (i == 0) | (q2[i] == q2[np.maximum(i - 1, 0)])
    last = (i + 1 == n - 1) | (q2[i + 1] == q2[np.minimum(i + 2, n - 1)])
    safe = np.where(width > 0, width, 1.0)
    below = np.concatenate([[1.0], safe[:-1]])
    above = np.concatenate([safe[1:], [1.0]])
    return QIntervals(
        log_low=np.log(q2[:-1]),
        width=safe,
        a_low=np.where(first, 1.0, 0.5),
        b_low=np.where(first, 0.0, 0.5 * safe / below),
        a_high=np.where(last, 1.0, 0.5),
        b_high=np.where(last, 0.0, 0.5 * safe / above),
        linear=(first & last).astype(np.float64),
    )


def hermite_q_weights(u: Array, c: QIntervals) -> tuple[Array, Array, Array, Array]:
    """Weights on ``(v_{i-1}, v_i, v_{i+1}, v_{i+2})`` of the Hermite step at fraction ``u``.

    ``c`` holds the :class:`QIntervals` entries of each point's interval (gathered arrays
    broadcasting with ``u``). Two-knot subgrids get the linear weights ``(0, 1-u, u, 0)``.
    """
    u2 = u * u
    u3 = u2 * u
    h00 = 2 * u3 - 3 * u2 + 1
    h10 = u3 - 2 * u2 + u
    h01 = -2 * u3 + 3 * u2
    h11 = u3 - u2
    linear = c.linear > 0
    return (
        jnp.where(linear, 0, -h10 * c.b_low),
        jnp.where(linear, 1 - u, h00 - h10 * (c.a_low - c.b_low) - h11 * c.a_high),
        jnp.where(linear, u, h01 + h10 * c.a_low + h11 * (c.a_high - c.b_high)),
        jnp.where(linear, 0, h11 * c.b_high),
    )


def gather_intervals(q2_knots: tuple[float, ...], index: Array, dtype) -> QIntervals:
    """The :class:`QIntervals` entries at ``index``, as arrays of ``dtype``."""
    return QIntervals(*(jnp.asarray(column, dtype)[index] for column in q_intervals(q2_knots)))
