"""Batched evaluation behind ``PDF.xfxQ*``: masks, flavour lookup, chunks, derivatives.

For a batch of points this

1. marks invalid points (``x ∉ (0, 1]``, ``Q² ≤ 0``, NaN or infinite Q²), evaluates them at
   an in-grid dummy point and returns NaN for them (a documented, per-point result under
   ``jit``; concrete inputs were already rejected by :mod:`diffsim.pdf.checks`);
2. maps PDG ids to grid slots (0 → 21; ids the set lacks give 0, as in LHAPDF);
3. applies the set's extrapolator around the ``logcubic`` interpolation, then
   ``ForcePositive`` (LHAPDF: level 1 clips at 0, level 2 at 10⁻¹⁰);
4. runs over chunks of :data:`CHUNK` points with ``lax.map`` so that intermediates stay in
   the CPU cache (several times faster than one pass over 10⁶ points), building the
   coefficient table once per call; eager (concrete) calls are prepared with NumPy and
   padded to a few fixed sizes, so they compile only the evaluation and reuse it;
5. gives each chunk a custom JVP: derivatives with respect to x and Q² are computed in
   forward mode together with the value (every output depends on its own point only), so
   reverse mode stores two numbers per point instead of the interpolation's (and the
   extrapolator's ``lax.cond``'s) intermediates. Derivatives with respect to the grid
   values go through ordinary autodiff of the same code.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from diffsim.pdf.checks import is_traced
from diffsim.pdf.extrapolation import EXTRAPOLATORS
from diffsim.pdf.interpolation import interpolate_with_table

__all__ = ["CHUNK", "evaluate"]

#: Points per chunk of a batched evaluation.
CHUNK = 4096
# LHAPDF ForcePositive: level 0 leaves values alone, 1 clips at 0, 2 raises to 1e-10. Passed
# to the compiled program as a number (max with -inf is the identity), so sets with
# different levels share compilations.
_FORCE_POSITIVE_FLOOR = {0: -np.inf, 1: 0.0, 2: 1e-10}


def _valid(x, q2):
    return (x > 0) & (x <= 1) & (q2 > 0) & jnp.isfinite(q2)


def _slots(flavours: tuple[int, ...], pid):
    """Grid slot of each PDG id (0 is the gluon 21), ``-1`` where the set lacks it."""
    low = min(min(flavours), 0)
    lookup = [-1] * (max(max(flavours), 21) - low + 1)
    for index, flavour in enumerate(flavours):
        lookup[flavour - low] = index
    if 21 in flavours:
        lookup[0 - low] = flavours.index(21)
    inside = (pid >= low) & (pid < low + len(lookup))
    slot = jnp.asarray(lookup, dtype=jnp.int32)[jnp.clip(pid - low, 0, len(lookup) - 1)]
    return jnp.where(inside, slot, -1)


def _is_zero(tangent) -> bool:
    return isinstance(tangent, jax.custom_derivatives.SymbolicZero)


def _forward_mode_in_x_q2(impl):
    """``impl(table, x, q2, *rest)`` with a JVP that takes ∂/∂x and ∂/∂Q² in forward mode."""
    function = jax.custom_jvp(impl)

    def jvp(primals, tangents):
        table, x, q2, *rest = primals
        t_table, t_x, t_q2 = tangents[:3]

        def at(a, b):
            return impl(table, a, b, *rest)

        wanted = [(t, i) for i, t in enumerate((t_x, t_q2)) if not _is_zero(t)]
        if not wanted:
            value, partials = at(x, q2), []
        else:
            units = [jnp.zeros_like(x), jnp.zeros_like(q2)]
            directions = []
            for _, i in wanted:
                unit = list(units)
                unit[i] = jnp.ones_like(unit[i])
                directions.append(unit)
            stacked = tuple(jnp.stack([d[k] for d in directions]) for k in range(2))
            value, partials = jax.vmap(lambda dx, dq: jax.jvp(at, (x, q2), (dx, dq)),
                                       out_axes=(None, 0))(*stacked)
        tangent = jnp.zeros_like(value)
        for (t, _), partial in zip(wanted, partials):
            tangent = tangent + partial * (t[:, None] if partial.ndim > t.ndim else t)
        if not _is_zero(t_table):
            tangent = tangent + jax.jvp(lambda tb: impl(tb, x, q2, *rest), (table,),
                                        (t_table,))[1]
        return value, tangent

    function.defjvp(jvp, symbolic_zeros=True)
    return function


def evaluate(pdf, flavour, x, scale, scale_is_q: bool):
    """``x f`` at ``(x, Q)`` or ``(x, Q²)`` for a :class:`~diffsim.pdf.PDF` (module docstring).

    ``flavour`` is None (all flavours, last axis in ``pdf.flavours`` order), a Python int slot
    (``-1``: a valid flavour the set lacks, all zeros) or an int array of PDG ids
    broadcasting with x; ``scale`` is Q (GeV) if ``scale_is_q`` else Q² (GeV²); a Q ≤ 0 is
    an invalid point. Concrete (eager) inputs are prepared with NumPy and padded to a few
    fixed sizes (powers of two, then multiples of :data:`CHUNK`), so eager calls compile
    nothing but the evaluation itself and reuse it across sizes.
    """
    x, scale = (np.asarray(v) if isinstance(v, (list, tuple)) else v for v in (x, scale))
    dtype = jnp.result_type(x, scale, 0.0)
    n_out = len(pdf.flavours) if flavour is None else None
    arrays = (x, scale) + ((flavour,) if _per_point(flavour) else ())
    xp = jnp if is_traced(*arrays) else np
    x, scale = xp.asarray(x).astype(dtype), xp.asarray(scale).astype(dtype)
    if scale_is_q:  # Q ≤ 0 must stay invalid rather than become Q² > 0
        scale = xp.where(scale > 0, scale * scale, xp.nan).astype(dtype)
    if _per_point(flavour):
        x, scale, flavour = xp.broadcast_arrays(x, scale, xp.asarray(flavour))
    else:
        x, scale = xp.broadcast_arrays(x, scale)
    shape = x.shape
    if isinstance(flavour, int) and flavour < 0:
        mode, selector = "absent", None
    elif flavour is None:
        mode, selector = "all", None
    elif isinstance(flavour, int):
        mode, selector = "one", np.int32(flavour)
    else:
        mode, selector = "per-point", None
    flat = [x.reshape(-1), scale.reshape(-1)] + ([flavour.reshape(-1)] if mode == "per-point"
                                                 else [])
    n = flat[0].shape[0]
    if xp is np and n > 0:
        size = -(-n // CHUNK) * CHUNK if n > CHUNK else max(16, 1 << (n - 1).bit_length())
        fills = (pdf.grid.x_knots[-1], pdf.grid.q2_knots[-1], pdf.flavours[0])
        flat = [np.pad(a, (0, size - n), constant_values=f) for a, f in zip(flat, fills)]
    # Only the grid and the static settings enter the compiled program, so PDFs that differ
    # in name, metadata or αs share compilations.
    floor = np.asarray(_FORCE_POSITIVE_FLOOR[pdf.force_positive], dtype=dtype)
    out = _evaluate_flat(pdf.grid, pdf.flavours, pdf.extrapolator, floor, mode, selector,
                         *flat)
    out_shape = shape + ((n_out,) if n_out else ())
    if is_traced(out):  # e.g. differentiating with respect to the grid values
        return out[:n].reshape(out_shape)
    return jnp.asarray(np.asarray(out)[:n].reshape(out_shape))


def _per_point(flavour) -> bool:
    return flavour is not None and not isinstance(flavour, int)


@eqx.filter_jit
def _evaluate_flat(grid, flavours, extrapolator, floor, mode: str, slot, x, q2,
                   pid=None):
    """:func:`evaluate` on 1-D arrays; ``mode`` is ``all``, ``one`` (traced ``slot``),
    ``per-point`` (``pid`` array) or ``absent`` (zeros)."""
    if mode == "absent":
        return jnp.where(_valid(x, q2), jnp.zeros_like(x), jnp.nan)
    n_flavours = len(flavours)
    extrapolate = EXTRAPOLATORS[extrapolator]

    def impl(table, x, q2, floor, pid=None):
        valid = _valid(x, q2)
        x = jnp.where(valid, x, grid.x_knots[-1])
        q2 = jnp.where(valid, q2, grid.q2_knots[-1])
        point_slot, present = (None if mode == "all" else 0), None
        if mode == "per-point":
            point_slot = _slots(flavours, pid)
            present = point_slot >= 0
            point_slot = jnp.maximum(point_slot, 0)
        values = extrapolate(
            lambda xs, qs: interpolate_with_table(table, grid.x_knots, grid.q_knots,
                                                  n_flavours, xs, qs, point_slot),
            x, q2, grid.x_knots, grid.q2_knots, flavour_axis=mode == "all")
        values = jnp.maximum(values, floor)
        if present is not None:
            values = jnp.where(present, values, 0)
        return jnp.where(valid[:, None] if mode == "all" else valid, values, jnp.nan)

    kernel = _forward_mode_in_x_q2(impl)
    table = grid.coefficient_table(x.dtype, slot, per_point=mode == "per-point")
    arguments = (x, q2) + ((pid,) if mode == "per-point" else ())
    fills = (grid.x_knots[-1], grid.q2_knots[-1], flavours[0])
    return _in_chunks(lambda x, q2, *pid: kernel(table, x, q2, floor, *pid), arguments, fills)


def _in_chunks(kernel, arguments, fills):
    """``kernel(*arguments)`` on 1-D arguments, run over chunks of :data:`CHUNK` points.

    The last chunk is padded with the in-grid point ``fills``; ``lax.map`` (a loop, not a
    ``vmap``) keeps each chunk a real batch, so the extrapolator's fast-path ``lax.cond``
    is decided per chunk.
    """
    n = arguments[0].shape[0]
    if n <= CHUNK:
        return kernel(*arguments)
    n_chunks = -(-n // CHUNK)
    padded = tuple(jnp.pad(a, (0, n_chunks * CHUNK - n), constant_values=fill)
                   .reshape(n_chunks, CHUNK) for a, fill in zip(arguments, fills))
    out = jax.lax.map(lambda chunk: kernel(*chunk), padded)
    return out.reshape(n_chunks * CHUNK, *out.shape[2:])[:n]
