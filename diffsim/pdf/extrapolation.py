"""LHAPDF's ``continuation`` extrapolator outside the (x, Q²) knot range (arXiv:1412.7420).

:func:`continuation` is LHAPDF's ``ContinuationExtrapolator`` (the MSTW standalone-code
extrapolation; G. Watt, 2014), the LHAPDF default. With ``x_min, x_min1`` the first two x
knots and ``Q²_min``, ``Q²_max1, Q²_max`` the first, second-last and last Q² knots, and
``I(x, Q²)`` the in-grid interpolation:

* ``x < x_min``, Q² in range: ``L(x; x_min, x_min1, I(x_min, Q²), I(x_min1, Q²))``;
* x in range, ``Q² > Q²_max``: ``L(Q²; Q²_max, Q²_max1, I(x, Q²_max), I(x, Q²_max1))``;
* both: first ``L`` in Q² at ``x_min`` and at ``x_min1``, then ``L`` in x;
* ``Q² < Q²_min``: ``f₀ = I(x, Q²_min)`` and ``f₁ = I(x, 1.01 Q²_min)`` (each first
  extrapolated in x by ``L`` if ``x < x_min``), anomalous dimension
  ``γ = max(-2.5, (f₁ - f₀)/(0.01 f₀))`` if ``|f₀| ≥ 10⁻⁵`` else ``γ = 1``, and
  ``f₀ (Q²/Q²_min)^(γ r + 1 - r)`` with ``r = Q²/Q²_min``, so the PDF goes to 0 like Q² as
  Q² → 0.

``L(v; v_l, v_h, y_l, y_h)`` is linear in ``ln v``: in ``ln y`` if both ``y_l, y_h > 10⁻³``
(keeping a positive PDF positive), else in ``y``. LHAPDF's other extrapolators
(``nearest``, ``error``) are not implemented; :func:`diffsim.pdf.load` rejects sets that ask
for them.

LHAPDF raises for ``x > x_max`` (only possible for sets whose last x knot is below 1); here
such x are evaluated at ``x_max`` (the caller validates concrete inputs and documents this
for traced ones). Everything is NaN-free for ``x > 0, Q² > 0`` and differentiable. Batches
whose every point is inside the knot range take a fast path (one interpolation per point
instead of four) chosen by ``lax.cond``. Under ``vmap`` the choice is made for the whole
mapped batch (:func:`_any_in_batch`): a per-member predicate would make ``lax.cond`` run
both paths and broadcast every operand, the PDF's whole coefficient table included, along
the mapped axis.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

__all__ = ["EXTRAPOLATORS", "continuation"]

POSITIVE_Y = 1e-3  # both anchors above this: extrapolate ln y (LHAPDF)
SMALL_F = 1e-5  # |f(Q²_min)| below this: anomalous dimension set to 1 (LHAPDF)
MIN_ANOMALOUS_DIMENSION = -2.5  # (LHAPDF)
Q2_STEP = 1.01  # derivative step in Q² at Q²_min (LHAPDF)


def _linear_in_log(v, v_low, v_high, y_low, y_high):
    """LHAPDF ``_extrapolateLinear``: linear in ln v, of ln y if both y > 10⁻³, else of y."""
    frac = (jnp.log(v) - jnp.log(v_low)) / (jnp.log(v_high) - jnp.log(v_low))
    positive = (y_low > POSITIVE_Y) & (y_high > POSITIVE_Y)
    log_low = jnp.log(jnp.where(positive, y_low, 1))
    log_high = jnp.log(jnp.where(positive, y_high, 1))
    return jnp.where(positive, jnp.exp(log_low + frac * (log_high - log_low)),
                     y_low + frac * (y_high - y_low))


@jax.custom_batching.custom_vmap
def _any_in_batch(mask: Array) -> Array:
    """``jnp.any(mask)``; under ``vmap`` over all mapped members together (an unmapped
    result), so that a ``lax.cond`` on it keeps one branch and its unmapped operands."""
    return jnp.any(mask)


@_any_in_batch.def_vmap
def _any_in_batch_vmap(axis_size, in_batched, mask):
    del axis_size, in_batched
    return _any_in_batch(mask), False


def continuation(interpolate: Callable, x: Array, q2: Array, x_knots, q2_knots,
                 flavour_axis: bool) -> Array:
    """LHAPDF ``continuation`` extrapolation around ``interpolate`` (module docstring).

    Args:
        interpolate: ``(x, q2) -> values`` inside the grid; called with arrays whose
            leading axis stacks evaluation points.
        x, q2: same-shape arrays, ``x > 0``, ``q2 > 0`` (GeV²).
        x_knots, q2_knots: the static knot tuples of the grid.
        flavour_axis: whether ``interpolate`` appends a flavour axis to the shape.
    """
    x_min, x_min1, x_max = x_knots[0], x_knots[1], x_knots[-1]
    q2_min, q2_max1, q2_max = q2_knots[0], q2_knots[-2], q2_knots[-1]
    x = jnp.minimum(x, x_max)
    outside = _any_in_batch((x < x_min) | (q2 < q2_min) | (q2 > q2_max))

    def inside(x, q2):
        return interpolate(x, q2)

    def beyond(x, q2):
        small_x, small_q, large_q = x < x_min, q2 < q2_min, q2 > q2_max
        xa = jnp.maximum(x, x_min)
        xb = jnp.full_like(x, x_min1)
        qa = jnp.clip(q2, q2_min, q2_max)
        qb = jnp.where(large_q, q2_max1, Q2_STEP * q2_min).astype(q2.dtype)
        # The four interpolations run as a loop (lax.map) so that XLA materialises each
        # once: they feed many selects below, and fused into those consumers the
        # gather-and-contract work would be repeated in each of them.
        values = jax.lax.map(lambda point: interpolate(*point),
                             (jnp.stack([xa, xb, xa, xb]), jnp.stack([qa, qa, qb, qb])))
        i_aa, i_ba, i_ab, i_bb = values[0], values[1], values[2], values[3]
        if flavour_axis:
            x, q2, small_x, small_q, large_q, qa = (
                a[..., None] for a in (x, q2, small_x, small_q, large_q, qa))

        def in_x(low, high):
            return jnp.where(small_x, _linear_in_log(x, x_min, x_min1, low, high), low)

        def in_q(low, high):
            q2_safe = jnp.where(large_q, q2, 2 * q2_max)
            return jnp.where(large_q, _linear_in_log(q2_safe, q2_max, q2_max1, low, high), low)

        upper = in_x(in_q(i_aa, i_ab), in_q(i_ba, i_bb))
        f0, f1 = in_x(i_aa, i_ba), in_x(i_ab, i_bb)
        usable = jnp.abs(f0) >= SMALL_F
        f0_safe = jnp.where(usable, f0, 1)
        gamma = jnp.where(usable,
                          jnp.maximum(MIN_ANOMALOUS_DIMENSION, (f1 - f0) / f0_safe / 0.01), 1)
        ratio = jnp.where(small_q, q2 / q2_min, 1)
        lower = f0 * ratio ** (gamma * ratio + 1 - ratio)
        return jnp.where(small_q, lower, upper)

    return jax.lax.cond(outside, beyond, inside, x, q2)


EXTRAPOLATORS = {"continuation": continuation}
