"""Normalizing flows: every configuration in the registry runs through the same invariants.

Invariants: forward∘inverse round trip, log_prob of samples equals the sampled log q, log
det vs the autodiff Jacobian (after randomising the weights: a fresh flow is the
identity), ∫ q = 1, identity at initialisation, samples inside the domain, jit/vmap/grad.
The spline itself is checked against distrax's RationalQuadraticSpline (a peer), and a
short maximum-likelihood training must lower the KL divergence to a Gaussian bump.
"""

import dataclasses
import functools
from collections.abc import Callable

import distrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats
from tolerance import assert_close, assert_within_sigma

from diffsim.flows import (
    Flow,
    coupling_masks,
    rational_quadratic_spline,
    real_flow,
    spline_knots,
    spline_parameter_count,
    unit_hypercube_flow,
)

SMALL = {"n_layers": 2, "n_bins": 4, "hidden": 8, "depth": 1, "dtype": jnp.float64}
N_POINTS = 64
N_JACOBIAN = 8


def compile_fast(fn):
    """Like ``eqx.filter_jit`` (array leaves traced, the rest static), with XLA's backend
    optimisation off for this function only: these tests are compile-bound, not run-bound."""

    @functools.partial(jax.jit, static_argnums=(1, 2), compiler_options={"xla_backend_optimization_level": 0})
    def run(dynamic, static_leaves, static_def):
        return fn(*eqx.combine(dynamic, jax.tree.unflatten(static_def, static_leaves)))

    def call(*args):
        dynamic, static = eqx.partition(args, eqx.is_array)
        leaves, treedef = jax.tree.flatten(static)
        return run(dynamic, tuple(leaves), treedef)

    return call


class QuadraticMap(eqx.Module):
    """A smooth bijection of ``[0, 1]^d`` (for ``|a| < 1``) as a fixed pre-map: ``x = y + a y (1 − y)``."""

    a: jax.Array

    def forward(self, y):
        return y + self.a * y * (1 - y), jnp.sum(jnp.log1p(self.a * (1 - 2 * y)), axis=1)

    def inverse(self, x):
        # a y² − (1 + a) y + x = 0, the root in [0, 1] written without cancellation.
        y = 2 * x / ((1 + self.a) + jnp.sqrt((1 + self.a) ** 2 - 4 * self.a * x))
        return y, -jnp.sum(jnp.log1p(self.a * (1 - 2 * y)), axis=1)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[jax.Array], Flow]
    context_dim: int = 0

    def context(self, key, n):
        return None if self.context_dim == 0 else jax.random.normal(key, (n, self.context_dim))


CASES = [
    Case("cube-d1", lambda k: unit_hypercube_flow(k, 1, **SMALL | {"n_layers": 1})),
    Case("cube-d2", lambda k: unit_hypercube_flow(k, 2, **SMALL)),
    Case(  # d = 4 with a fixed pre-bijection x = outer(flow(z))
        "cube-d4-outer",
        lambda k: unit_hypercube_flow(k, 4, outer=QuadraticMap(jnp.array([0.5, -0.3, 0.2, 0.0])), **SMALL),
    ),
    Case("real-d2", lambda k: real_flow(k, 2, bound=3.0, **SMALL)),
    Case("cube-d2-context3", lambda k: unit_hypercube_flow(k, 2, context_dim=3, **SMALL), 3),
]


def perturb(flow: Flow, seed: int, scale: float = 0.3) -> Flow:
    """Add Gaussian noise of width ``scale`` to every network parameter (not to ``outer``);
    drawn with NumPy so that no per-shape JAX kernels are compiled for it."""
    params, static = eqx.partition(flow.layers, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    rng = np.random.default_rng(seed)
    noisy = [p + scale * rng.standard_normal(p.shape).astype(p.dtype) for p in leaves]
    layers = eqx.combine(jax.tree.unflatten(treedef, noisy), static)
    return eqx.tree_at(lambda f: f.layers, flow, layers)


def base_draw(flow: Flow, key, n):
    """The base points ``sample_and_log_prob(key, n)`` pushes forward (its documented draw)."""
    if flow.base == "uniform":
        return jax.random.uniform(key, (n, flow.dim))
    return jax.random.normal(key, (n, flow.dim))


def normalisation_points(flow: Flow):
    """Points ``x`` and weights ``u`` with ``∫ q ≈ mean(u q(x))``, and whether ``u q`` is a
    Monte Carlo sample (``False``: a midpoint grid on the cube, error ~ h²/24 ∫|q''|)."""
    if flow.base == "uniform" and flow.dim <= 2:
        m = 256 if flow.dim == 2 else 4096
        edges = (np.arange(m) + 0.5) / m
        grid = np.stack(np.meshgrid(*[edges] * flow.dim, indexing="ij"), -1).reshape(-1, flow.dim)
        return jnp.asarray(grid), jnp.ones(len(grid)), False
    n = 2**16
    if flow.base == "uniform":
        return jax.random.uniform(jax.random.key(5), (n, flow.dim)), jnp.ones(n), True
    width = 3.0  # importance sampling from N(0, width²)
    x = width * jax.random.normal(jax.random.key(5), (n, flow.dim))
    return x, jnp.exp(-jnp.sum(jax.scipy.stats.norm.logpdf(x, scale=width), axis=1)), True


FD_STEP = 1e-6
N_FD = 4


@compile_fast
def invariants(flow: Flow, key, context, blocks, block_contexts):
    """Everything the invariant tests need, from one compiled function per configuration.

    ``blocks``: named extra points ``(M, d)`` (with context rows in ``block_contexts``) at
    which ``log q`` and its gradients w.r.t. the points and the parameters are evaluated in
    one pass together with the samples."""
    samples, log_q = flow.sample_and_log_prob(key, N_POINTS, context)
    z = base_draw(flow, key, N_POINTS)
    z_back, log_det_back = flow.inverse_and_log_det(samples, context)

    def one_point(zi, ci):
        return flow.forward_and_log_det(zi[None], None if ci is None else ci[None])[0][0]

    few = None if context is None else context[:N_JACOBIAN]
    jacobians = jax.vmap(jax.jacfwd(one_point))(z[:N_JACOBIAN], few)
    names = sorted(blocks)
    x_all = jnp.concatenate([samples] + [blocks[n] for n in names])
    c_all = None if context is None else jnp.concatenate([context] + [block_contexts[n] for n in names])
    log_prob, pullback = eqx.filter_vjp(lambda f, x: f.log_prob(x, c_all), flow, x_all)
    grad, grad_x = pullback(jnp.ones_like(log_prob))  # rows are independent: ∂ log q_i / ∂x_i
    offsets = np.cumsum([N_POINTS] + [blocks[n].shape[0] for n in names])
    identity = (z, jnp.zeros(N_POINTS)) if flow.outer is None else flow.outer.forward(z)
    return {
        "identity": identity,
        "z": z,
        "samples": samples,
        "log_q": log_q,
        "log_det": flow.base_log_prob(z) - log_q,
        "z_back": z_back,
        "log_det_back": log_det_back,
        "log_prob": log_prob[:N_POINTS],
        "autodiff_log_det": jnp.linalg.slogdet(jacobians)[1],
        "grad": jax.tree.leaves(eqx.filter(grad, eqx.is_inexact_array)),
        "blocks": {n: (log_prob[a:b], grad_x[a:b]) for n, a, b in zip(names, offsets[:-1], offsets[1:])},
    }


def fd_points(flow: Flow):
    """Base points for the finite-difference check and their ±FD_STEP stencil ``(N_FD, 2d, d)``
    (on ℝ^d two of them in the identity tails beyond the spline bound 3)."""
    rng = np.random.default_rng(7)
    if flow.base == "uniform":
        x = rng.uniform(0.05, 0.95, (N_FD, flow.dim))
    else:
        x = rng.uniform(-2.5, 2.5, (N_FD, flow.dim))
        x[:2, 0] = [3.5, -4.0]
    steps = FD_STEP * np.concatenate([np.eye(flow.dim), -np.eye(flow.dim)])
    return x, x[:, None, :] + steps[None]


def run_invariants(case: Case, flow: Flow):
    context = case.context(jax.random.key(2), N_POINTS)
    points, weights, monte_carlo = normalisation_points(flow)
    fd_base, stencil = fd_points(flow)
    blocks = {"points": points, "fd_base": jnp.asarray(fd_base), "stencil": jnp.asarray(stencil.reshape(-1, flow.dim))}
    if flow.base == "uniform" and flow.outer is None:
        blocks["outside"] = jnp.array([[1.5] * flow.dim, [-0.1] * flow.dim])
    block_contexts = None
    if case.context_dim:  # all extra points share one context row c (∫ q(x | c) dx = 1)
        row = case.context(jax.random.key(4), 1)
        block_contexts = {n: jnp.broadcast_to(row, (len(x), case.context_dim)) for n, x in blocks.items()}
    r = invariants(flow, jax.random.key(3), context, blocks, block_contexts)
    return r | {"context": context, "weights": weights, "monte_carlo": monte_carlo}


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.name)
def case_results(request):
    case = request.param
    fresh = case.build(jax.random.key(0))
    flow = perturb(fresh, seed=1)
    return case, fresh, flow, run_invariants(case, flow)


def test_round_trip(case_results):
    case, _, _, r = case_results
    assert_close(r["z_back"], r["z"], atol=1e-10, what=f"{case.name}: inverse(forward(z))")
    assert_close(r["log_det_back"], -r["log_det"], atol=1e-10, what=f"{case.name}: log dets")
    assert float(jnp.max(jnp.abs(r["log_det"]))) > 0.1, "perturbed flow should not be the identity"


def test_log_prob_of_samples(case_results):
    case, _, _, r = case_results
    assert_close(r["log_prob"], r["log_q"], atol=1e-10, what=f"{case.name}: log_prob vs sampled log q")


def test_log_det_matches_autodiff(case_results):
    case, _, _, r = case_results
    assert_close(r["log_det"][:N_JACOBIAN], r["autodiff_log_det"], atol=1e-10,
                 what=f"{case.name}: log det vs slogdet(jacfwd)")


def test_samples_in_domain(case_results):
    case, _, flow, r = case_results
    samples = np.asarray(r["samples"])
    assert samples.shape == (N_POINTS, flow.dim) and np.all(np.isfinite(samples))
    if flow.base == "uniform":
        assert np.all((samples >= 0) & (samples <= 1)), f"{case.name}: samples leave the unit cube"


def test_identity_at_initialisation(case_results):
    case, fresh, _, _ = case_results
    r = run_invariants(case, fresh)  # same structure as the perturbed flow: no recompilation
    expected, expected_log_det = r["identity"]  # (z, 0), or outer(z) with a pre-bijection
    assert_close(r["samples"], expected, atol=1e-12, what=f"{case.name}: fresh flow is the identity")
    assert_close(r["log_det"], expected_log_det, atol=1e-12, what=f"{case.name}: fresh log det")


def test_normalisation(case_results):
    """∫ q = 1: midpoint grid for d ≤ 2 on the cube (rtol 1e-3, far above h²/24 ∫|q''| at
    h = 1/256 for these smooth densities); Monte Carlo on [0,1]^4 and importance sampling
    from N(0, 3²) on ℝ² within 5σ."""
    case, _, _, r = case_results
    u = r["weights"] * jnp.exp(r["blocks"]["points"][0])
    if r["monte_carlo"]:
        assert_within_sigma(jnp.mean(u), jnp.std(u) / np.sqrt(len(u)), 1.0, what=f"{case.name}: ∫q")
    else:
        assert_close(jnp.mean(u), 1.0, rtol=1e-3, what=f"{case.name}: ∫q")


def test_outside_the_support(case_results):
    case, _, _, r = case_results
    if "outside" in r["blocks"]:
        log_q = np.asarray(r["blocks"]["outside"][0])
        assert np.all(log_q == -np.inf), f"{case.name}: log q outside the cube"


def test_grad(case_results):
    """Gradients of Σ log q (samples, normalisation points and points outside the support,
    which the double-where keeps finite) w.r.t. all parameters."""
    case, _, _, r = case_results
    grads = r["grad"]
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads), f"{case.name}: non-finite gradient"
    assert any(float(jnp.max(jnp.abs(g))) > 0 for g in grads), f"{case.name}: zero gradient"


def test_vmap_over_keys():
    """``vmap`` over keys gives the same samples as separate calls (conditional flow)."""
    case = next(c for c in CASES if c.context_dim)
    flow = perturb(case.build(jax.random.key(0)), seed=1)
    context = case.context(jax.random.key(2), N_POINTS)
    keys = jax.random.split(jax.random.key(6), 2)

    @compile_fast
    def both(flow, keys, context):
        return jax.vmap(lambda k: flow.sample(k, context=context))(keys), flow.sample(keys[1], N_POINTS, context)

    batched, alone = both(flow, keys, context)
    assert batched.shape == (2, N_POINTS, flow.dim)
    assert_close(batched[1], alone, atol=1e-12, what="vmap vs direct sampling")


def test_log_prob_gradient_matches_finite_differences(case_results):
    """∂ log q / ∂x by autodiff vs central differences (step 1e-6, float64: truncation and
    rounding both below 1e-8), inside the support and, on ℝ^d, in the identity tails."""
    case, _, flow, r = case_results
    grad_x = r["blocks"]["fd_base"][1]
    stencil = np.asarray(r["blocks"]["stencil"][0]).reshape(N_FD, 2, flow.dim)
    finite_difference = (stencil[:, 0] - stencil[:, 1]) / (2 * FD_STEP)
    assert_close(grad_x, finite_difference, rtol=1e-6, atol=1e-6, what=f"{case.name}: ∂ log q / ∂x")


# -- training -----------------------------------------------------------------------------

TARGET_MEAN = np.array([0.35, 0.6])
TARGET_STD = np.array([0.1, 0.15])
TARGET = scipy.stats.truncnorm(-TARGET_MEAN / TARGET_STD, (1 - TARGET_MEAN) / TARGET_STD,
                               loc=TARGET_MEAN, scale=TARGET_STD)  # a bump truncated to the unit square


@compile_fast
def train(flow: Flow, batches, held_out, key):
    """Maximum likelihood with Adam over ``batches (steps, batch, 2)``; returns the mean
    ``log q`` of the held-out target sample before and after, and samples of the trained
    flow (float32 networks, default-float data) with their round trip."""
    params, static = eqx.partition(flow, eqx.is_inexact_array)
    optimizer = optax.adam(1e-2)

    def step(carry, data):
        params, state = carry
        grads = jax.grad(lambda p: -jnp.mean(eqx.combine(p, static).log_prob(data)))(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (trained, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), batches)
    trained_flow = eqx.combine(trained, static)
    both = jnp.concatenate([flow.log_prob(held_out)[None], trained_flow.log_prob(held_out)[None]])
    x, log_q = trained_flow.sample_and_log_prob(key, 256)
    z_back, log_det_back = trained_flow.inverse_and_log_det(x)
    return {
        "mean_log_q": jnp.mean(both, axis=1),
        "x": x,
        "log_q": log_q,
        "log_prob": trained_flow.log_prob(x),
        "z": base_draw(trained_flow, key, 256),
        "z_back": z_back,
        "log_det_back": log_det_back,
    }


def test_training_lowers_kl():
    """Maximum-likelihood training (300 Adam steps) of a float32-network flow on a bump in
    the unit square removes most of KL(p‖q); float64 data stay exact through float32 networks."""
    flow = unit_hypercube_flow(jax.random.key(10), 2, n_layers=2, n_bins=8, hidden=16, depth=1)
    assert flow.dtype == jnp.float32
    rng = np.random.default_rng(11)
    batches = TARGET.rvs(size=(300, 256, 2), random_state=rng)
    held_out = TARGET.rvs(size=(4096, 2), random_state=rng)
    r = train(flow, batches, held_out, jax.random.key(12))
    kl_start, kl_end = np.mean(np.sum(TARGET.logpdf(held_out), axis=1)) - np.asarray(r["mean_log_q"])
    assert kl_start > 1.0, f"the bump should be far from uniform, KL = {kl_start}"
    assert kl_end < 0.1 * kl_start, f"KL {kl_start} -> {kl_end}"
    assert r["x"].dtype == r["log_q"].dtype == jnp.float64
    assert_close(r["z_back"], r["z"], atol=1e-10, what="float64 round trip through float32 networks")
    assert_close(r["log_det_back"], r["log_q"], atol=1e-10, what="log q vs inverse log det (uniform base)")
    assert_close(r["log_prob"], r["log_q"], atol=1e-10, what="log_prob vs sampled log q")


# -- the spline against a peer ---------------------------------------------------------------


@pytest.mark.parametrize("linear_tails", [False, True])
def test_spline_matches_distrax(linear_tails):
    """Our knots, spline and inverse agree with distrax.RationalQuadraticSpline (same
    softmax/softplus parameterisation; distrax's minimum bin size is absolute, ours relative)."""
    n_bins, n = 5, 200
    lower, upper = (-3.0, 3.0) if linear_tails else (0.0, 1.0)
    raw = 2.0 * jax.random.normal(jax.random.key(7), (n, spline_parameter_count(n_bins, linear_tails)))
    x = jax.random.uniform(jax.random.key(8), (n,), minval=lower, maxval=upper)

    @compile_fast
    def compare(raw, x):
        knots = spline_knots(raw, lower=lower, upper=upper, linear_tails=linear_tails,
                             min_bin_width=1e-3, min_bin_height=1e-3, min_derivative=1e-3)
        peer_raw = raw
        if linear_tails:  # distrax takes K + 1 slopes and overwrites the boundary ones with 1
            zero = jnp.zeros((n, 1))
            peer_raw = jnp.concatenate([raw[:, : 2 * n_bins], zero, raw[:, 2 * n_bins :], zero], axis=1)
        peer = distrax.RationalQuadraticSpline(
            peer_raw, lower, upper, boundary_slopes="identity" if linear_tails else "unconstrained",
            min_bin_size=1e-3 * (upper - lower), min_knot_slope=1e-3,
        )
        y, log_det = rational_quadratic_spline(x, *knots)
        return {
            "knots": knots, "peer_knots": (peer.x_pos, peer.y_pos, peer.knot_slopes),
            "forward": (y, log_det), "peer_forward": peer.forward_and_log_det(x),
            "inverse": rational_quadratic_spline(y, *knots, inverse=True),
        }

    r = compare(raw, x)
    for ours, theirs, what in zip(r["knots"], r["peer_knots"], ("x", "y", "δ")):
        assert_close(ours, theirs, atol=1e-12, what=f"{what} knots")
    assert_close(r["forward"][0], r["peer_forward"][0], atol=1e-12, what="spline vs distrax")
    assert_close(r["forward"][1], r["peer_forward"][1], atol=1e-10, what="spline log det vs distrax")
    # Where the spline is flat, rounding of y is amplified by dx/dy: compare in units of it.
    conditioning = jnp.minimum(1.0, jnp.exp(r["forward"][1]))
    assert_close((r["inverse"][0] - x) * conditioning, 0.0, atol=1e-13, what="spline inverse")
    assert_close(r["inverse"][1], -r["forward"][1], atol=1e-10, what="spline inverse log det")


# -- errors ---------------------------------------------------------------------------------


def test_bad_input_raises():
    flow = unit_hypercube_flow(jax.random.key(0), 2, context_dim=3, **SMALL)
    context = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        flow.log_prob(jnp.zeros((4, 3)), context)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        flow.forward_and_log_det(jnp.zeros(4), context)
    with pytest.raises(TypeError, match="floating point"):
        flow.log_prob(jnp.zeros((4, 2), jnp.int32), context)
    with pytest.raises(ValueError, match="needs a context"):
        flow.log_prob(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"context must have shape \(4, 3\)"):
        flow.log_prob(jnp.zeros((4, 2)), jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="one point per row"):
        flow.sample(jax.random.key(0), 5, context)
    plain = unit_hypercube_flow(jax.random.key(0), 2, **SMALL)
    with pytest.raises(ValueError, match="takes no context"):
        plain.log_prob(jnp.zeros((4, 2)), context)
    with pytest.raises(ValueError, match="positive int"):
        plain.sample(jax.random.key(0))
    with pytest.raises(ValueError, match="dim must be an int >= 1"):
        real_flow(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="every dimension"):
        unit_hypercube_flow(jax.random.key(0), 2, n_layers=1)
    with pytest.raises(ValueError, match="n_bins must be an int >= 1"):
        unit_hypercube_flow(jax.random.key(0), 2, n_bins=0)
    with pytest.raises(TypeError, match="forward"):
        plain.with_outer(object())
    with pytest.raises(ValueError, match="3K"):
        spline_knots(jnp.zeros((3, 8)), lower=0.0, upper=1.0, linear_tails=False)



@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5, 8])
def test_masks_transform_every_axis_and_split_every_pair_evenly(dim):
    """Each pair of layers transforms every axis once; over a cycle of 2^n − 1 pairs
    (n = ⌈log₂ dim⌉) every two axes are on opposite sides in exactly 2^(n−1) of them."""
    n_bits = (dim - 1).bit_length()
    n_pairs = max(2**n_bits - 1, 1)
    masks = coupling_masks(dim, 2 * n_pairs)
    counts = {}
    for first, second in zip(masks[0::2], masks[1::2]):
        assert sorted(first + second) == list(range(dim)) or dim == 1 and first == second == (0,)
        for a in first:
            for b in second:
                if a != b:
                    counts[frozenset((a, b))] = counts.get(frozenset((a, b)), 0) + 1
    assert counts == {frozenset((a, b)): 2 ** (n_bits - 1) for a in range(dim) for b in range(a)}
    assert coupling_masks(4, 6) == ((0, 2), (1, 3), (0, 1), (2, 3), (0, 3), (1, 2))


def test_flows_from_different_keys_share_their_static_structure():
    """Masks do not depend on the key, so a compiled program serves flows of every seed."""
    flows = [unit_hypercube_flow(jax.random.key(seed), 4, n_layers=6) for seed in (0, 1)]
    static = [eqx.partition(flow, eqx.is_array)[1] for flow in flows]
    assert static[0] == static[1]
    assert not np.allclose(flows[0].layers[0].conditioner.layers[0].weight, flows[1].layers[0].conditioner.layers[0].weight)
