"""The NIS losses against exact integrals for a one-parameter density on [0, 1].

q_θ(x) = 1 + θ (x − ½) and f(x) = 2x: every loss and its θ-derivative has a closed form (by
quadrature here), and the Monte Carlo losses (samples from a fixed g, or reparametrised
samples x = T_θ(z)) must reproduce them within 5σ.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma

from diffsim.inference.losses import (
    forward_kl_loss,
    pathwise_log_chi2_loss,
    pathwise_moment_spread,
    pathwise_reverse_kl_loss,
    pathwise_variance_loss,
    reverse_kl_loss,
    variance_loss,
)

THETA = 0.6
N = 200_000
NODES, WEIGHTS = np.polynomial.legendre.leggauss(200)
GRID = 0.5 * (NODES + 1.0)
GRID_WEIGHTS = 0.5 * WEIGHTS


def f(x):
    return 2.0 * x


def log_q(theta, x):
    return jnp.log1p(theta * (x - 0.5))


def inverse_cdf(theta, z):
    """x with ∫_0^x q_θ = z (the root of θ/2 x² + (1 − θ/2) x − z in [0, 1])."""
    b = 1.0 - theta / 2.0
    return 2.0 * z / (b + jnp.sqrt(b**2 + 2.0 * theta * z))


def quadrature(fn):
    return float(np.sum(GRID_WEIGHTS * np.asarray(fn(jnp.asarray(GRID)))))


EXACT = {
    "variance": lambda t: quadrature(lambda x: f(x) ** 2 / jnp.exp(log_q(t, x))),
    "kl": lambda t: -quadrature(lambda x: f(x) * log_q(t, x)),  # I = 1
    "reverse_kl": lambda t: quadrature(lambda x: jnp.exp(log_q(t, x)) * (log_q(t, x) - jnp.log(f(x)))),
}


def derivative(name):
    h = 1e-5
    return (EXACT[name](THETA + h) - EXACT[name](THETA - h)) / (2 * h)


@pytest.fixture(scope="module")
def fixed_sample():
    """Points from g = q_0.3 (not the q being trained: buffered training's situation)."""
    z = jax.random.uniform(jax.random.key(1), (N,))
    x = inverse_cdf(0.3, z)
    return x, log_q(0.3, x)


def _per_point(fn, *args):
    """Per-point contributions of a mean-type loss (for the Monte Carlo error)."""
    return jax.vmap(lambda *a: fn(*(jnp.atleast_1d(v) for v in a)))(*args)


@pytest.mark.parametrize("name, loss", [("variance", variance_loss), ("kl", forward_kl_loss)])
def test_score_losses_and_gradients_match_quadrature(fixed_sample, name, loss):
    x, log_g = fixed_sample
    value = loss(f(x), log_q(THETA, x), log_g)
    grad_points = jax.vmap(jax.grad(lambda t, xi, gi: loss(f(xi)[None], log_q(t, xi)[None], gi[None])), (None, 0, 0))(
        THETA, x, log_g
    )
    grad = jax.grad(lambda t: loss(f(x), log_q(t, x), log_g))(THETA)
    if name == "variance":
        per_point = f(x) ** 2 * jnp.exp(-log_q(THETA, x) - log_g)
        assert_within_sigma(value, np.std(per_point) / np.sqrt(N), EXACT[name](THETA), what=name)
    # The KL loss divides by the sample's own Î, so its per-point gradients are those of
    # −(f/g) log q up to the factor Î ≈ 1; their spread bounds the error of the mean.
    assert_within_sigma(grad, np.std(grad_points) / np.sqrt(N), derivative(name), what=f"d{name}/dθ")


def test_reverse_kl_gradient_matches_quadrature(fixed_sample):
    x, log_g = fixed_sample
    grad = jax.grad(lambda t: reverse_kl_loss(f(x), log_q(t, x), log_g))(THETA)
    ratio = jnp.exp(log_q(THETA, x) - log_g)
    score = 1.0 / (1.0 / (x - 0.5) + THETA)  # ∂ log q / ∂θ
    per_point = ratio * (log_q(THETA, x) - jnp.log(f(x))) * score
    assert_within_sigma(grad, np.std(per_point) / np.sqrt(N), derivative("reverse_kl"), what="dKL(q||p)/dθ")


@pytest.mark.parametrize(
    "name, loss", [("variance", pathwise_variance_loss), ("reverse_kl", pathwise_reverse_kl_loss)]
)
def test_pathwise_losses_and_gradients_match_quadrature(name, loss):
    z = jax.random.uniform(jax.random.key(2), (N,))

    def weights(t, z):
        x = inverse_cdf(t, z)
        return f(x) / jnp.exp(log_q(t, x))

    grad = jax.grad(lambda t: loss(weights(t, z)))(THETA)
    per_point = jax.vmap(jax.grad(lambda t, zi: loss(weights(t, zi[None]))), (None, 0))(THETA, z)
    # E_z[w²] = ∫ f²/q and E_z[−log w] = KL(q‖f) since I = 1.
    value_points = _per_point(loss, weights(THETA, z))
    assert_within_sigma(loss(weights(THETA, z)), np.std(value_points) / np.sqrt(N), EXACT[name](THETA))
    assert_within_sigma(grad, np.std(per_point) / np.sqrt(N), derivative(name), what=f"pathwise d{name}/dθ")


def test_pathwise_log_chi2_loss_and_gradient_match_quadrature():
    """``log E_z[w²] − 2 log E_z[w]`` → ``log ∫ f²/q`` (I = 1); the batch estimate is a smooth
    function of two means, so its error follows from their per-point influence (delta method)."""
    z = jax.random.uniform(jax.random.key(3), (N,))

    def weights(t, z):
        x = inverse_cdf(t, z)
        return f(x) / jnp.exp(log_q(t, x))

    w = weights(THETA, z)
    m1, m2 = jnp.mean(w), jnp.mean(w**2)
    influence = w**2 / m2 - 2 * w / m1
    assert_within_sigma(pathwise_log_chi2_loss(w), np.std(influence) / np.sqrt(N), np.log(EXACT["variance"](THETA)))
    grad = jax.grad(lambda t: pathwise_log_chi2_loss(weights(t, z)))(THETA)
    dw = jax.vmap(jax.grad(lambda t, zi: weights(t, zi)), (None, 0))(THETA, z)
    grad_influence = 2 * w * dw / m2 - 2 * dw / m1
    exact = derivative("variance") / EXACT["variance"](THETA)
    assert_within_sigma(grad, np.std(grad_influence) / np.sqrt(N), exact, what="pathwise dlogχ²/dθ")
    # Scale-free, and finite without a gradient when every weight vanishes.
    assert_close(pathwise_log_chi2_loss(7.0 * w), pathwise_log_chi2_loss(w), rtol=1e-12)
    value, zero_grad = jax.value_and_grad(pathwise_log_chi2_loss)(jnp.zeros(4))
    assert np.isfinite(value) and np.all(zero_grad == 0)


def test_stratified_probabilities_weigh_the_strata():
    """With ``probabilities`` the expectations are Σ p_k g(w_k): equal probabilities give the
    plain means, and two strata of a mixture q = ½ q₁ + ½ q₂ drawn 3 and 1 times weigh
    their points 1/6 and 1/2 (hand computation)."""
    w = jnp.array([0.5, 1.0, 1.5, 4.0])
    uniform = jnp.full(4, 0.25)
    assert_close(pathwise_log_chi2_loss(w, uniform), pathwise_log_chi2_loss(w), rtol=1e-14)
    assert_close(pathwise_reverse_kl_loss(w, uniform), pathwise_reverse_kl_loss(w), rtol=1e-14)
    p = jnp.array([1 / 6, 1 / 6, 1 / 6, 1 / 2])
    m1, m2 = (0.5 + 1.0 + 1.5) / 6 + 4.0 / 2, (0.25 + 1.0 + 2.25) / 6 + 16.0 / 2
    assert_close(pathwise_log_chi2_loss(w, p), np.log(m2) - 2 * np.log(m1), rtol=1e-14)
    assert_close(pathwise_reverse_kl_loss(w, p), -(np.log(0.5) + np.log(1.5)) / 6 - np.log(4.0) / 2, rtol=1e-14)


def test_reverse_kl_floor_is_finite_where_f_vanishes():
    w = jnp.array([0.0, 1.0, 2.0])
    value, grad = jax.value_and_grad(lambda w: pathwise_reverse_kl_loss(w, log_f_floor=-50.0))(w)
    assert_close(value, -(-50.0 + 0.0 + np.log(2.0)) / 3, rtol=1e-14)
    assert np.all(np.isfinite(grad))


def test_pathwise_moment_spread_is_the_p_norm_spread():
    """Exact identities: the variance at p = 2, (E w^p)^(2/p) − (E w)² otherwise (float64
    reference), derivatives against central differences, float32 weights whose w^p is
    beyond the float32 range, a vanishing batch, and p < 2 refused."""
    w = jax.random.uniform(jax.random.key(3), (500,), jnp.float64) ** 3 * 40.0
    assert_close(pathwise_moment_spread(w, 2.0), jnp.var(w), rtol=1e-12, what="p = 2 is the variance")
    reference = np.mean(np.asarray(w) ** 4) ** 0.5 - np.mean(np.asarray(w)) ** 2
    assert_close(pathwise_moment_spread(w, 4.0), reference, rtol=1e-12, what="p = 4")
    assert pathwise_moment_spread(w, 8.0) > pathwise_moment_spread(w, 4.0) > pathwise_moment_spread(w, 2.0)

    grad = jax.grad(lambda v: pathwise_moment_spread(v, 6.0))(w)
    picks = np.asarray(jnp.argsort(w))[[0, 250, 499]]
    for i in picks:
        step = 1e-5 * float(jnp.mean(w))
        up, down = (pathwise_moment_spread(w.at[i].add(s), 6.0) for s in (step, -step))
        assert_close(grad[i], (up - down) / (2 * step), rtol=1e-6, what=f"d S_6 / d w[{i}]")

    outlier = jnp.asarray([1e8, 1e3, 3e3, 2e2], jnp.float32)  # w⁸ overflows float32 at 1e8
    exact = np.mean(np.asarray(outlier, np.float64) ** 8) ** 0.25 - np.mean(np.asarray(outlier, np.float64)) ** 2
    value = pathwise_moment_spread(outlier, 8.0)
    assert value.dtype == jnp.float32
    assert_close(float(value) / exact, 1.0, rtol=1e-5, what="float32 weights with an outlier, p = 8")

    value, zero_grad = jax.value_and_grad(lambda v: pathwise_moment_spread(v, 8.0))(jnp.zeros(4))
    assert float(value) == 0.0 and np.all(np.isfinite(np.asarray(zero_grad)))
    with pytest.raises(ValueError, match="at least 2"):
        pathwise_moment_spread(w, 1.5)
