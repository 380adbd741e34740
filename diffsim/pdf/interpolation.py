"""LHAPDF's ``logcubic`` interpolator: log-bicubic Hermite interpolation in (ln x, ln Q²).

This reproduces the algorithm of LHAPDF ≥ 6.4 (``LogBicubicInterpolator`` on the merged
``KnotArray``; A. Buckley et al., arXiv:1412.7420, sec. 4.1, and the LHAPDF 6.4/6.5 source)
so that values agree with LHAPDF to rounding. All subgrids are concatenated along Q²; a
subgrid boundary is a repeated Q² knot. Knot search: :func:`diffsim.pdf.knots.locate`
(LHAPDF ``indexbelow``: x compared with the x knots, Q² with the Q² knots).

**x direction** (per x interval, Q² knot and flavour, as LHAPDF's
``GridPDF::_computePolynomialCoefficients(logspace=true)``): on ``[x_i, x_{i+1}]`` with
``t = (ln x - ln x_i)/Δ_i``, ``Δ_i = ln x_{i+1} - ln x_i``, the value is the cubic Hermite
polynomial ``a t³ + b t² + c t + d`` with ``d = f_i``, ``c = f'_i Δ_i``,
``a = f'_{i+1}Δ_i + f'_iΔ_i - 2f_{i+1} + 2f_i``, ``b = 3f_{i+1} - 3f_i - 2f'_iΔ_i - f'_{i+1}Δ_i``.
The knot slopes ``f'_i = d f/d ln x`` are the mean of the left and right difference
quotients inside, ``(s_{i-1} + s_i)/2`` with ``s_i = (f_{i+1} - f_i)/Δ_i``, and one-sided
at the ends: ``f'_0 = s_0``, ``f'_{n-1} = s_{n-2}`` (the x knots are shared by all
subgrids, so only the global ends are edges).

**Q² direction**: the x-interpolated values on the four Q² knots ``i-1 … i+2`` around the
point enter LHAPDF's Hermite step (:mod:`diffsim.pdf.knots`): central slopes inside a
subgrid, forward at its first knot, backward at its last; a subgrid with two Q² knots is
interpolated bilinearly in (ln x, ln Q²), LHAPDF's fallback.

Consequences (tested): inside a subgrid the interpolant is C¹ in ln x and in ln Q². At a
subgrid boundary it is continuous in value and in ∂/∂x when both subgrids carry the same
boundary row (LHAPDF grids do), while ∂/∂ln Q² jumps from the backward difference of the
lower subgrid to the forward difference of the upper one.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from diffsim.pdf.knots import gather_intervals, hermite_q_weights, locate

__all__ = ["LogBicubicGrid", "interpolate_with_table", "x_cubic_coefficients"]


def x_cubic_coefficients(xf: Array, log_x: Array) -> Float[Array, "n_x-1 n_q n_f 4"]:
    """Cubic coefficients ``(a, b, c, d)`` in ``t`` per x interval (module docstring).

    ``xf`` is ``(n_x, n_q, n_f)``, ``log_x`` the ``(n_x,)`` ln x knots. Differentiable in
    ``xf``; costs ``O(n_x n_q n_f)``, negligible next to a batch of evaluations.
    """
    width = jnp.diff(log_x)[:, None, None]
    slope = jnp.diff(xf, axis=0) / width
    knot_slope = jnp.concatenate(
        [slope[:1], 0.5 * (slope[:-1] + slope[1:]), slope[-1:]], axis=0
    )
    low, high = xf[:-1], xf[1:]
    d_low = knot_slope[:-1] * width
    d_high = knot_slope[1:] * width
    a = d_high + d_low - 2 * high + 2 * low
    b = 3 * high - 3 * low - 2 * d_low - d_high
    return jnp.stack([a, b, d_low, low], axis=-1)


class LogBicubicGrid(eqx.Module):
    """Knot values of one PDF member on LHAPDF's merged (x, Q²) knot array.

    Attributes:
        xf: ``(n_x, n_q, n_flavours)`` values ``x f(x, Q)`` at the knots, a leaf (so
            ``jax.grad`` reaches the grid).
        x_knots: the ``n_x`` x knots (static).
        q_knots: the ``n_q`` Q knots in GeV, subgrid boundaries repeated (static); LHAPDF
            works with their squares, :attr:`q2_knots`.
    """

    xf: Float[Array, "n_x n_q n_f"]
    x_knots: tuple[float, ...] = eqx.field(static=True)
    q_knots: tuple[float, ...] = eqx.field(static=True)

    @property
    def q2_knots(self) -> tuple[float, ...]:
        """The Q² knots (GeV²), each the square of a Q knot in float64 as LHAPDF reads them."""
        return tuple(q * q for q in self.q_knots)

    def coefficient_table(self, dtype, slot=None, per_point: bool = False) -> Array:
        """The x-cubic coefficients, flattened in the layout :meth:`interpolate` reads.

        One Q² row of zeros is padded on each side so that the four-row window
        ``[i-1, i+2]`` always exists (the pads carry zero weight). Layouts: all flavours
        ``(x interval, Q² row, flavour, coefficient)``; one ``slot`` (an int or a traced
        integer scalar) ``(x interval, Q² row, coefficient)``; ``per_point`` slots
        ``(flavour, x interval, Q² row, coefficient)``. Batched callers build it once and pass it to
        :func:`interpolate_with_table`.
        """
        log_x_knots = jnp.asarray(np.log(np.asarray(self.x_knots)), dtype)
        coeff = x_cubic_coefficients(self.xf.astype(dtype), log_x_knots)
        coeff = jnp.pad(coeff, ((0, 0), (1, 1), (0, 0), (0, 0)))
        if per_point:
            return jnp.moveaxis(coeff, 2, 0).reshape(-1)
        if slot is not None:
            return coeff[:, :, slot, :].reshape(-1)
        return coeff.reshape(-1)


def interpolate_with_table(table: Array, x_knots, q_knots, n_flavours: int, x: Array,
                           q2: Array, slot=None) -> Array:
    """Interpolate at points inside the grid (no range handling; see extrapolation).

    Args:
        table: :meth:`LogBicubicGrid.coefficient_table` for this dtype and slot mode
            (a separate argument so that batched callers build it once).
        x_knots, q_knots, n_flavours: the grid's static knots and flavour count.
        x, q2: broadcast-compatible arrays of x and Q² (GeV²); their dtype is the
            computation dtype.
        slot: ``None`` for all flavours (returns ``(..., n_flavours)``), a Python int for
            one flavour slot, or an int array broadcasting with ``x`` of per-point slots in
            ``[0, n_flavours)`` (returns ``(...)``).

    Points outside the knot range get the boundary polynomials continued; the caller
    (:mod:`diffsim.pdf.extrapolation`) passes only in-range points.
    """
    dtype = jnp.result_type(x, q2)
    x, q2 = jnp.broadcast_arrays(x, q2)
    per_point = slot is not None and not isinstance(slot, int)
    if per_point:
        x, q2, slot = jnp.broadcast_arrays(x, q2, slot)
        slot = slot.reshape(-1)
    shape = x.shape
    x, q2 = x.reshape(-1), q2.reshape(-1)
    log_x, log_q2 = jnp.log(x), jnp.log(q2)
    log_x_knots = np.log(np.asarray(x_knots))
    q2_knots = tuple(q * q for q in q_knots)

    ix = locate(x_knots, x, log_x)
    iq = locate(q2_knots, q2, log_q2)
    t = (log_x - jnp.asarray(log_x_knots[:-1], dtype)[ix]) / jnp.asarray(
        np.diff(log_x_knots), dtype)[ix]
    rows = gather_intervals(q2_knots, iq, dtype)
    u = (log_q2 - rows.log_low) / rows.width
    wq = hermite_q_weights(u, rows)
    linear = rows.linear > 0  # LHAPDF's bilinear fallback is linear in x as well
    t2 = t * t
    wx = (jnp.where(linear, t, t2 * t), jnp.where(linear, t, t2), t, jnp.ones_like(t))

    n_i, n_q = len(x_knots) - 1, len(q_knots) + 2
    if slot is None:
        base, row_stride = (ix * n_q + iq) * (n_flavours * 4), n_flavours * 4
        # A loop over flavours keeps the program small (11 unrolled contractions compile
        # slowly, especially once differentiated) at no cost in run time.
        out = jax.lax.map(lambda f: _contract(table, base + 4 * f, row_stride, wx, wq),
                          jnp.arange(n_flavours))
        return out.T.reshape(*shape, n_flavours)
    base = (((slot * n_i if per_point else 0) + ix) * n_q + iq) * 4
    return _contract(table, base, 4, wx, wq).reshape(shape)


def _contract(flat: Array, base: Array, row_stride: int, wx, wq) -> Array:
    """``Σ_r wq[r] Σ_k wx[k] flat[base + r·row_stride + k]`` over the 4×4 window.

    Written as 16 scalar gathers (indices in bounds by construction) so that XLA fuses
    them with the arithmetic into one loop; a single windowed gather is several times
    slower on CPU.
    """
    total = 0
    for r in range(4):
        row = 0
        for k in range(4):
            value = flat.at[base + (r * row_stride + k)].get(mode="promise_in_bounds")
            row = row + wx[k] * value
        total = total + wq[r] * row
    return total
