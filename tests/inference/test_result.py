"""IntegrationResult: constructors against hand computations, formatting, jit, validation."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma

from diffsim.inference.result import IntegrationResult


def test_from_weights_matches_numpy():
    w = np.random.default_rng(1).exponential(2.0, size=1001)
    result = IntegrationResult.from_weights(jnp.asarray(w))
    assert_close(result.value, w.mean(), rtol=1e-13, what="value")
    assert_close(result.error, w.std(ddof=1) / math.sqrt(w.size), rtol=1e-12, what="error")
    assert_close(result.rel_std, w.std() / w.mean(), rtol=1e-12, what="rel_std")
    assert_close(result.ess, w.sum() ** 2 / (w**2).sum(), rtol=1e-12, what="ess")
    # the identity ess = N / (1 + rel_std²) that the composites use
    assert_close(result.ess, w.size / (1 + float(result.rel_std) ** 2), rtol=1e-12)
    assert result.calls == 1001 and result.n_iterations == 1
    assert math.isnan(result.chi2_dof) and math.isnan(result.unweighting_efficiency)
    assert IntegrationResult.from_weights(jnp.asarray(w), calls=5000).calls == 5000


def test_combine_against_hand_computation():
    parts = [(1.0, 0.1, 100), (1.2, 0.2, 100), (0.9, 0.1, 200)]
    combined = IntegrationResult.combine(
        [IntegrationResult.from_estimate(v, e, c) for v, e, c in parts]
    )
    # by hand: weights 1/σ² = 100, 25, 100
    mean = (100 * 1.0 + 25 * 1.2 + 100 * 0.9) / 225
    chi2 = 100 * (1.0 - mean) ** 2 + 25 * (1.2 - mean) ** 2 + 100 * (0.9 - mean) ** 2
    assert_close(combined.value, mean, rtol=1e-14, what="weighted mean")
    assert_close(combined.error, 1 / 15, rtol=1e-14, what="error")
    assert_close(combined.chi2_dof, chi2 / 2, rtol=1e-13, what="chi2/dof")
    assert combined.calls == 400 and combined.n_iterations == 3
    assert_close(combined.rel_std, math.sqrt(400) * (1 / 15) / mean, rtol=1e-13)
    single = IntegrationResult.combine([IntegrationResult.from_estimate(1.0, 0.1, 10)])
    assert math.isnan(single.chi2_dof) and float(single.value) == 1.0


def test_combine_and_stratified_estimate_exact_integral():
    """∫_0^1 3x² dx = 1: iterations combined, and two strata [0,½], [½,1] summed."""
    key = jax.random.key(11)
    keys = jax.random.split(key, 4)
    iterations = [
        IntegrationResult.from_weights(3 * jax.random.uniform(k, (4000,)) ** 2) for k in keys[:3]
    ]
    combined = IntegrationResult.combine(iterations)
    assert_within_sigma(combined.value, combined.error, 1.0, what="combined")
    assert combined.chi2_dof < 10  # χ²/dof of 3 iterations: P(> 10) < 1e-4
    low = IntegrationResult.from_weights(
        0.5 * 3 * (0.5 * jax.random.uniform(keys[3], (3000,))) ** 2
    )
    high = IntegrationResult.from_weights(
        0.5 * 3 * (0.5 + 0.5 * jax.random.uniform(jax.random.fold_in(key, 1), (3000,))) ** 2
    )
    total = IntegrationResult.stratified([low, high])
    assert_close(total.value, low.value + high.value, rtol=1e-15)
    assert_close(total.error, math.hypot(low.error, high.error), rtol=1e-14)
    assert total.calls == 6000 and total.n_iterations == 1
    assert_close(total.rel_std, math.sqrt(6000) * total.error / total.value, rtol=1e-14)
    assert_close(total.ess, 6000 / (1 + total.rel_std**2), rtol=1e-14)
    assert_within_sigma(total.value, total.error, 1.0, what="stratified")
    # stratification beats one flat sample: flat rel_std of 3x² is √(9/5 − 1) ≈ 0.894
    assert total.rel_std < math.sqrt(9 / 5 - 1)


def test_format():
    result = IntegrationResult.from_estimate(667.1312, 0.2123, 10**6, chi2_dof=0.9, n_iterations=3)
    assert str(result) == "667.13 ± 0.21 (χ²/dof 0.9, 3 iterations, 1.0e6 calls)"
    assert f"{result:.1f}" == "667.1 ± 0.2 (χ²/dof 0.9, 3 iterations, 1.0e6 calls)"
    single = IntegrationResult.from_estimate(1.0, 0.05, 2000)
    assert str(single) == "1.000 ± 0.050 (1 iteration, 2.0e3 calls)"


def test_under_jit():
    w = jax.random.uniform(jax.random.key(0), (100,))

    @jax.jit
    def run(w):
        a = IntegrationResult.from_weights(w[:50])
        b = IntegrationResult.from_weights(w[50:])
        return IntegrationResult.combine([a, b]), IntegrationResult.stratified([a, b])

    combined, total = run(w)
    assert_close(total.value, jnp.mean(w[:50]) + jnp.mean(w[50:]), rtol=1e-14)
    assert int(combined.calls) == 100 and np.isfinite(combined.chi2_dof)


def test_validation():
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        IntegrationResult.from_weights(jnp.ones((3, 2)))
    with pytest.raises(TypeError, match="floating"):
        IntegrationResult.from_weights(jnp.arange(5))
    with pytest.raises(TypeError, match="non-empty"):
        IntegrationResult.combine([])
    with pytest.raises(ValueError, match="scalars"):
        IntegrationResult.from_estimate(jnp.ones(2), 0.1, 10)
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive errors"):
        IntegrationResult.combine([IntegrationResult.from_estimate(1.0, 0.0, 10)])
