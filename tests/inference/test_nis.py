"""Neural importance sampling: channel weights, training modes, unbiasedness, checkpoints.

The integrand is the MadNIS Drell–Yan + Z′ toy with its three physics channels (exact
667.1322 pb, ../shared/data/benchmarks/integrands.md). Every estimate is tested within 5σ of
the exact value with fixed keys; training must lower the weights' relative spread.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from tolerance import assert_close, assert_within_sigma, central_difference

from diffsim.channels import ChannelPoint, SingleChannel
from diffsim.inference.multichannel import multichannel_sampler, vegas_initialise
from diffsim.inference.nis import integrate, sample_weighted
from diffsim.inference.toys import Camel4, DrellYanZPrimeToy
from diffsim.inference.training import (
    _partition,
    _pathwise_loss,
    _stratified,
    train,
    trainable,
)

TOY = DrellYanZPrimeToy()
FLOW = dict(n_layers=2, n_bins=8, hidden=16, depth=1, dtype=jnp.float64)
N_EVAL = 60_000


def fresh(seed=0, **options):
    return multichannel_sampler(jax.random.key(seed), TOY.n_channels, TOY.dim, 3, **FLOW, **options)


def rel_std(sample):
    result = sample.result()
    return float(result.rel_std)


def test_channel_weights_start_at_the_prior_and_drop_cleanly():
    sampler = fresh()
    prior = jax.random.dirichlet(jax.random.key(1), jnp.ones(3), (50,))
    features = jax.random.normal(jax.random.key(2), (50, 3))
    assert_close(sampler.alphas(prior, features), prior, rtol=1e-12, what="fresh α = prior")
    dropped = sampler.drop([1]).alphas(prior, features)
    assert_close(dropped[:, 1], 0.0, atol=0.0)
    assert_close(dropped.sum(-1), 1.0, rtol=1e-12)
    assert_close(dropped[:, 0] / dropped[:, 2], prior[:, 0] / prior[:, 2], rtol=1e-12)
    no_prior = sampler.alphas(jnp.zeros((2, 3)), features[:2])
    assert_close(no_prior, 1.0 / 3.0, rtol=1e-12, what="uniform where every prior vanishes")
    with pytest.raises(ValueError, match="at least one channel"):
        sampler.drop([0, 1, 2])


def test_untrained_multichannel_sampler_is_unbiased():
    sample = sample_weighted(jax.random.key(3), fresh(), TOY, N_EVAL)
    result = sample.result()
    assert_within_sigma(result.value, result.error, TOY.exact, what="identity flows, prior α")
    assert int(result.calls) == N_EVAL
    global_weights = sample.global_weights()
    assert_close(jnp.mean(global_weights), result.value, rtol=1e-12, what="global weights carry the estimate")


@pytest.fixture(scope="module")
def baseline_rel_std():
    return rel_std(sample_weighted(jax.random.key(4), fresh(), TOY, N_EVAL))


@pytest.mark.parametrize(
    "mode, loss",
    [
        ("online", "variance"),
        ("pathwise", "variance"),
        pytest.param("buffered", "variance", marks=pytest.mark.slow),
        pytest.param("online", "kl", marks=pytest.mark.slow),
    ],
)
def test_training_lowers_the_spread_and_stays_unbiased(mode, loss, baseline_rel_std):
    state = train(
        jax.random.key(5), fresh(), TOY, n_steps=80, batch_size=512, loss=loss, mode=mode,
        optimizer=optax.adam(3e-3), progress=False,
    )
    calls_per_draw = 512 * 3
    draws = 80 if mode != "buffered" else 20
    assert int(state.calls) == draws * calls_per_draw
    sample = sample_weighted(jax.random.key(6), state.sampler, TOY, N_EVAL, fractions=state.allocation)
    result = sample.result()
    assert_within_sigma(result.value, result.error, TOY.exact, what=f"{mode}/{loss}")
    assert result.rel_std < 0.8 * baseline_rel_std, (mode, loss, float(result.rel_std), baseline_rel_std)


class WithSpareChannel(eqx.Module):
    """The toy plus a fourth channel: the photon mapping again with 2 % of its prior weight."""

    toy: DrellYanZPrimeToy
    n_channels = 4
    dim = 4

    def channel_integrand(self, c, r):
        point = self.toy.channel_integrand(0 if c == 3 else c, r)
        prior = jnp.concatenate([point.prior[:, :1] * 0.98, point.prior[:, 1:], point.prior[:, :1] * 0.02], axis=-1)
        return ChannelPoint(point.weight, prior, point.features)


def test_channel_dropping_keeps_the_estimate_unbiased():
    """The spare channel carries ≈ 1 % of σ and is dropped; the photon channel takes its weight."""
    integrand = WithSpareChannel(TOY)
    sampler = multichannel_sampler(jax.random.key(0), 4, TOY.dim, 3, **FLOW)
    state = train(
        jax.random.key(7), sampler, integrand, n_steps=12, batch_size=256, drop_threshold=0.05, drop_after=10,
        progress=False,
    )
    assert state.sampler.active == (True, True, True, False)
    assert np.asarray(state.active).tolist() == [True, True, True, False]
    result = integrate(jax.random.key(8), state.sampler, integrand, N_EVAL, fractions=state.allocation)
    assert_within_sigma(result.value, result.error, TOY.exact, what="three channels left")


def test_vegas_initialisation_lowers_the_spread(baseline_rel_std):
    sampler, calls = vegas_initialise(jax.random.key(9), fresh(), TOY, n_iterations=4, n_per_iteration=20_000, n_bins=64)
    assert calls == 3 * 4 * 20_000
    sample = sample_weighted(jax.random.key(10), sampler, TOY, N_EVAL)
    result = sample.result()
    assert_within_sigma(result.value, result.error, TOY.exact, what="VEGAS pre-maps")
    assert result.rel_std < 0.5 * baseline_rel_std
    # The VEGAS grids are fixed pre-maps, not trained parameters.
    flows_spec, _ = trainable(sampler)
    assert not any(jax.tree_util.tree_leaves(flows_spec[0].outer))


def test_stratified_loss_stays_finite_when_no_variance_estimate_is_positive():
    """A reused draw can estimate every channel's variance at or below zero; the loss and its
    gradient must stay finite (they were 0/0 = NaN, which ended a prod2x training in NaN
    parameters), with equal fractions in that case and ``σ_c/Σσ`` otherwise."""
    def loss(scale, variances):
        return _stratified([scale * v for v in variances], 0.01)

    for variances, fractions in (
        ([jnp.asarray(-2e-3)], [1.0]),
        ([jnp.asarray(-1e-3), jnp.asarray(0.0), jnp.asarray(-4e-3)], [1 / 3] * 3),
        ([jnp.asarray(4.0), jnp.asarray(1.0), jnp.asarray(0.0)], [2 / 3, 1 / 3, 0.01]),
    ):
        value, grad = jax.value_and_grad(loss)(1.0, variances)
        expected = sum(float(v) / f for v, f in zip(variances, fractions))
        assert_close(value, expected, rtol=1e-12, what=f"stratified loss of {variances}")
        assert_close(grad, expected, rtol=1e-12, what="its derivative along the variances")


def test_pathwise_training_needs_the_smooth_vegas_grid():
    """Pathwise gradients miss the Jacobian jumps of a piecewise-linear grid, so train refuses
    it; on the smooth interpolant of the same grid pathwise training stays unbiased."""
    smooth, _ = vegas_initialise(jax.random.key(30), fresh(), TOY, n_iterations=2, n_per_iteration=10_000,
                                 n_bins=32, smooth=True)
    plain = smooth.with_flows([flow.with_outer(flow.outer.grid) for flow in smooth.flows])
    with pytest.raises(ValueError, match="smooth=True"):
        train(jax.random.key(31), plain, TOY, n_steps=1, batch_size=64, mode="pathwise", progress=False)
    state = train(jax.random.key(31), smooth, TOY, n_steps=10, batch_size=256, mode="pathwise",
                  optimizer=optax.adam(3e-3), progress=False)
    result = integrate(jax.random.key(32), state.sampler, TOY, N_EVAL, fractions=state.allocation)
    assert_within_sigma(result.value, result.error, TOY.exact, what="pathwise on the smooth grid")


def test_single_channel_wrapper_trains_on_a_plain_integrand():
    camel = Camel4()
    integrand = SingleChannel(camel, camel.dim)
    sampler = multichannel_sampler(jax.random.key(11), 1, camel.dim, camel.dim, **FLOW)
    before = integrate(jax.random.key(12), sampler, integrand, 20_000)
    state = train(jax.random.key(13), sampler, integrand, n_steps=150, batch_size=1024, optimizer=optax.adam(3e-3),
                  progress=False)
    after = integrate(jax.random.key(14), state.sampler, integrand, 20_000)
    assert_within_sigma(after.value, after.error, camel.exact, what="camel4 after training")
    assert after.rel_std < 0.5 * before.rel_std


@pytest.mark.parametrize("moment", [2.0, 8.0])
def test_pathwise_gradient_matches_finite_differences(moment):
    """d(loss)/d(one spline parameter) through the sample and the integrand vs central
    differences, for the stratified variance and the stratified 8-spread."""
    sampler = fresh()
    params, static = _partition(sampler)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    # Move every parameter off the identity so the flows are non-trivial.
    keys = jax.random.split(jax.random.key(15), len(leaves))
    leaves = [leaf + 0.05 * jax.random.normal(k, leaf.shape, leaf.dtype) for leaf, k in zip(leaves, keys)]
    target = max(range(len(leaves)), key=lambda i: leaves[i].size)

    @jax.jit
    def loss_of(theta):
        changed = [jnp.asarray(theta).reshape(leaf.shape) if i == target else leaf for i, leaf in enumerate(leaves)]
        p = jax.tree_util.tree_unflatten(treedef, changed)
        return _pathwise_loss(p, static, sampler.active, TOY, jax.random.key(16), 256, "variance", 0.01, moment)[0]

    theta = np.asarray(leaves[target]).ravel()
    indices = np.arange(0, theta.size, max(1, theta.size // 6))
    grad = np.asarray(jax.grad(loss_of)(jnp.asarray(theta)))[indices]

    def restricted(values):
        full = theta.copy()
        full[indices] = values
        return float(loss_of(full))

    numeric = central_difference(restricted, theta[indices], eps=1e-6)
    assert_close(grad, numeric, rtol=1e-5, atol=1e-8 * np.abs(numeric).max(), what="pathwise gradient")


def test_weight_moment_is_for_pathwise_variance_training_only():
    sampler = fresh()
    for options in (dict(mode="buffered"), dict(mode="pathwise", loss="reverse_kl")):
        with pytest.raises(ValueError, match="pathwise variance training only"):
            train(jax.random.key(19), sampler, TOY, n_steps=1, batch_size=64, weight_moment=4.0, progress=False, **options)
    with pytest.raises(ValueError, match=">= 2"):
        train(jax.random.key(19), sampler, TOY, n_steps=1, batch_size=64, mode="pathwise", weight_moment=1.0, progress=False)
    state = train(jax.random.key(19), sampler, TOY, n_steps=2, batch_size=64, mode="pathwise", weight_moment=8.0,
                  progress=False)
    assert int(state.step) == 2 and np.all(np.isfinite(np.asarray(state.losses[:2])))


def test_resumed_training_reproduces_the_uninterrupted_run(tmp_path):
    options = dict(n_steps=12, batch_size=128, mode="buffered", buffer_reuse=1, progress=False)
    reference = train(jax.random.key(17), fresh(), TOY, **options)

    class Interrupt(Exception):
        pass

    def stop_after_seven(state):
        if int(state.step) >= 7:
            raise Interrupt

    path = tmp_path / "state.eqx"
    with pytest.raises(Interrupt):
        train(jax.random.key(17), fresh(), TOY, checkpoint=path, checkpoint_every=2, callback=stop_after_seven, **options)
    assert path.exists() and not (tmp_path / "state.eqx.part").exists()
    resumed = train(jax.random.key(17), fresh(), TOY, checkpoint=path, checkpoint_every=2, **options)
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(reference, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(resumed, eqx.is_array))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_steps_fused_into_one_dispatch_reproduce_single_steps():
    """Ten buffered steps (a draw every other step) run one per dispatch and four per
    dispatch (chunks 0-4, 4-8, 8-10; the draw is carried inside the compiled loop) reach the
    same state: same calls, losses and network parameters up to rounding."""
    options = {"n_steps": 10, "batch_size": 128, "mode": "buffered", "buffer_reuse": 1, "progress": False}
    single = train(jax.random.key(18), fresh(), TOY, steps_per_dispatch=1, **options)
    fused = train(jax.random.key(18), fresh(), TOY, steps_per_dispatch=4, **options)
    assert int(single.calls) == int(fused.calls) == 5 * 128 * 3
    assert np.all(np.isfinite(np.asarray(fused.losses)))
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(single, eqx.is_inexact_array)),
                    jax.tree_util.tree_leaves(eqx.filter(fused, eqx.is_inexact_array))):
        assert_close(b, a, rtol=1e-9, atol=1e-12)


def test_a_diverging_training_stops_with_an_error_and_saves_nothing_diverged(tmp_path):
    """An integrand that returns NaN (or a flow that blows up) makes the loss non-finite:
    train raises instead of carrying NaN parameters on, and writes no checkpoint of them."""
    broken = SingleChannel(lambda r: jnp.sum(r, axis=-1) * jnp.nan, 2)
    sampler = multichannel_sampler(jax.random.key(40), 1, 2, 2, **FLOW)
    path = tmp_path / "state.eqx"
    options = dict(n_steps=3, batch_size=16, mode="online", checkpoint=path, checkpoint_every=1, progress=False)
    with pytest.raises(FloatingPointError, match=r"diverged at step 0 \(loss nan\)"):
        train(jax.random.key(41), sampler, broken, **options)
    assert not path.exists()
    # A finite loss whose update poisons the parameters: caught before the checkpoint is written.
    finite = SingleChannel(lambda r: jnp.sum(r, axis=-1), 2)
    with pytest.raises(FloatingPointError, match="step 0 \\(non-finite network parameters"):
        train(jax.random.key(41), sampler, finite, optimizer=optax.scale(jnp.nan), **options)
    assert not path.exists()


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match="mode must be"):
        train(jax.random.key(0), fresh(), TOY, n_steps=1, batch_size=8, mode="offline")
    with pytest.raises(ValueError, match="supports the losses"):
        train(jax.random.key(0), fresh(), TOY, n_steps=1, batch_size=8, mode="pathwise", loss="kl")
    with pytest.raises(ValueError, match="steps_per_dispatch"):
        train(jax.random.key(0), fresh(), TOY, n_steps=1, batch_size=8, steps_per_dispatch=0)
    with pytest.raises(ValueError, match="channels"):
        train(jax.random.key(0), multichannel_sampler(jax.random.key(0), 2, 4, 3, **FLOW), TOY, n_steps=1, batch_size=8)
