"""Invariants over every process (a registry loop): Lorentz invariance, gauge invariance for
each external gluon and photon, Bose symmetry, gradients against finite differences, and
jit / vmap / grad / jacfwd / float32 smoke tests."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile import jit_unfused
from momenta import on_shell_momenta
from tolerance import assert_close, central_difference

from diffsim import kinematics as k
from diffsim.models import StandardModel, ZPrimeModel, sm, zprime

PROCESSES = [("sm", name) for name in sm.PROCESSES] + [("zprime", name) for name in zprime.PROCESSES]
# g g > t t~ g costs minutes of compilation per invariance test; the default run checks it
# against MadGraph (test_madgraph_reference) and for gauge invariance and Bose symmetry,
# the slow run (pytest -m slow) for everything else.
SLOW = {("sm", "g g > t t~ g")}
# The jit/vmap/jacfwd/float32 smoke test compiles four transformations per process;
# the default run covers one process of each family, the slow run the rest.
SMOKE_SLOW = SLOW | {("sm", "e+ e- > t t~"), ("sm", "b b~ > t t~"), ("sm", "d d~ > e+ e-"),
                     ("zprime", "d d~ > e+ e-")}


def cases(slow):
    """PROCESSES with the ``slow`` ones marked ``pytest.mark.slow``."""
    return [pytest.param(m, n, id=f"{m}:{n}", marks=[pytest.mark.slow] if (m, n) in slow else []) for m, n in PROCESSES]


def build(model, name, params=None):
    return (sm if model == "sm" else zprime).process(name, params)


def build_zero_top_width(model, name):
    """The process with Γ_t = 0: MadGraph's fixed width in t-channel top propagators breaks
    gauge invariance, and with it the frame independence of the polarisation sum, at
    O(Γ_t/m_t) ~ 1e-6 — a property of the scheme, not of the code."""
    narrow = StandardModel(wt=0.0)
    return build(model, name, narrow if model == "sm" else ZPrimeModel(sm=narrow))


def random_lorentz(p, seed):
    rng = np.random.default_rng(seed)
    axis, angle = rng.normal(size=3), rng.uniform(0, 2 * np.pi)
    beta = rng.normal(size=3)
    beta *= 0.8 / np.linalg.norm(beta)
    rotated = k.rotate(p, k.rotation_matrix(jnp.asarray(axis), angle))
    return k.boost(rotated, jnp.asarray(beta))


@pytest.mark.parametrize("model, name", cases(SLOW))
def test_lorentz_invariance(model, name):
    process = build_zero_top_width(model, name)
    p = on_shell_momenta(process, 16, seed=1)
    matrix_element = eqx.filter_jit(process.matrix_element)
    value = matrix_element(p)
    assert np.all(value > 0)
    assert_close(matrix_element(random_lorentz(p, seed=2)), value, rtol=1e-10)


GAUGE_CASES = [
    (model, name, leg)
    for model, name in PROCESSES
    for leg, external in enumerate(build(model, name).externals)
    if external.particle.name in ("g", "a")
]


@pytest.mark.parametrize("model, name, leg", GAUGE_CASES, ids=[f"{m}:{n}:leg{i}" for m, n, i in GAUGE_CASES])
def test_gauge_invariance(model, name, leg):
    """Replacing a gluon's (photon's) polarisation by its momentum kills the amplitude.

    The colour-summed square of the replaced amplitudes is compared with the size of its
    terms, ``Σ |A_e| |C_ef| |A_f|``: a broken Ward identity gives a ratio of order one, exact
    cancellation leaves the rounding floor of the quadratic form (~1e-16).
    """
    process = build_zero_top_width(model, name)
    p = on_shell_momenta(process, 8, seed=3)
    params = process.model
    colour = np.abs(np.array(process.colour))
    residual, size = 0.0, 0.0
    for helicity in process.helicity_table():
        waves = process.wavefunctions(p, jnp.asarray(helicity), params)
        momentum = p[..., leg, :].astype(waves[leg].dtype)
        waves[leg] = jnp.concatenate([waves[leg][..., :2], momentum], axis=-1)
        amplitudes = process.terms(params, waves)
        residual += np.asarray(process.colour_sum(amplitudes))
        magnitude = np.abs(np.asarray(amplitudes))
        size += np.einsum("...e,ef,...f->...", magnitude, colour, magnitude)
    assert np.all(size > 0)
    assert np.all(np.abs(residual) / size < 1e-13), residual / size


@pytest.mark.parametrize("name", ["g g > t t~", "u u~ > t t~"])
def test_single_helicity_terms_sum_to_the_matrix_element(name):
    """The array interface (``terms`` of one helicity row, ``colour_sum``) summed over the
    helicity table and averaged equals |M|²: ``terms`` carries the coupling that the kernels
    leave out (``g_s²`` of ``g g > t t~``, :meth:`Process.common_coupling`)."""
    process = sm.process(name)
    p = on_shell_momenta(process, 4, seed=8)
    total = sum(
        process.colour_sum(process.terms(process.model, process.wavefunctions(p, jnp.asarray(h), process.model)))
        for h in process.helicity_table()
    )
    assert_close(total / process.average_factor, process.matrix_element(p), rtol=1e-12)


@pytest.mark.parametrize("name", ["g g > t t~", "g g > t t~ g"])
def test_bose_symmetry_of_identical_gluons(name):
    process = sm.process(name)
    p = on_shell_momenta(process, 16, seed=4)
    gluons = [i for i, e in enumerate(process.externals) if e.particle.name == "g"]
    matrix_element = eqx.filter_jit(process.matrix_element)
    value = matrix_element(p)
    for a, b in ((gluons[0], gluons[1]), (gluons[0], gluons[-1])):
        order = list(range(process.n_external))
        order[a], order[b] = order[b], order[a]
        swapped = p[:, order, :]
        if process.externals[a].incoming != process.externals[b].incoming:
            # Crossing an incoming with an outgoing gluon: p → −p on both, |M|² unchanged.
            swapped = swapped.at[:, [a, b], :].multiply(-1.0)
        assert_close(matrix_element(swapped), value, rtol=1e-10, what=f"{name} {a}<->{b}")


def _inputs(params):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    return np.array([float(x) for x in leaves]), treedef


@pytest.mark.parametrize("model, name", cases(SLOW))
def test_gradients_wrt_model_inputs_match_finite_differences(model, name):
    process = build(model, name)
    p = on_shell_momenta(process, 1, seed=5)[0]
    values, treedef = _inputs(process.model)
    # Logarithmic derivatives d ln|M|²/d ln x: inputs range from G_F ~ 1e-5 to masses ~ 1e2.
    scale = np.where(values != 0, np.abs(values), 1.0)

    @jit_unfused
    @jax.value_and_grad
    def of_scaled_inputs(y):
        params = jax.tree_util.tree_unflatten(treedef, list(jnp.asarray(y) * scale))
        return jnp.log(process.matrix_element(p, params))

    gradient = of_scaled_inputs(values / scale)[1]
    numeric = central_difference(lambda y: of_scaled_inputs(y)[0], values / scale, eps=1e-6)
    assert_close(gradient, numeric, rtol=1e-5, atol=1e-9, what=name)


def _massless_vectors_on_the_beam_axis(process, p):
    """(leg, component) pairs where HELAS's polarisation basis is singular: px, py of a
    massless vector along ±z (its azimuth is undefined there, so single-helicity amplitudes
    are not differentiable; the helicity sum is, but autodiff sees one branch)."""
    pairs = []
    for leg, external in enumerate(process.externals):
        on_axis = float(k.pt(p[leg])) == 0.0
        if external.particle.spin == 2 and external.particle.mass_parameter is None and on_axis:
            pairs += [(leg, 0), (leg, 1)]
    return pairs


@functools.cache
def _log_matrix_element_of_three_momenta(model, name):
    """Value and gradient of ln|M|² of one event as a function of the three-momenta
    ``(n, 3)``, energies on shell, compiled once per process for both frames."""
    process = build(model, name)
    masses = process.masses()

    @jit_unfused
    @jax.value_and_grad
    def log_me(q):
        energy = jnp.sqrt(jnp.sum(q**2, axis=-1) + masses**2)
        return jnp.log(process.matrix_element(jnp.concatenate([energy[:, None], q], axis=-1)))

    return log_me


@pytest.mark.parametrize("frame", ["collider", "rotated"])
@pytest.mark.parametrize("model, name", cases(SLOW))
def test_gradients_wrt_momenta_match_finite_differences(model, name, frame):
    """d ln|M|²/d p⃗ of every leg with energies kept on shell, E = sqrt(p⃗² + m²) (HELAS's
    massless spinors take ``min(E, |p⃗|)``, so off-shell directions have a kink exactly at
    m = 0). Every component in a generic rotated and boosted frame; in the collider frame
    all but the transverse ones of massless vectors along the beam."""
    process = build(model, name)
    p = on_shell_momenta(process, 1, seed=5)[0]
    if frame == "rotated":
        p = random_lorentz(p, seed=7)
    log_me = _log_matrix_element_of_three_momenta(model, name)
    spatial = np.asarray(p[:, 1:])
    gradient = np.array(log_me(spatial)[1])
    numeric = central_difference(lambda q: log_me(q)[0], spatial, eps=1e-7)
    for leg, component in _massless_vectors_on_the_beam_axis(process, p):
        gradient[leg, component] = numeric[leg, component] = 0.0
    # Central differences with 1e-7 relative steps carry ~1e-5 of the largest component.
    scale = float(np.max(np.abs(numeric)))
    assert_close(gradient, numeric, rtol=1e-5, atol=1e-5 * scale, what=name)


@pytest.mark.parametrize("model, name", cases(SMOKE_SLOW))
def test_jit_vmap_jacfwd_and_float32(model, name):
    """Eager and jitted evaluation agree; vmap, jacfwd and float32 inputs work. (``jax.grad``
    w.r.t. momenta is checked against finite differences for the same processes,
    ``test_gradients_wrt_momenta_match_finite_differences``; compiling it again here took
    20 s per process.)"""
    process = build(model, name)
    p = on_shell_momenta(process, 4, seed=6)
    value = process.matrix_element(p)
    assert_close(eqx.filter_jit(process.matrix_element)(p), value, rtol=1e-13)
    assert_close(jax.jit(jax.vmap(process.matrix_element))(p), value, rtol=1e-13)
    jacobian = jax.jit(jax.jacfwd(process.matrix_element))(p[0])
    assert jacobian.shape == p[0].shape and np.all(np.isfinite(jacobian))
    single = eqx.filter_jit(process.matrix_element)(p.astype(jnp.float32))
    assert single.dtype == jnp.float32
    assert_close(single, value, rtol=1e-3)


def test_bad_momenta_shape_raises():
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 4\)"):
        sm.process("g g > t t~").matrix_element(jnp.zeros((3, 5, 4)))


def test_defaults_are_the_model_defaults():
    assert sm.process("e+ e- > mu+ mu-").model == StandardModel()
    assert zprime.process("u u~ > e+ e-").model == ZPrimeModel()


@pytest.mark.parametrize("model, name", [("zprime", "u u~ > e+ e-"), ("sm", "g g > t t~"), ("sm", "u u~ > d d~")])
def test_single_diagram_squares(model, name):
    """The single-diagram squares, alone and side by side with |M|² from one evaluation; a
    one-diagram process's square is its |M|²; switching the Z′'s lepton couplings off zeroes
    its square and leaves the γ and Z squares as they were."""
    process = build(model, name)
    p = on_shell_momenta(process, 16, seed=5)
    both = process.matrix_element_and_diagram_squares(p)
    squares = process.diagram_squares(p)
    assert both.shape == (16, 1 + process.n_diagrams)
    assert_close(both[:, 0], process.matrix_element(p), rtol=1e-13)
    assert_close(both[:, 1:], squares, rtol=1e-13)
    assert np.all(squares > 0)
    if process.n_diagrams == 1:
        assert_close(squares[:, 0], both[:, 0], rtol=1e-13)
    if model == "zprime":  # diagrams γ, Z, Z′: without the Z′ coupling only γ + Z remain
        no_zprime = ZPrimeModel(kappa_vector_lepton=0.0, kappa_axial_lepton=0.0)
        without = process.diagram_squares(p, no_zprime)
        assert_close(without[:, :2], squares[:, :2], rtol=1e-13)
        assert np.all(without[:, 2] == 0)
