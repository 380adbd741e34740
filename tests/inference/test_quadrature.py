"""Product Gauss–Legendre cubature: exactness on polynomials, exact integrals of smooth
functions, gradients against finite differences, batching and input checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, central_difference

from diffsim.inference import gauss_legendre_rule, integrate_gauss_legendre


def test_rule_is_a_normalised_product_grid():
    x, w = gauss_legendre_rule((3, 5))
    assert x.shape == (15, 2) and w.shape == (15,)
    assert_close(jnp.sum(w), 1.0, rtol=1e-14)
    assert np.all((x > 0) & (x < 1))
    # the last coordinate runs fastest; the nodes are symmetric about 1/2
    assert_close(x[:5, 0], jnp.full(5, x[0, 0]), rtol=0)
    assert_close(jnp.sort(x[:5, 1]) + jnp.sort(x[:5, 1])[::-1], jnp.ones(5), rtol=1e-14)


def test_polynomials_up_to_degree_2n_minus_1_are_exact():
    """∫ x^a y^b over [0, 1]² = 1/((a+1)(b+1)) for a ≤ 2·4 − 1 and b ≤ 2·2 − 1; degree 2n is not."""
    for a in range(8):
        for b in range(4):
            value = integrate_gauss_legendre(lambda r, a=a, b=b: r[:, 0] ** a * r[:, 1] ** b, (4, 2))
            assert_close(value, 1 / ((a + 1) * (b + 1)), rtol=1e-14, what=f"x^{a} y^{b}")
    beyond = integrate_gauss_legendre(lambda r: r[:, 0] ** 8, (4, 2))
    assert abs(float(beyond) - 1 / 9) > 1e-6


def test_analytic_integrand_converges_exponentially():
    """∫ exp(x + 2y + 3z) over the unit cube = (e − 1)(e² − 1)/2 · (e³ − 1)/3."""
    exact = (math.e - 1) * (math.e**2 - 1) / 2 * (math.e**3 - 1) / 3

    def f(r):
        return jnp.exp(r @ jnp.array([1.0, 2.0, 3.0]))

    errors = [abs(float(integrate_gauss_legendre(f, (n, n, n))) / exact - 1) for n in (2, 4, 6, 8)]
    # measured: 1.8e-2, 2.9e-6, 7.4e-11, 1.1e-15
    assert errors[0] > 1e-2 and errors[1] < 1e-5 and errors[2] < 1e-9 and errors[3] < 1e-14


def test_batching_does_not_change_the_sum():
    f = lambda r: jnp.cos(3 * r[:, 0]) * jnp.exp(-r[:, 1])
    whole = integrate_gauss_legendre(f, (20, 17))
    batched = integrate_gauss_legendre(f, (20, 17), batch_size=33)  # 340 = 10 · 33 + 10
    assert_close(batched, whole, rtol=1e-14)
    assert_close(whole, math.sin(3) / 3 * (1 - math.exp(-1)), rtol=1e-14)


def test_gradient_matches_finite_differences():
    """d/dk ∫ exp(−k x) sin(k y) dx dy, analytic integrand in the parameter k."""

    def integral(k):
        return integrate_gauss_legendre(lambda r: jnp.exp(-k[0] * r[:, 0]) * jnp.sin(k[0] * r[:, 1]), (12, 12))

    k = jnp.array([1.7])
    gradient = jax.grad(lambda k: integral(k))(k)
    fd = central_difference(lambda k: float(integral(jnp.asarray(k))), np.asarray(k))
    assert_close(gradient, fd, rtol=1e-7)


@pytest.mark.parametrize("nodes", [(), (0, 3), (2.5,), (-1,)])
def test_bad_node_counts_raise(nodes):
    with pytest.raises(ValueError, match="nodes_per_dim"):
        gauss_legendre_rule(nodes)
