"""VEGAS map invariants and integrator accuracy; flat Monte Carlo. Exact values from the
benchmark toys (../shared/data/benchmarks/integrands.md)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma, central_difference

from diffsim.inference.flat import integrate_flat
from diffsim.inference.vegas import SmoothVegasMap, Vegas, VegasMap, integrate_vegas

CAMEL_EXACT = 0.99999999995  # integrands.md, camel4
SIGMA = 0.05


def prod2x(x):
    """∏_i 2 x_i, exact integral 1 over the unit hypercube."""
    return jnp.prod(2 * x, axis=-1)


def camel(x):
    """camel4: two normalised 4-d Gaussians (σ = 0.05) at ⅓·𝟙 and ⅔·𝟙, weight ½ each."""
    norm = (SIGMA * math.sqrt(2 * math.pi)) ** -x.shape[-1]
    peaks = [jnp.exp(-jnp.sum((x - mu) ** 2, -1) / (2 * SIGMA**2)) for mu in (1 / 3, 2 / 3)]
    return 0.5 * norm * (peaks[0] + peaks[1])


def random_map(key, dim=3, n_bins=7):
    widths = jax.random.uniform(key, (dim, n_bins), minval=0.05, maxval=1.0)
    edges = jnp.cumsum(widths, axis=1) / jnp.sum(widths, axis=1, keepdims=True)
    return VegasMap(jnp.concatenate([jnp.zeros((dim, 1)), edges], axis=1))


# ---------------------------------------------------------------- map invariants


@jax.jit
def _round_trip(edges, y):
    vmap_ = VegasMap(edges)
    x, log_det = vmap_.forward(y)
    y_back, log_det_inv = vmap_.inverse(x)
    jac = jax.vmap(jax.jacfwd(lambda p: vmap_.forward(p)[0]))(y)
    batched = vmap_.forward(y.reshape(5, -1, 3))
    autodiff_log_det = jnp.linalg.slogdet(jac)[1]
    return x, log_det, y_back, log_det_inv, vmap_.forward(y_back)[0], autodiff_log_det, batched


def test_map_round_trip_and_log_det():
    vmap_ = random_map(jax.random.key(0))
    y = jax.random.uniform(jax.random.key(1), (500, 3))
    outputs = _round_trip(vmap_.edges, y)
    x, log_det, y_back, log_det_inv, x_again, autodiff_log_det, (xb, ldb) = outputs
    assert_close(y_back, y, atol=1e-12, what="inverse(forward(y))")
    assert_close(log_det_inv, -log_det, atol=1e-12, what="inverse log det")
    assert_close(x_again, x, atol=1e-12, what="forward(inverse(x))")
    assert jnp.all((x >= 0) & (x <= 1))
    assert_close(log_det, autodiff_log_det, atol=1e-12, what="log|det ∂x/∂y| vs autodiff")
    # leading batch axes broadcast
    assert_close(xb.reshape(500, 3), x, atol=1e-15)
    assert_close(ldb.reshape(500), log_det, atol=1e-15)


def test_smooth_map_keeps_the_knots_and_makes_the_jacobian_continuous():
    grid = random_map(jax.random.key(20))
    smooth = grid.smooth()
    assert isinstance(smooth, SmoothVegasMap) and smooth.dim == 3
    knots = jnp.broadcast_to(jnp.linspace(0, 1, grid.n_bins + 1)[:, None], (grid.n_bins + 1, 3))
    assert_close(smooth.forward(knots)[0], grid.edges.T, atol=1e-15, what="knots (i/n, edges[i])")
    # Just below and above every interior knot: the plain map's Jacobian jumps, the smooth one's does not.
    inner = knots[1:-1]
    below, above = (smooth.forward(inner + sign * 1e-9)[1] for sign in (-1, 1))
    assert_close(below, above, atol=1e-6, what="smooth log J across the knots")
    plain_jump = grid.forward(inner + 1e-9)[1] - grid.forward(inner - 1e-9)[1]
    assert np.min(np.abs(np.asarray(plain_jump))) > 1e-3, "the test grid's Jacobian should jump"
    # Round trip and log det against autodiff; the uniform grid stays the identity.
    y = jax.random.uniform(jax.random.key(21), (400, 3))
    x, log_det = smooth.forward(y)
    y_back, log_det_inv = smooth.inverse(x)
    assert_close(y_back, y, atol=1e-12, what="inverse(forward(y))")
    assert_close(log_det_inv, -log_det, atol=1e-10, what="inverse log det")
    jac = jax.vmap(jax.jacfwd(lambda p: smooth.forward(p)[0]))(y)
    assert_close(log_det, jnp.linalg.slogdet(jac)[1], atol=1e-10, what="log J vs autodiff")
    assert_close(VegasMap.uniform(3, 8).smooth().forward(y)[0], y, atol=1e-15, what="uniform grid")


def test_map_gradient_wrt_edges_matches_finite_differences():
    y = jax.random.uniform(jax.random.key(2), (50, 2))
    edges = random_map(jax.random.key(3), dim=2, n_bins=5).edges

    @jax.jit
    def loss(e):
        x, log_det = VegasMap(jnp.asarray(e)).forward(y)
        return jnp.sum(x**2) + jnp.sum(log_det)

    grad = jax.grad(loss)(edges)
    assert_close(grad, central_difference(loss, edges), rtol=1e-6, atol=1e-6, what="∂/∂edges")


def test_uniform_map_is_identity_and_validation():
    vmap_ = VegasMap.uniform(2, n_bins=10)
    y = jax.random.uniform(jax.random.key(4), (100, 2))
    x, log_det = vmap_.forward(y)
    assert_close(x, y, atol=1e-15) and assert_close(log_det, 0.0, atol=1e-14)
    single = VegasMap.uniform(2, n_bins=10, dtype=jnp.float32).forward(y.astype(jnp.float32))
    assert single[0].dtype == single[1].dtype == jnp.float32, "float32 is kept"
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        vmap_.forward(jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="edges must have shape"):
        VegasMap(jnp.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="positive int"):
        Vegas(0)
    with pytest.raises(ValueError, match="beta"):
        Vegas(2, beta=1.5)
    with pytest.raises(ValueError, match="2 per hypercube"):
        Vegas(2, n_strata=10).integrate(jax.random.key(0), prod2x, vmap_, 1, 100, progress=False)
    with pytest.raises(ValueError, match=r"weights \(N,\)"):
        Vegas(2, n_bins=10).integrate(
            jax.random.key(0), lambda x: x, vmap_, 1, 100, progress=False
        )


def test_adapt_concentrates_bins_and_respects_limits():
    """A peak at 0.3 (σ = 0.02) on axis 0, flat on axis 1: bins crowd into the peak."""
    n_bins = 50
    @jax.jit
    def step(key, edges):
        vmap_ = VegasMap(edges)
        y = jax.random.uniform(key, (20000, 2))
        x, log_det = vmap_.forward(y)
        w = jnp.exp(-((x[:, 0] - 0.3) ** 2) / (2 * 0.02**2) + log_det)
        unchanged = (vmap_.adapt(y, w, alpha=0.0), vmap_.adapt(y, jnp.zeros_like(w)))
        return vmap_.adapt(y, w).edges, [m.edges for m in unchanged]

    vmap_ = VegasMap.uniform(2, n_bins)
    for i in range(6):
        previous = vmap_
        edges, unchanged = step(jax.random.fold_in(jax.random.key(5), i), vmap_.edges)
        vmap_ = VegasMap(edges)
    edges = np.asarray(vmap_.edges)
    assert np.all(np.diff(edges, axis=1) > 0) and np.all(edges[:, [0, -1]] == [0, 1])
    inside = np.mean((edges[0, 1:] > 0.25) & (edges[0, 1:] < 0.35))
    assert inside > 0.5, f"only {inside:.0%} of axis-0 bins within ±2.5σ of the peak (10% uniform)"
    assert np.max(np.abs(edges[1] - np.linspace(0, 1, n_bins + 1))) < 0.1, "flat axis moved"
    # α = 0, and weights that are all zero, leave the map unchanged
    assert_close(unchanged[0], previous.edges, atol=1e-14, what="alpha = 0")
    assert_close(unchanged[1], previous.edges, atol=0, what="zero weights")


# ---------------------------------------------------------------- integrator accuracy


@pytest.fixture(scope="module", params=[None, 4], ids=["importance", "stratified"])
def camel_run(request):
    vegas = Vegas(4, n_bins=100, n_strata=request.param)
    vmap_, state = vegas.adapt(jax.random.key(7), camel, 8, 20000, progress=False)
    result = vegas.integrate(jax.random.key(8), camel, vmap_, 4, 20000, state=state, progress=False)
    return vegas, vmap_, state, result


def test_camel_within_5_sigma(camel_run):
    vegas, vmap_, state, result = camel_run
    assert_within_sigma(result.value, result.error, CAMEL_EXACT, what=f"camel4 {vegas.n_strata}")
    assert result.chi2_dof < 5  # 3 dof: P(χ²/dof > 5) ≈ 0.002
    assert result.calls == 80000 and result.n_iterations == 4
    assert state.training.n_iterations == 8
    # the map learned the peaks: flat MC has rel_std ≈ 70 for camel4, vegas reaches ~3
    assert result.rel_std < 5
    # frozen map and allocation: the same key gives the same answer
    again = vegas.integrate(jax.random.key(8), camel, vmap_, 4, 20000, state=state, progress=False)
    assert float(again.value) == float(result.value)


PROD2X_CONFIG = dict(n_bins=50, alpha=0.5, beta=0.75)


@pytest.mark.parametrize("n_strata", [None, 5])
def test_prod2x_within_5_sigma(n_strata):
    result = integrate_vegas(
        jax.random.key(9), prod2x, 4, n_adapt_iterations=5, n_points=5000, n_iterations=3,
        n_strata=n_strata, progress=False, **PROD2X_CONFIG,
    )
    assert_within_sigma(result.value, result.error, 1.0, what=f"prod2x {n_strata}")
    assert result.calls == 15000 and result.n_iterations == 3
    # flat rel_std of ∏ 2x_i (d=4) is √((4/3)⁴ − 1) ≈ 1.47
    assert result.rel_std < 0.5 and result.chi2_dof < 7  # 2 dof: P(χ²/dof > 7) < 1e-3


@pytest.mark.parametrize("n_strata", [None, 5])
def test_errors_are_honest(n_strata):
    """Mean squared pull of 20 fixed-key runs is 1 within its χ² uncertainty √(2/20)."""
    vegas = Vegas(4, n_strata=n_strata, **PROD2X_CONFIG)  # compiled by the test above
    vmap_, state = vegas.adapt(jax.random.key(10), prod2x, 2, 5000, progress=False)
    pulls = []
    for i in range(20):
        key = jax.random.key(100 + i)
        r = vegas.integrate(key, prod2x, vmap_, 1, 5000, state=state, progress=False)
        pulls.append((float(r.value) - 1.0) / float(r.error))
    mean_sq = np.mean(np.square(pulls))
    assert abs(mean_sq - 1) < 5 * math.sqrt(2 / 20), f"mean squared pull {mean_sq:.2f}"


# ---------------------------------------------------------------- flat Monte Carlo


class ScaledProd(eqx.Module):
    scale: jax.Array

    def __call__(self, x):
        return self.scale * prod2x(x)


def test_flat_within_5_sigma_batches_and_gradient():
    key = jax.random.key(12)
    result = integrate_flat(key, prod2x, 4, 10001, batch_size=1000)
    assert_within_sigma(result.value, result.error, 1.0, what="flat prod2x")
    assert result.calls == 10001
    assert_close(result.rel_std, math.sqrt((4 / 3) ** 4 - 1), rtol=0.1, what="flat rel_std")
    # batching does not change the answer: the points are jax.random.uniform(key, (N, dim))
    direct = jnp.mean(prod2x(jax.random.uniform(key, (10001, 4))))
    assert_close(result.value, direct, rtol=1e-13, what="batched vs direct")
    # gradients reach integrand parameters: d/da of a·I is I
    def scaled_integral(a):
        return integrate_flat(key, ScaledProd(a), 4, 1000).value

    value, grad = jax.value_and_grad(scaled_integral)(2.0)
    assert_close(grad, value / 2.0, rtol=1e-13, what="d(aI)/da")
    with pytest.raises(ValueError, match="n_points"):
        integrate_flat(key, prod2x, 4, 1)
