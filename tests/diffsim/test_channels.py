"""The channel-integrand protocol's pre-map: EdgeMapped (Kumaraswamy maps of coordinates)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close

from diffsim.channels import EdgeMapped, SingleChannel, channel_points
from diffsim.inference.toys import DrellYanZPrimeToy


def kumaraswamy_density(r, low, high=None):
    a, b = low + 1.0, (low if high is None else high) + 1.0
    return a * b * r ** (a - 1) * (1 - r**a) ** (b - 1)


@pytest.mark.parametrize("powers", [{0: 0.5, 2: 2.0}, {0: 3.0, 2: (0.0, 2.5)}, {2: (1.5, -0.5)}])
def test_forward_inverts_and_its_weight_is_the_jacobian(powers):
    mapped = EdgeMapped(SingleChannel(lambda r: jnp.ones(r.shape[0]), 3), powers)
    t = jax.random.uniform(jax.random.key(0), (64, 3), jnp.float64, 1e-6, 1 - 1e-6)
    r, log_det = mapped.forward(t)
    assert_close(r[:, 1], t[:, 1], rtol=0, atol=0, what="unmapped coordinate")
    if 0 not in powers:
        assert_close(r[:, 0], t[:, 0], rtol=0, atol=0)
    back, log_det_inverse = mapped.inverse(r)
    assert_close(back, t, rtol=1e-12, atol=1e-14, what="round trip")
    assert_close(log_det_inverse, -log_det, rtol=1e-12, atol=1e-12)
    built = mapped.mapped_events(lambda key, c, points, weight: (c, points, weight))(None, 0, t, 2.0)
    assert built[0] == 0 and built[2] == 2.0
    assert_close(built[1], r, rtol=0, atol=0, what="events are built at r")
    jacobians = jax.vmap(jax.jacfwd(lambda x: mapped.forward(x[None])[0][0]))(t)
    assert_close(log_det, jnp.log(jnp.abs(jnp.linalg.det(jacobians))), rtol=1e-10, atol=1e-10,
                 what="log det vs autodiff")


def test_an_integrand_equal_to_the_density_has_unit_weights():
    """Exact: if f is the Kumaraswamy density in each mapped coordinate, f·∂r/∂t = 1."""
    f = SingleChannel(lambda r: kumaraswamy_density(r[:, 0], 2.0) * kumaraswamy_density(r[:, 1], 0.0, 4.0), 2)
    t = jax.random.uniform(jax.random.key(1), (1000, 2), jnp.float64)
    weights = EdgeMapped(f, {0: 2.0, 1: (0.0, 4.0)}).channel_integrand(0, t).weight
    assert_close(weights, np.ones(1000), rtol=1e-11, what="weights")


def test_the_integral_is_unchanged_and_the_spread_is_that_of_f_over_q():
    """∫ 30 r²(1−r)² dr = 1: flat sampling in t has the same mean (5σ), and its spread is
    sqrt(∫ f²/q dr − 1) (quadrature: 0.444, against 0.655 without the map)."""
    f = SingleChannel(lambda r: 30 * r[:, 0] ** 2 * (1 - r[:, 0]) ** 2, 1)
    t = jax.random.uniform(jax.random.key(2), (200_000, 1), jnp.float64)
    mapped = EdgeMapped(f, {0: 2.0}).channel_integrand(0, t).weight
    error = float(jnp.std(mapped)) / np.sqrt(t.shape[0])
    assert abs(float(jnp.mean(mapped)) - 1.0) < 5 * error
    r = np.linspace(0, 1, 400_001)[1:-1]
    exact = np.sqrt(np.trapezoid((30 * r**2 * (1 - r) ** 2) ** 2 / kumaraswamy_density(r, 2.0), r) - 1)
    assert_close(float(jnp.std(mapped)), exact, rtol=0.02, what="spread")
    plain = f.channel_integrand(0, t).weight
    assert float(jnp.std(mapped)) < 0.7 * float(jnp.std(plain))


def test_faces_hit_exactly_give_finite_weights_and_gradients():
    f = SingleChannel(lambda r: 30 * r[:, 0] ** 2 * (1 - r[:, 0]) ** 2, 1)
    mapped = EdgeMapped(f, {0: 2.0})
    for dtype in (jnp.float32, jnp.float64):
        t = jnp.array([[0.0], [1.0], [0.5]], dtype)
        weights = mapped.channel_integrand(0, t).weight
        grads = jax.grad(lambda x: jnp.sum(mapped.channel_integrand(0, x).weight))(t)
        assert np.all(np.isfinite(np.asarray(weights))) and np.all(np.isfinite(np.asarray(grads)))


def test_a_multichannel_integrand_keeps_its_channels_and_its_integral():
    toy = DrellYanZPrimeToy()
    mapped = EdgeMapped(toy, {1: (2.0, 3.0)})
    assert (mapped.n_channels, mapped.dim) == (3, 4)
    ts = [jax.random.uniform(jax.random.fold_in(jax.random.key(3), c), (100_000, 4), jnp.float64) for c in range(3)]
    points = channel_points(mapped, (0, 1, 2), ts)
    one = mapped.channel_integrand(1, ts[1])
    assert_close(points[1].weight, one.weight, rtol=1e-14, atol=0)
    assert_close(points[1].prior, toy.channel_integrand(1, mapped.forward(ts[1])[0]).prior, rtol=1e-14, atol=0)
    terms = [p.prior[:, c] * p.weight for c, p in enumerate(points)]
    total = sum(float(jnp.mean(w)) for w in terms)
    error = np.sqrt(sum(float(jnp.var(w)) / w.shape[0] for w in terms))
    assert abs(total - toy.exact) < 5 * error, (total, error)


@pytest.mark.parametrize("powers, match", [({}, "coordinates"), ({4: 2.0}, "coordinates"), ({-1: 2.0}, "coordinates"),
                                           ({1: -1.0}, "power"), ({1: (2.0, -1.5)}, "power"), ({1: (1.0, 2.0, 3.0)}, "power")])
def test_bad_arguments_raise(powers, match):
    with pytest.raises(ValueError, match=match):
        EdgeMapped(DrellYanZPrimeToy(), powers)
