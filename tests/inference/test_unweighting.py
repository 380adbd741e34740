"""Unweighting: bootstrap w_max against a NumPy reference, efficiency formulas, unbiasedness."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma

from diffsim.inference.unweighting import (
    bootstrap_max_weight,
    multichannel_efficiency,
    quantile_max_weight,
    unweight,
    unweighting_efficiency,
)

N = 20000


@pytest.fixture(scope="module")
def weights():
    """w = 3x² for uniform x: weights of a flat estimate of ∫_0^1 3x² dx = 1."""
    return 3 * jax.random.uniform(jax.random.key(0), (N,)) ** 2


def test_bootstrap_max_weight_matches_numpy_reference():
    w = np.random.default_rng(2).lognormal(size=500)
    key = jax.random.key(3)
    # the documented resampling, redone in NumPy
    keys = jax.random.split(key, 40)
    maxima = [np.max(w[np.asarray(jax.random.randint(k, (500,), 0, 500))]) for k in keys]
    assert_close(bootstrap_max_weight(key, jnp.asarray(w), 40), np.median(maxima), rtol=1e-15)
    # signed weights enter with their magnitude
    assert_close(bootstrap_max_weight(key, -jnp.asarray(w), 40), np.median(maxima), rtol=1e-15)
    with pytest.raises(ValueError, match="n_replicas"):
        bootstrap_max_weight(key, jnp.asarray(w), 0)


def test_quantile_and_efficiency_formulas(weights):
    w = np.asarray(weights)
    assert_close(quantile_max_weight(weights, 1.0), w.max(), rtol=0)
    assert_close(quantile_max_weight(weights, 0.99), np.quantile(w, 0.99), rtol=1e-14)
    assert_close(unweighting_efficiency(weights, 3.0), w.mean() / 3.0, rtol=1e-14)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        quantile_max_weight(weights, 1.5)
    with pytest.raises(TypeError, match="floating"):
        unweighting_efficiency(jnp.arange(3), 1.0)


def test_multichannel_efficiency_by_hand():
    a, b = jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, 0.5, 2.0, 1.0])
    integrals = jnp.array([2.0, 1.0])
    # ε_a = 2/3, ε_b = 1/2 with sample maxima; Σ (I_c/I) ε_c = (2/3)(2/3) + (1/3)(1/2)
    assert_close(multichannel_efficiency([a, b], integrals), 4 / 9 + 1 / 6, rtol=1e-15)
    given = multichannel_efficiency([a, b], integrals, channel_max_weights=jnp.array([4.0, 1.0]))
    assert_close(given, (2 / 3) * (2 / 4) + (1 / 3) * 1.0, rtol=1e-15)
    with pytest.raises(ValueError, match="channel_integrals"):
        multichannel_efficiency([a, b], jnp.ones(3))


def test_unweighting_is_unbiased_and_reports_overweights(weights):
    w_max = quantile_max_weight(weights, 0.99)  # leaves 1% overweights
    sample = jax.jit(unweight)(jax.random.key(4), weights, w_max)
    estimate = sample.estimate()
    assert_within_sigma(estimate.value, estimate.error, 1.0, what="unweighted ∫3x²")
    # every overweight is kept, with its own weight
    over = np.asarray(weights) > float(w_max)
    assert int(sample.n_overweight) == over.sum() and np.all(np.asarray(sample.accepted)[over])
    assert_close(np.asarray(sample.weights)[over], np.asarray(weights)[over], rtol=0)
    kept = np.asarray(sample.weights)[np.asarray(sample.accepted) & ~over]
    assert_close(kept, float(w_max), rtol=0, what="normal events carry w_max")
    assert_close(sample.overweight_fraction, over.sum() / int(sample.n_accepted), rtol=1e-15)
    assert sample.indices.size == int(sample.n_accepted)
    # accepted fraction = Σ min(1, w/w_max)/N in expectation (binomial 5σ)
    p = np.minimum(1, np.asarray(weights) / float(w_max))
    assert abs(int(sample.n_accepted) - p.sum()) < 5 * math.sqrt(np.sum(p * (1 - p)))
    assert_close(estimate.unweighting_efficiency, int(sample.n_accepted) / N, rtol=1e-15)
    # without overweights the expected accepted fraction is the efficiency formula
    w_top = jnp.max(weights)
    exact = unweight(jax.random.key(5), weights, w_top)
    expected = float(unweighting_efficiency(weights, w_top)) * N
    assert abs(int(exact.n_accepted) - expected) < 5 * math.sqrt(expected)
    assert int(exact.n_overweight) == 0


def test_negative_weights_keep_their_sign():
    x = jax.random.uniform(jax.random.key(6), (N,))
    w = 3 * x**2 - 0.5  # ∫_0^1 (3x² − ½) dx = ½, negative below x = 1/√6
    sample = unweight(jax.random.key(7), w, jnp.max(jnp.abs(w)))
    estimate = sample.estimate()
    assert_within_sigma(estimate.value, estimate.error, 0.5, what="signed unweighting")
    accepted = np.asarray(sample.accepted)
    assert np.all(np.sign(np.asarray(sample.weights)[accepted]) == np.sign(np.asarray(w)[accepted]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive w_max"):
        unweight(jax.random.key(7), w, 0.0)
