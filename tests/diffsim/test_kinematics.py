"""diffsim.kinematics against scikit-hep `vector` (a peer implementation), exact identities,
finite differences, and gradient safety at the boundaries."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import vector
from tolerance import assert_close, central_difference

from diffsim import kinematics as k


def random_momenta(seed, n, mass_range=(0.0, 50.0)):
    rng = np.random.default_rng(seed)
    spatial = rng.normal(scale=100.0, size=(n, 3))
    masses = rng.uniform(*mass_range, size=n)
    energy = np.sqrt(masses**2 + np.sum(spatial**2, axis=-1))
    return np.concatenate([energy[:, None], spatial], axis=-1)


def as_vector(p):
    p = np.asarray(p)
    return vector.array({"E": p[:, 0], "px": p[:, 1], "py": p[:, 2], "pz": p[:, 3]})


def components(v):
    return np.stack([v.E, v.px, v.py, v.pz], axis=-1)


P = random_momenta(1, 200, mass_range=(1.0, 50.0))
Q = random_momenta(2, 200, mass_range=(60.0, 300.0))


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (k.mass, lambda v: v.mass),
        (k.mass_squared, lambda v: v.mass2),
        (k.pt, lambda v: v.pt),
        (k.pseudorapidity, lambda v: v.eta),
        (k.phi, lambda v: v.phi),
        (k.rapidity, lambda v: v.rapidity),
        (k.momentum_magnitude, lambda v: v.mag),
    ],
)
def test_single_observables_match_vector(ours, theirs):
    assert_close(ours(jnp.asarray(P)), theirs(as_vector(P)), rtol=1e-12, atol=1e-10)


def test_pair_observables_match_vector():
    p, q = jnp.asarray(P), jnp.asarray(Q)
    vp, vq = as_vector(P), as_vector(Q)
    assert_close(k.minkowski_dot(p, q), vp.dot(vq), rtol=1e-12)
    assert_close(k.delta_r(p, q), vp.deltaR(vq), rtol=1e-12)
    assert_close(k.delta_phi(p, q), vp.deltaphi(vq), rtol=1e-12, atol=1e-12)
    assert_close(k.invariant_mass(jnp.stack([p, q], axis=-2)), (vp + vq).mass, rtol=1e-12)


def test_boosts_match_vector():
    p, q = jnp.asarray(P), jnp.asarray(Q)
    vp, vq = as_vector(P), as_vector(Q)
    assert_close(k.boost_from_rest_frame(p, q), components(vp.boost_p4(vq)), rtol=1e-11, atol=1e-9)
    beta = q[:, 1:] / q[:, :1]
    assert_close(k.boost(p, beta), components(vp.boost_beta3(vq.to_beta3())), rtol=1e-11, atol=1e-9)
    y = np.linspace(-2.0, 2.0, len(P))
    assert_close(k.boost_longitudinal(p, y), components(vp.boostZ(beta=np.tanh(y))), rtol=1e-11, atol=1e-9)


def test_rotation_matches_vector():
    p, q = jnp.asarray(P), jnp.asarray(Q)
    angle = np.linspace(-3.0, 3.0, len(P))
    rotated = k.rotate(p, k.rotation_matrix(q[:, 1:], angle))
    expected = as_vector(P).rotate_axis(as_vector(Q).to_Vector3D(), angle)
    assert_close(rotated, components(expected), rtol=1e-11, atol=1e-9)


def test_rest_frame_round_trip_and_invariance():
    p, q = jnp.asarray(P), jnp.asarray(Q)
    rest = k.boost_to_rest_frame(p, q)
    assert_close(k.boost_from_rest_frame(rest, q), p, rtol=1e-12, atol=1e-10)
    q_rest = k.boost_to_rest_frame(q, q)
    assert_close(q_rest[:, 1:], 0.0, atol=1e-10)
    assert_close(q_rest[:, 0], k.mass(q), rtol=1e-12)
    assert_close(k.minkowski_dot(rest, q_rest), k.minkowski_dot(p, q), rtol=1e-12)


def test_rotation_from_z_is_proper_and_aligns():
    directions = jnp.asarray(np.concatenate([Q[:, 1:], [[0, 0, 5.0], [0, 0, -5.0]]]))
    rotation = k.rotation_from_z(directions)
    unit = directions / jnp.linalg.norm(directions, axis=-1, keepdims=True)
    assert_close(rotation[..., :, 2], unit, atol=1e-14)
    assert_close(jnp.einsum("...ji,...jk->...ik", rotation, rotation), np.broadcast_to(np.eye(3), rotation.shape), atol=1e-14)
    assert_close(jnp.linalg.det(rotation), 1.0, rtol=1e-14)


def test_cos_theta_star_recovers_decay_angle():
    # Build daughters in the parent rest frame at known angles, then boost to the lab.
    cos_theta = np.linspace(-0.95, 0.95, 50)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    p_star = 30.0
    daughter = np.stack([np.full(50, 50.0), p_star * sin_theta, np.zeros(50), p_star * cos_theta], axis=-1)
    parent = jnp.asarray(Q[:50])
    lab = k.boost_from_rest_frame(jnp.asarray(daughter), parent)
    assert_close(k.cos_theta_star(lab, parent), cos_theta, atol=1e-12)


def test_cos_theta_star_helicity_axis():
    # A daughter emitted along the parent's flight direction has helicity cos θ* = 1.
    parent = jnp.asarray(Q[:20])
    direction = parent[:, 1:] / jnp.linalg.norm(parent[:, 1:], axis=-1, keepdims=True)
    daughter = jnp.concatenate([jnp.full((20, 1), 40.0), 10.0 * direction], axis=-1)
    lab = k.boost_from_rest_frame(daughter, parent)
    assert_close(k.cos_theta_star(lab, parent, axis=parent[:, 1:]), 1.0, atol=1e-12)


def test_two_body_momentum_closed_form():
    # |p*| for a Z → e e with massless leptons is M/2; top → b W from the Källén function.
    assert_close(k.two_body_momentum(91.188**2, 0.0, 0.0), 91.188 / 2, rtol=1e-15)
    mt, mw, mb = 173.0, 80.419002, 4.7
    expected = np.sqrt((mt**2 - (mw + mb) ** 2) * (mt**2 - (mw - mb) ** 2)) / (2 * mt)
    assert_close(k.two_body_momentum(mt**2, mw, mb), expected, rtol=1e-14)
    assert_close(k.kallen_lambda(mt**2, mw**2, mb**2), (2 * mt * expected) ** 2, rtol=1e-12)


def test_two_body_momentum_keeps_precision_near_threshold():
    # s = 1 + 2⁻³⁰ GeV² is exact in binary; for m1 = 1, m2 = 0, λ = (s - 1)² = 2⁻⁶⁰ exactly,
    # which the expanded form s² + 1 - 2s rounds to zero.
    s = 1.0 + 2.0**-30
    assert_close(k.two_body_momentum(s, 1.0, 0.0), 2.0**-30 / (2 * np.sqrt(s)), rtol=1e-15)


BOUNDARY_POINTS = {
    "pt=0 along +z": [10.0, 0.0, 0.0, 10.0],
    "pt=0 along -z massive": [10.0, 0.0, 0.0, -6.0],
    "at rest": [5.0, 0.0, 0.0, 0.0],
    "massless transverse": [5.0, 3.0, 4.0, 0.0],
}
SCALAR_FUNCTIONS = [k.mass, k.mass_squared, k.pt, k.rapidity, k.pseudorapidity, k.phi, k.momentum_magnitude]


@pytest.mark.parametrize("point", BOUNDARY_POINTS.values(), ids=BOUNDARY_POINTS.keys())
@pytest.mark.parametrize("function", SCALAR_FUNCTIONS, ids=lambda f: f.__name__)
def test_gradients_finite_at_boundaries(function, point):
    gradient = jax.grad(function)(jnp.asarray(point))
    assert np.all(np.isfinite(gradient)), f"{function.__name__} gradient {gradient}"


def test_boundary_values_are_documented_limits():
    along_beam = jnp.array([10.0, 0.0, 0.0, 10.0])
    assert float(k.pseudorapidity(along_beam)) == np.inf
    assert float(k.rapidity(along_beam)) == np.inf
    assert float(k.rapidity(along_beam.at[3].set(-10.0))) == -np.inf
    assert float(k.phi(along_beam)) == 0.0
    assert float(k.mass(jnp.array([5.0, 3.0, 4.0, 0.0]))) == 0.0
    assert float(k.mass(jnp.array([3.0, 3.0, 4.0, 0.0]))) == -4.0  # space-like: -sqrt(-m²)


def test_delta_r_and_boost_gradients_finite_at_coincidence_and_rest():
    p = jnp.array([10.0, 1.0, 2.0, 3.0])
    assert np.all(np.isfinite(jax.grad(lambda a: k.delta_r(a, p))(p)))
    beta_zero = jnp.zeros(3)
    gradient = jax.jacfwd(lambda b: k.boost(p, b))(beta_zero)
    assert np.all(np.isfinite(gradient))


@pytest.mark.parametrize("function", SCALAR_FUNCTIONS + [k.delta_r, k.cos_theta_star], ids=lambda f: f.__name__)
def test_gradients_match_finite_differences(function):
    p0, q0 = P[3], Q[5]
    if function in (k.delta_r, k.cos_theta_star):
        scalar = lambda x: function(jnp.asarray(x[:4]), jnp.asarray(x[4:]))
        x0 = np.concatenate([p0, q0])
    else:
        scalar = lambda x: function(jnp.asarray(x))
        x0 = p0
    assert_close(jax.grad(scalar)(jnp.asarray(x0)), central_difference(scalar, x0), rtol=1e-6, atol=1e-9)


def test_jit_vmap_and_batch_shapes():
    p = jnp.asarray(P).reshape(10, 20, 4)
    q = jnp.asarray(Q).reshape(10, 20, 4)
    assert k.pt(p).shape == (10, 20)
    jitted = jax.jit(k.boost_to_rest_frame)(p, q)
    mapped = jax.vmap(k.boost_to_rest_frame)(p, q)
    assert_close(jitted, mapped, rtol=1e-13, atol=1e-11)
    assert k.invariant_mass(p).shape == (10,)
