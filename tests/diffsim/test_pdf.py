"""Parton densities against LHAPDF 6.5.2: reference values, αs, subgrid edges, extrapolation,
derivatives against finite differences, jit/vmap/grad/float32 smoke, loading and errors."""

import importlib.resources
import math
import shutil

import equinox as eqx
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, central_difference

import diffsim.pdf as dpdf
from diffsim.pdf import AnalyticAlphaS, FixedAlphaS, IpolAlphaS, PDFSetNotFoundError
from diffsim.pdf.evaluate import CHUNK
from diffsim.pdf.knots import locate
from diffsim.pdf.lhagrid import parse_info, parse_member

NAME = "NNPDF31_lo_as_0118"
# LHAPDF's relative agreement target; the reference file prints 13 significant digits.
RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(scope="module")
def pdf():
    return dpdf.load()


@pytest.fixture(scope="module")
def reference(shared_data):
    path = shared_data / "pdf" / f"xf_ref_{NAME}_LHAPDF652.txt"
    values = np.loadtxt(path)
    alphas = np.array([line.split()[2:4] for line in path.read_text().splitlines()
                       if line.startswith("# alphas ")], dtype=float)
    return values, alphas


# --- LHAPDF reference values -----------------------------------------------------------

def test_all_reference_values_match_lhapdf(pdf, reference):
    """All 1210 LHAPDF values, inside a batch of more than two chunks (mixed with random in-
    and out-of-grid points), through every entry point."""
    values, _ = reference
    x, q, pid, xf = values.T
    assert values.shape == (1210, 4)
    rng = np.random.default_rng(1)
    n = 2 * CHUNK + 37
    batch_x = np.concatenate([x, 10 ** rng.uniform(-11, 0, n - x.size)])
    batch_q = np.concatenate([q, 10 ** rng.uniform(-0.3, 5.5, n - x.size)])
    batch_pid = np.concatenate([pid.astype(int), rng.choice([21, 2, -1, 5, 6], n - x.size)])
    big = np.asarray(pdf.xfxQ(batch_pid, batch_x, batch_q))
    assert np.all(np.isfinite(big))
    assert_close(big[:1210], xf, rtol=RTOL, atol=ATOL, what="xfxQ")
    assert_close(pdf.xfxQ2(batch_pid, batch_x, batch_q**2)[:1210], xf, rtol=RTOL, atol=ATOL)
    # Chunking is invisible: rows of the big batch equal the same points evaluated alone.
    rows = rng.choice(n, 16, replace=False)
    assert_close(big[rows], pdf.xfxQ(batch_pid[rows], batch_x[rows], batch_q[rows]), rtol=1e-14,
                 atol=1e-300, what="chunked vs small batch")
    slots = np.array([pdf.flavours.index(int(p)) for p in pid])
    everything = np.concatenate([pdf.xfxQ_all(x[i:i + 16], q[i:i + 16])
                                 for i in range(0, x.size, 16)])  # shares one compilation
    assert everything.shape == (1210, len(pdf.flavours))
    assert_close(everything[np.arange(1210), slots], xf, rtol=RTOL, atol=ATOL, what="all")
    assert_close(pdf.xfxQ2_all(x[:16], q[:16] ** 2), everything[:16], rtol=1e-15)
    for row in values[::97]:  # the single-flavour path, one point at a time
        assert_close(pdf.xfxQ(int(row[2]), row[0], row[1]), row[3], rtol=RTOL, atol=ATOL)


def test_alphas_ipol_matches_lhapdf(pdf, reference):
    _, alphas = reference
    assert alphas.shape == (10, 2)
    assert_close(pdf.alphasQ(alphas[:, 0]), alphas[:, 1], rtol=1e-10, what="alphasQ")
    assert_close(pdf.alphasQ2(alphas[:, 0] ** 2), alphas[:, 1], rtol=1e-10)


def test_ipol_reproduces_its_knots_and_extrapolates_like_lhapdf(pdf):
    info = pdf.info
    qs, vals = np.array(info["AlphaS_Qs"]), np.array(info["AlphaS_Vals"])
    assert_close(pdf.alphasQ(qs), vals, rtol=1e-14, what="knots")
    # Below the first knot: αs₀ (Q²/Q₀²)^g, g the log-log slope of the first two knots.
    g = math.log(vals[1] / vals[0]) / math.log(qs[1] ** 2 / qs[0] ** 2)
    assert_close(pdf.alphasQ(1.0), vals[0] * (1.0 / qs[0] ** 2) ** g, rtol=1e-13)
    assert_close(pdf.alphasQ(1e6), vals[-1], rtol=0)  # frozen above the last knot


# --- subgrid boundaries and smoothness ---------------------------------------------------

def _partials(pdf, pid, x, q):
    """Per-point (∂ xf/∂x, ∂ xf/∂ln Q²) by autodiff at four points (one gradient program,
    shared with the other gradient tests: traced batches are compiled per size)."""
    x, log_q2 = np.broadcast_to(x, 4), np.log(np.broadcast_to(q, 4) ** 2)

    def f(a, lq2):
        return jnp.sum(pdf.xfxQ2(jnp.full(4, pid), a, jnp.exp(lq2)))

    return tuple(np.asarray(d) for d in jax.grad(f, argnums=(0, 1))(x, log_q2))


@pytest.mark.parametrize("pid", [21, 2, -1, 4, 5])
@pytest.mark.parametrize("x", [3e-5, 0.013, 0.41])
def test_subgrid_boundary_continuity_as_lhapdf_defines_it(pdf, pid, x):
    """At the boundary Q_b = 4.92 GeV (a repeated knot) the value and ∂/∂x are continuous;
    ∂/∂ln Q² jumps from the lower subgrid's backward difference to the upper subgrid's
    forward difference of the x-interpolated knot values (LHAPDF ≥ 6.4)."""
    q = np.array(pdf.grid.q_knots)
    b = int(np.flatnonzero(np.diff(q) == 0)[0])  # q[b] == q[b+1] == 4.92
    qb, below, above = q[b], q[b - 1], q[b + 2]
    eps = 1e-10
    f = {name: float(pdf.xfxQ(pid, x, value)) for name, value in
         (("b", qb), ("below", below), ("above", above), ("b-", qb * (1 - eps)),
          ("b+", qb * (1 + eps)))}
    scale = max(abs(f["b"]), 1e-3)
    assert abs(f["b-"] - f["b"]) <= 1e-7 * scale and abs(f["b+"] - f["b"]) <= 1e-7 * scale
    dx, dq = _partials(pdf, pid, x, qb * np.array([1 - eps, 1, 1 + eps, 1]))
    (dx_minus, dx_at, dx_plus), (dq_minus, dq_at, dq_plus) = dx[:3], dq[:3]
    assert_close(dx_minus, dx_plus, rtol=1e-6, atol=1e-6 * scale / x, what="d/dx")
    assert_close(dx_at, dx_plus, rtol=1e-6, atol=1e-6 * scale / x, what="d/dx")
    backward = (f["b"] - f["below"]) / (2 * math.log(qb / below))
    forward = (f["above"] - f["b"]) / (2 * math.log(above / qb))
    assert_close(dq_minus, backward, rtol=1e-6, atol=1e-9 * scale)
    assert_close(dq_at, forward, rtol=1e-6, atol=1e-9 * scale)
    assert_close(dq_plus, forward, rtol=1e-6, atol=1e-9 * scale)


def test_first_derivatives_are_continuous_at_interior_knots(pdf):
    """Inside a subgrid the interpolant is C¹ in ln x and ln Q² (shared knot slopes)."""
    x_knot, q_knot = pdf.grid.x_knots[60], pdf.grid.q_knots[20]
    eps = 1e-9
    for pid in (21, 1, -3):
        for x, q, on_x in ((x_knot, 30.0, True), (2e-3, q_knot, False)):
            shift = np.array([1 - eps, 1 + eps, 1, 1])
            dx, dq = _partials(pdf, pid, x * shift if on_x else x, q if on_x else q * shift)
            below, above = (dx[0], dq[0]), (dx[1], dq[1])
            assert_close(below, above, rtol=1e-6, atol=1e-10, what="derivatives at a knot")


# --- extrapolation: LHAPDF's ContinuationExtrapolator, transcribed point by point ---------

def _lhapdf_continuation(pdf, pid, x, q2):
    """Scalar transcription of LHAPDF 6.5 ContinuationExtrapolator::extrapolateXQ2."""
    xk, qk = pdf.grid.x_knots, pdf.grid.q2_knots
    x_min, x_min1, q2_min, q2_max1, q2_max = xk[0], xk[1], qk[0], qk[-2], qk[-1]

    def interp(a, b):
        return float(pdf.xfxQ2(pid, a, b))

    def lin(v, vl, vh, yl, yh):
        frac = (math.log(v) - math.log(vl)) / (math.log(vh) - math.log(vl))
        if yl > 1e-3 and yh > 1e-3:
            return math.exp(math.log(yl) + frac * (math.log(yh) - math.log(yl)))
        return yl + frac * (yh - yl)

    if x < x_min and q2_min <= q2 <= q2_max:
        return lin(x, x_min, x_min1, interp(x_min, q2), interp(x_min1, q2))
    if x >= x_min and q2 > q2_max:
        return lin(q2, q2_max, q2_max1, interp(x, q2_max), interp(x, q2_max1))
    if x < x_min and q2 > q2_max:
        f0 = lin(q2, q2_max, q2_max1, interp(x_min, q2_max), interp(x_min, q2_max1))
        f1 = lin(q2, q2_max, q2_max1, interp(x_min1, q2_max), interp(x_min1, q2_max1))
        return lin(x, x_min, x_min1, f0, f1)
    assert q2 < q2_min
    if x < x_min:
        f0 = lin(x, x_min, x_min1, interp(x_min, q2_min), interp(x_min1, q2_min))
        f1 = lin(x, x_min, x_min1, interp(x_min, 1.01 * q2_min), interp(x_min1, 1.01 * q2_min))
    else:
        f0, f1 = interp(x, q2_min), interp(x, 1.01 * q2_min)
    anom = max(-2.5, (f1 - f0) / f0 / 0.01) if abs(f0) >= 1e-5 else 1.0
    r = q2 / q2_min
    return f0 * r ** (anom * r + 1 - r)


EXTRAPOLATION_POINTS = [(1e-11, 100.0), (3e-10, 4.0), (1e-3, 2e5), (0.6, 3e5), (1e-12, 1e6),
                        (1e-3, 1.2), (0.3, 0.5), (0.95, 1.0), (1e-11, 0.7), (2e-10, 1.64)]


def test_continuation_extrapolation_follows_lhapdf(pdf):
    pids = (21, 2, -2, 3, 5)
    x = np.array([p[0] for p in EXTRAPOLATION_POINTS for _ in pids])
    q = np.array([p[1] for p in EXTRAPOLATION_POINTS for _ in pids])
    pid = np.array([f for _ in EXTRAPOLATION_POINTS for f in pids])
    ours = np.concatenate([pdf.xfxQ(pid[i:i + 16], x[i:i + 16], q[i:i + 16])
                           for i in range(0, x.size, 16)])  # batches of 16 share compilations
    expected = [_lhapdf_continuation(pdf, int(f), a, b * b) for a, b, f in zip(x, q, pid)]
    assert np.all(np.isfinite(ours))
    assert_close(ours, expected, rtol=1e-12, atol=1e-15, what="continuation")


def test_extrapolation_is_continuous_at_the_grid_edges_and_vanishes_as_q_to_0(pdf):
    x_min, q_min, q_max = pdf.x_min, pdf.q_min, pdf.q_max
    for pid in (21, 2, -3):
        for inside, outside in (((x_min, 10.0), (x_min * (1 - 1e-9), 10.0)),
                                ((1e-3, q_min), (1e-3, q_min * (1 - 1e-9))),
                                ((1e-3, q_max), (1e-3, q_max * (1 + 1e-9)))):
            assert_close(pdf.xfxQ(pid, *outside), pdf.xfxQ(pid, *inside), rtol=1e-7)
        assert abs(float(pdf.xfxQ(pid, 0.1, 1e-4))) < 1e-5 * abs(float(pdf.xfxQ(pid, 0.1, q_min)))


# --- derivatives against central finite differences (float64) ----------------------------

@pytest.mark.parametrize("point", [(2e-4, 7.0), (0.37, 140.0), (0.05, 4.5), (1e-10, 50.0),
                                   (3e-3, 1.3), (0.2, 2e5)])
def test_gradients_in_x_and_q_match_finite_differences(pdf, point):
    """In the grid, in each subgrid and in the extrapolation regions. Variables ln x, ln Q
    keep the finite-difference steps relative; autodiff goes through x = e^v₀, Q = e^v₁."""
    pids = jnp.array([21, 1, -2, 4])

    def f(v):
        return jnp.sum(pdf.xfxQ(pids, jnp.exp(v[0]), jnp.exp(v[1]))
                       * jnp.array([1.0, 2.0, -1.0, 0.5]))

    v = np.log(np.array(point))
    grad = np.asarray(jax.grad(f)(jnp.asarray(v)))
    assert_close(grad, central_difference(f, v, eps=1e-7), rtol=1e-6, atol=1e-7,
                 what=f"grad at {point}")


def test_gradient_with_respect_to_the_knots_matches_finite_differences(pdf):
    x = jnp.array([2e-4, 0.0123, 0.31, 1e-10, 0.4])
    q = jnp.array([6.1, 30.0, 2.2, 40.0, 1.2])  # grid, grid, lower subgrid, small-x, small-Q
    pids = jnp.array([21, 2, 1, 21, -1])
    # The lower-left knot of each point's cell (of the clamped point outside the grid).
    xk, q2k = np.array(pdf.grid.x_knots), np.array(pdf.grid.q2_knots)
    cell = [np.clip(np.searchsorted(k, np.clip(v, k[0], k[-1]), side="right") - 1, 0,
                    k.size - 2) for k, v in ((xk, np.asarray(x)), (q2k, np.asarray(q) ** 2))]
    index = (cell[0], cell[1], np.array([pdf.flavours.index(int(p)) for p in pids]))

    weights = 1 / jnp.abs(pdf.xfxQ(pids, x, q))  # terms of order 1 keep differences exact

    def f(values):
        xf = pdf.grid.xf.at[index].set(values)
        return jnp.sum(weights * eqx.tree_at(lambda p: p.grid.xf, pdf, xf).xfxQ(pids, x, q))

    values = np.asarray(pdf.grid.xf[index])
    full = eqx.filter_grad(lambda p: jnp.sum(weights * p.xfxQ(pids, x, q)))(pdf)
    assert full.grid.xf.shape == pdf.grid.xf.shape
    grad = np.asarray(full.grid.xf)[index]
    assert np.all(np.abs(grad) > 1e-3)
    assert_close(grad, central_difference(f, values, eps=1e-6), rtol=1e-6, atol=1e-8)


# --- transformations, dtypes, batching ---------------------------------------------------

def test_jit_vmap_grad_and_batch_shapes(pdf):
    x = jnp.array([[1e-3, 0.1, 0.5], [2e-2, 0.3, 0.7]])
    q = jnp.array([10.0, 91.1876, 1000.0])
    eager = pdf.xfxQ(21, x, q)
    assert eager.shape == (2, 3)
    mapped = jax.vmap(jax.vmap(lambda a, b: pdf.xfxQ(0, a, b)), in_axes=(0, None))(x, q)
    assert_close(mapped, eager, rtol=1e-14, what="vmap, pid 0 = gluon")
    everything = pdf.xfxQ_all(x, q)
    assert everything.shape == (2, 3, 11)
    assert_close(everything[..., pdf.flavours.index(21)], eager, rtol=1e-14)
    pids = jnp.array([[21, 2, -1], [1, 5, 6]])
    per_point = pdf.xfxQ(pids, x, q)
    assert float(per_point[1, 2]) == 0.0  # the top quark is not in the set
    assert_close(per_point[0, 1], pdf.xfxQ(2, 0.1, 91.1876), rtol=1e-14)
    gx, gq = jax.grad(lambda a, b: jnp.sum(pdf.xfxQ(pids[0, :2].repeat(2), a, b)),
                      argnums=(0, 1))(x[0, :2].repeat(2), q[:2].repeat(2))
    assert gx.shape == (4,) and np.all(np.isfinite(gx)) and np.all(np.isfinite(gq))
    assert_close(jax.vmap(lambda b: pdf.alphasQ(b))(q), pdf.alphasQ(q), rtol=1e-14)
    # Under jit (the PDF an argument): invalid points give NaN, only there; pids the set
    # lacks or that are no partons give 0 (traced values cannot be checked).
    jitted = jax.jit(lambda p, f, a, b: p.xfxQ(f, a, b))
    out = jitted(pdf, jnp.array([21, 21, 21, 7, 21, 2]), jnp.array([0.0, 0.1, 1.5, 0.1, 0.1, 0.3]),
                 jnp.array([10.0, -1.0, 10.0, 10.0, 10.0, 1000.0]))
    assert np.all(np.isnan(np.asarray(out)[:3])) and float(out[3]) == 0.0
    assert_close(out[4:], [pdf.xfxQ(21, 0.1, 10.0), pdf.xfxQ(2, 0.3, 1000.0)], rtol=1e-14)


def test_vmap_over_events_matches_flat_evaluation_and_keeps_the_table_unbatched(pdf):
    """Mapped over events (how MEM integrands call the PDF), with one event reaching below
    x_min and Q_min and the others inside the grid: values and derivatives w.r.t. x, Q and
    the grid equal the flat evaluation, and no intermediate carries the coefficient table
    along the mapped axis (a per-event ``lax.cond`` predicate broadcast it to every event)."""
    x = jnp.array([[1e-3, 0.1, 0.5], [2e-2, 0.3, 0.7], [1e-10, 0.2, 0.05]])
    q = jnp.array([[10.0, 91.2, 1000.0], [50.0, 20.0, 300.0], [50.0, 0.5, 2e5]])

    def per_event(a, b):
        return pdf.xfxQ_all(a, b)

    mapped = jax.vmap(per_event)(x, q)
    assert_close(mapped, pdf.xfxQ_all(x, q), rtol=1e-14, what="vmap over events")
    inside = jax.vmap(per_event)(x[:2], q[:2])
    assert_close(inside, pdf.xfxQ_all(x[:2], q[:2]), rtol=1e-14, what="vmap, all in grid")

    def total(p, a, b, evaluate):
        return jnp.sum(jnp.sin(evaluate(p, a, b)))

    flat = eqx.filter_grad(lambda args: total(*args, lambda p, a, b: p.xfxQ_all(a, b)))((pdf, x, q))
    vmapped = eqx.filter_grad(lambda args: total(
        *args, lambda p, a, b: jax.vmap(lambda u, v: p.xfxQ_all(u, v))(a, b)))((pdf, x, q))
    for got, want, what in ((vmapped[1], flat[1], "d/dx"), (vmapped[2], flat[2], "d/dQ"),
                            (vmapped[0].grid.xf, flat[0].grid.xf, "d/d grid")):
        assert_close(got, want, rtol=1e-12, atol=1e-300, what=what)

    table_size = pdf.grid.coefficient_table(jnp.float64).size
    jaxpr = jax.make_jaxpr(jax.vmap(per_event))(x, q)
    sizes = [math.prod(v.aval.shape) for eqn in _all_equations(jaxpr.jaxpr) for v in eqn.outvars]
    assert max(sizes) < 2 * table_size, "the coefficient table was broadcast along the events"


def _all_equations(jaxpr):
    """Equations of a jaxpr and of every jaxpr nested in them."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    sub = sub.jaxpr
                if isinstance(sub, jax.extend.core.Jaxpr):
                    yield from _all_equations(sub)


def test_float32_smoke(pdf):
    x = jnp.array([1e-4, 0.02, 0.5, 1e-10], dtype=jnp.float32)
    q = jnp.array([3.0, 100.0, 2000.0, 1.2], dtype=jnp.float32)
    for out, ref in ((pdf.xfxQ_all(x, q), pdf.xfxQ_all(x.astype(float), q.astype(float))),
                     (pdf.alphasQ(q), pdf.alphasQ(q.astype(float)))):
        assert out.dtype == jnp.float32
        assert_close(out, ref, rtol=2e-4, atol=1e-5)


# --- input checking ----------------------------------------------------------------------

@pytest.mark.parametrize("x, q, match", [(0.0, 10.0, r"x must lie in \(0, 1\]"),
                                         (1.5, 10.0, r"\(0, 1\]"), (-0.1, 10.0, r"\(0, 1\]"),
                                         (np.nan, 10.0, "NaN"), (0.1, 0.0, "positive"),
                                         (0.1, -5.0, "positive"), (0.1, np.inf, "finite"),
                                         (0.1, np.nan, "NaN")])
def test_bad_kinematics_raise_outside_jit(pdf, x, q, match):
    with pytest.raises(ValueError, match=match):
        pdf.xfxQ(21, x, q)
    with pytest.raises(ValueError, match=match):
        pdf.xfxQ_all(np.array([0.1, x]), q)


@pytest.mark.parametrize("pid", [7, 100, -21, 25, np.array([21, 7])])
def test_unknown_flavour_raises(pdf, pid):
    with pytest.raises(ValueError, match="not a PDG parton id"):
        pdf.xfxQ(pid, 0.1, 10.0)


def test_bad_types_raise(pdf):
    with pytest.raises(TypeError, match="integer"):
        pdf.xfxQ(np.array([21.0]), 0.1, 10.0)
    with pytest.raises(TypeError, match="bool"):
        pdf.xfxQ(True, 0.1, 10.0)
    with pytest.raises(TypeError, match="real"):
        pdf.xfxQ(21, "0.1", 10.0)
    with pytest.raises(ValueError, match="positive"):
        pdf.alphasQ(0.0)
    with pytest.raises(TypeError, match="AlphaS"):
        pdf.with_alphas(0.118)
    assert np.isnan(float(jax.jit(lambda q: pdf.alphasQ(q))(-1.0)))


# --- loading ------------------------------------------------------------------------------

def test_shipped_default_set_and_metadata(pdf):
    data = importlib.resources.files("diffsim.pdf").joinpath("data", NAME)
    assert data.joinpath(f"{NAME}.info").read_text().startswith("# RECONSTRUCTED .info")
    assert "arXiv:1706.00428" in data.joinpath("PROVENANCE.md").read_text()
    assert pdf.name == NAME and pdf.member == 0
    assert pdf.flavours == (-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5)
    assert (pdf.x_min, pdf.x_max, pdf.q_min, pdf.q_max) == (1e-9, 1.0, 1.65, 1e5)
    info = pdf.info
    assert info["SetIndex"] == 315000 and info["PdfType"] == "central"
    assert info["Interpolator"] == "logcubic" and info["MZ"] == 91.2
    assert info["MTop"] == 172.5  # set value overrides the lhapdf.conf default (172.9)
    assert isinstance(pdf.alpha_s, IpolAlphaS)
    leaves = jax.tree_util.tree_leaves(pdf)
    assert any(leaf is pdf.grid.xf for leaf in leaves) and hash(jax.tree_util.tree_structure(pdf))


def test_load_by_path_and_from_lhapdf_data_path(pdf, tmp_path, monkeypatch, shared_data):
    source = shared_data / "pdf" / NAME
    assert_close(dpdf.load(source).xfxQ(21, 0.01, 50.0), pdf.xfxQ(21, 0.01, 50.0), rtol=0)
    copy = tmp_path / "sets" / "MyCopy"
    copy.mkdir(parents=True)
    shutil.copy(source / f"{NAME}.info", copy / "MyCopy.info")
    shutil.copy(source / f"{NAME}_0000.dat", copy / "MyCopy_0000.dat")
    monkeypatch.setenv("LHAPDF_DATA_PATH", f"/nonexistent:{tmp_path / 'sets'}")
    other = dpdf.load("MyCopy")
    assert other.name == "MyCopy"
    assert_close(other.xfxQ(2, 0.3, 7.0), pdf.xfxQ(2, 0.3, 7.0), rtol=0)
    assert dpdf.load(copy / "MyCopy.info").name == "MyCopy"
    with pytest.raises(ValueError, match="NumMembers"):
        dpdf.load("MyCopy", member=3)
    info = copy / "MyCopy.info"
    info.write_text(info.read_text() + "Extrapolator: nearest\n")
    with pytest.raises(ValueError, match="Extrapolator 'nearest' is not implemented"):
        dpdf.load(copy)
    with pytest.raises(ValueError, match="member"):
        dpdf.load(member=-1)


def test_config_defaults_are_lhapdfs(shared_data):
    conf = parse_info((shared_data / "pdf" / "lhapdf.conf.defaults_LHAPDF623").read_text())
    assert dpdf.set.CONFIG_DEFAULTS == conf


def test_force_positive_levels(pdf):
    """LHAPDF ForcePositive: 1 clips negative values to 0, 2 raises values below 1e-10."""
    x, q, pid = np.array([1e-5, 1e-5, 0.1]), np.array([2.0, 2.0, 100.0]), np.array([-3, 21, 5])
    plain = np.asarray(pdf.xfxQ(pid, x, q))
    assert plain[0] < 0  # this LO member is negative there, and LHAPDF returns it
    for level, floor in ((1, 0.0), (2, 1e-10)):
        forced = dpdf.PDF(pdf.grid, pdf.alpha_s, pdf.flavours, pdf.name, pdf.member,
                          force_positive=level)
        assert_close(forced.xfxQ(pid, x, q), np.maximum(plain, floor), rtol=0)


def test_missing_set_error_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("LHAPDF_DATA_PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        dpdf.load("CT18NLO")
    message = str(error.value)
    assert isinstance(error.value, PDFSetNotFoundError)
    assert str(tmp_path / "CT18NLO") in message and "/usr/share/LHAPDF" in message
    assert "lhapdf install CT18NLO" in message and "LHAPDF_DATA_PATH" in message
    assert "https://lhapdf.hepforge.org/pdfsets" in message
    with pytest.raises(FileNotFoundError, match="not an LHAPDF set directory"):
        dpdf.load(tmp_path / "nothing")


def test_readers_parse_the_format_and_reject_malformed_files():
    info = parse_info('# comment\nSetDesc: "a: b"\nFlavors: [-1, 21,\n  1]\nXMin: 1.0e-09\n'
                      "NumMembers: 3\nFlag: true\nName: plain text\n")
    assert info == {"SetDesc": "a: b", "Flavors": [-1, 21, 1], "XMin": 1e-9, "NumMembers": 3,
                    "Flag": True, "Name": "plain text"}
    with pytest.raises(ValueError, match="expected 'key: value'"):
        parse_info("no colon here\n")
    grid = ("PdfType: central\nFormat: lhagrid1\n---\n1e-3 1e-2 1e-1 0.5 1\n2 3\n21 2\n"
            + "1.0 2.0\n" * 10 + "---\n1e-3 1e-2 1e-1 0.5 1\n3 4 5\n21 2\n" + "1.0 2.0\n" * 15
            + "---\n")
    member = parse_member(grid)
    assert member.xf.shape == (5, 5, 2) and member.subgrid_sizes == (2, 3)
    assert list(member.q) == [2, 3, 3, 4, 5] and member.pids == (21, 2)
    with pytest.raises(ValueError, match="'---'"):
        parse_member(grid.rstrip("-\n"))
    with pytest.raises(ValueError, match="values, expected"):
        parse_member(grid.replace("1.0 2.0\n---", "1.0\n---", 1))
    with pytest.raises(ValueError, match="x knots differ"):
        parse_member(grid.replace("---\n1e-3 1e-2 1e-1 0.5 1\n3", "---\n1e-3 1e-2 0.2 0.5 1\n3"))


def test_knot_search_is_lhapdf_upper_bound(pdf):
    rng = np.random.default_rng(2)
    for knots in (pdf.grid.x_knots, pdf.grid.q2_knots, pdf.alpha_s.q2_knots):
        k = np.array(knots)
        values = np.concatenate([k, np.nextafter(k, 0), np.nextafter(k, np.inf),
                                 np.exp(rng.uniform(np.log(k[0]) - 1, np.log(k[-1]) + 1, 500))])
        expected = np.clip(np.searchsorted(k, values, side="right") - 1, 0, k.size - 2)
        ours = locate(tuple(knots), jnp.asarray(values), jnp.log(jnp.asarray(values)))
        np.testing.assert_array_equal(np.asarray(ours), expected)


# --- αs objects ---------------------------------------------------------------------------

def test_fixed_alphas_and_with_alphas(pdf):
    fixed = pdf.with_alphas(FixedAlphaS(0.118))
    assert_close(fixed.alphasQ(jnp.array([2.0, 500.0])), [0.118, 0.118], rtol=0)
    assert_close(fixed.xfxQ(21, 0.1, 10.0), pdf.xfxQ(21, 0.1, 10.0), rtol=0)
    assert float(jax.grad(lambda a: FixedAlphaS(a).alphasQ(91.0))(0.118)) == 1.0
    assert isinstance(pdf.alpha_s, IpolAlphaS)  # the original is unchanged


def test_analytic_one_loop_alphas_reproduces_the_exact_one_loop_table(pdf):
    """The set's AlphaS_Vals are exact 1-loop running (αs(91.2) = 0.118, thresholds 1.51 and
    4.92 GeV, per the .info header); 1-loop analytic αs with matched Λ_nf is that solution."""
    def beta0(nf):  # LHAPDF's rounded (33 - 2 nf)/(12π)
        return 0.875352187 - 0.053051647 * nf

    lambda5 = 91.2 * math.exp(-0.5 / (beta0(5) * 0.118))
    alpha_b = 1 / (beta0(5) * math.log(4.92**2 / lambda5**2))
    lambda4 = 4.92 * math.exp(-0.5 / (beta0(4) * alpha_b))
    alpha_c = 1 / (beta0(4) * math.log(1.51**2 / lambda4**2))
    lambda3 = 1.51 * math.exp(-0.5 / (beta0(3) * alpha_c))
    analytic = AnalyticAlphaS({3: lambda3, 4: lambda4, 5: lambda5},
                              [0.0, 0.0, 0.0, 1.51, 4.92, 172.5], order=1)
    qs, vals = np.array(pdf.info["AlphaS_Qs"]), np.array(pdf.info["AlphaS_Vals"])
    assert_close(analytic.alphasQ(qs), vals, rtol=2e-7, what="1-loop vs table")
    assert abs(1 - 0.875352187 / (33 / (12 * math.pi))) < 1e-9
    two_loop = AnalyticAlphaS({5: 0.2}, [0, 0, 0, 1.3, 4.2, 173], order=2)
    b0, b1, L = beta0(5), 0.6459225457 - 0.0802126037 * 5, math.log(100.0**2 / 0.04)
    assert_close(two_loop.alphasQ(100.0), (1 - b1 * math.log(L) / (b0**2 * L)) / (b0 * L),
                 rtol=1e-14)
    assert_close(AnalyticAlphaS({5: 0.2}, [0] * 6, order=0, alphas_mz=0.12).alphasQ(7.0), 0.12,
                 rtol=0)
    assert float(two_loop.alphasQ(0.1)) == np.finfo(np.float64).max  # below Λ, as LHAPDF
