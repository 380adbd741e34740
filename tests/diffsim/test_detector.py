"""The parametric detector: resolutions against published numbers, smearing moments,
normalisation and change of variables of the transfer density, efficiency limits,
finite-difference gradients (float64) w.r.t. momenta and every detector parameter, the
event-level API, errors, and jit/vmap/grad/float32 smoke runs.

References: the Delphes ATLAS card (Delphes 3, arXiv:1307.6346, ``cards/delphes_card_ATLAS.tcl``)
for the default calorimeter terms, and the ATLAS design resolutions (JINST 3 (2008) S08003,
Table 1.1: EM calorimeter 10 %/√E ⊕ 0.7 %, hadronic calorimeter 50 %/√E ⊕ 3 %).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from tolerance import assert_close, assert_within_sigma, central_difference

import diffsim
from diffsim.detector import (
    Acceptance,
    Detector,
    ObjectResponse,
    Resolution,
    coordinates,
    momentum_from_coordinates,
    object_type,
)
from diffsim.kinematics import delta_phi

diffsim.enable_x64()

DETECTOR = Detector.default()
# (name, response, hard momentum): a massless electron, a massless muon, and a massive jet
# whose azimuth is close to π so that smeared azimuths wrap around.
CASES = [
    ("electron", DETECTOR.electron, momentum_from_coordinates(80.0, 0.7, 1.2, 0.0)),
    ("muon", DETECTOR.muon, momentum_from_coordinates(45.0, -1.3, -2.0, 0.0)),
    ("jet", DETECTOR.jet, momentum_from_coordinates(150.0, 1.1, math.pi - 0.02, 12.0**2)),
]
IDS = [name for name, _, _ in CASES]


def with_positive_terms(module, value=0.3):
    """``module`` with every zero resolution term set to ``value``: central differences
    need an open neighbourhood, and a term is only valid for ``>= 0``."""
    return jax.tree.map(lambda x: jnp.where(x == 0, value, x) if eqx.is_inexact_array(x) else x, module)


GRADIENT_CASES = [(name, with_positive_terms(response), p) for name, response, p in CASES]
GRADIENT_DETECTOR = with_positive_terms(DETECTOR)


def split(module):
    """Flat float64 vector of a module's array leaves and the function rebuilding it."""
    params, static = eqx.partition(module, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    return np.asarray(flat, np.float64), lambda v: eqx.combine(unravel(v), static)


def assert_gradient(f, x, what, rtol=1e-6, relative=False):
    """``jax.grad`` of the scalar ``f`` at ``x`` against central finite differences (float64),
    evaluated eagerly (a few dozen calls: cheaper here than compiling).

    With ``relative=True`` the steps are relative (``x_i (1 ± 1e-6)``: detector parameters
    span 1e-3 to 20), i.e. the test compares ``x_i ∂f/∂x_i``.
    """
    x = np.asarray(x, np.float64)
    analytic = np.asarray(jax.grad(f)(jnp.asarray(x)))
    if relative:
        analytic = analytic * x
        numeric = central_difference(lambda u: f(u * x), np.ones_like(x))
    else:
        numeric = central_difference(f, x)
    assert_close(analytic, numeric, rtol=rtol, atol=rtol * np.max(np.abs(numeric)), what=what)


# -- resolution against published numbers ---------------------------------------------------
def test_resolution_against_published_values():
    """σ_E from our quadrature form against hand values of the published parametrisations."""
    # Delphes ATLAS card ECal (|η| <= 3.2): σ = sqrt(E²·0.0017² + E·0.101²).
    # By hand: E = 10: sqrt(0.102299) = 0.3198421; E = 100: sqrt(1.049) = 1.0242070;
    # E = 1000: sqrt(13.091) = 3.6181487.
    ecal = DETECTOR.electron.resolution
    assert_close(ecal.sigma(jnp.array([10.0, 100.0, 1000.0])), [0.31984214856707, 1.02420701032555, 3.61814869788404],
                 rtol=1e-12, what="Delphes ATLAS ECal")
    # Delphes ATLAS card barrel HCal (|η| <= 1.7): σ = sqrt(E²·0.0302² + E·0.5205² + 1.59²).
    # By hand: E = 50: sqrt(18.3542125) = 4.2841817; E = 500: sqrt(365.998225) = 19.1310801.
    assert_close(DETECTOR.jet.resolution.sigma(jnp.array([50.0, 500.0])), [4.28418166048080, 19.1310800792846],
                 rtol=1e-12, what="Delphes ATLAS HCal")
    # ATLAS design goals at E = 100 GeV: sqrt(0.1²/100 + 0.007²) = sqrt(1.49e-4) = 0.0122066 and
    # sqrt(0.5²/100 + 0.03²) = sqrt(3.4e-3) = 0.0583095.
    assert_close(Resolution(0.10, 0.0, 0.007).relative(100.0), 0.0122065556157337, rtol=1e-12, what="EM design")
    assert_close(Resolution(0.50, 0.0, 0.03).relative(100.0), 0.0583095189484530, rtol=1e-12, what="HCal design")
    # Each term alone: a/√E, b/E, c.
    assert_close(Resolution(0.5, 0.0, 0.0).relative(25.0), 0.1, rtol=1e-14, what="stochastic")
    assert_close(Resolution(0.0, 2.0, 0.0).relative(25.0), 0.08, rtol=1e-14, what="noise")
    assert_close(Resolution(0.0, 0.0, 0.015).relative(25.0), 0.015, rtol=1e-14, what="constant")


def test_coordinates_round_trip():
    """(E, η, φ, m²) → four-momentum → (E, η, φ) and the mass, for massive and massless objects."""
    energy = jnp.array([80.0, 45.0, 150.0])
    eta = jnp.array([0.7, -1.3, 3.9])
    azimuth = jnp.array([1.2, -2.0, 3.1])
    m2 = jnp.array([0.0, 0.0, 144.0])
    p = momentum_from_coordinates(energy, eta, azimuth, m2)
    back = coordinates(p)
    for got, want, name in zip(back, (energy, eta, azimuth), ("E", "eta", "phi")):
        assert_close(got, want, rtol=1e-12, atol=1e-12, what=name)
    assert_close(p[:, 0] ** 2 - jnp.sum(p[:, 1:] ** 2, axis=1), m2, atol=1e-9, what="mass")


# -- smearing moments --------------------------------------------------------------------------
@pytest.mark.parametrize("name,response,p_hard", CASES, ids=IDS)
def test_smear_moments(name, response, p_hard):
    """Residuals of 20000 smeared copies (fixed key) have mean 0 and the analytic widths (5σ)."""
    n = 20000
    p_reco = response.smear(jax.random.key(7), jnp.broadcast_to(p_hard, (n, 4)))
    energy, eta, _ = coordinates(p_hard)
    sigmas = response.sigmas(energy)
    reco_energy, reco_eta, _ = coordinates(p_reco)
    residuals = (reco_energy - energy, reco_eta - eta, delta_phi(p_reco, p_hard))
    for label, r, sigma in zip(("E", "eta", "phi"), residuals, sigmas):
        r, sigma = np.asarray(r), float(sigma)
        assert_within_sigma(r.mean(), sigma / math.sqrt(n), 0.0, what=f"{name} mean of {label} residual")
        assert_within_sigma(r.std(), sigma / math.sqrt(2 * n), sigma, what=f"{name} std of {label} residual")
    if not response.massless:
        mass2 = p_reco[:, 0] ** 2 - jnp.sum(p_reco[:, 1:] ** 2, axis=1)
        assert_close(mass2, 144.0, rtol=1e-9, what=f"{name}: the reco mass is the hard mass")
    else:
        assert_close(p_reco[:, 0], jnp.linalg.norm(p_reco[:, 1:], axis=1), rtol=1e-12, what=f"{name} massless")


# -- the transfer density -----------------------------------------------------------------------
@pytest.mark.parametrize("name,response,p_hard", CASES, ids=IDS)
def test_log_transfer_is_normalised(name, response, p_hard):
    """∫ W dE dη dφ = 1 by a trapezoid rule on ±8σ in each reco coordinate (the jet's φ range
    crosses π, so the wrapping is exercised); the Gaussian tails beyond 8σ are below 1e-14."""
    energy, eta, azimuth = coordinates(p_hard)
    axes = [jnp.linspace(centre - 8 * s, centre + 8 * s, 41) for centre, s in zip((energy, eta, azimuth),
                                                                                   response.sigmas(energy))]
    grid = jnp.meshgrid(*axes, indexing="ij")
    m2 = 0.0 if response.massless else 144.0
    p_reco = momentum_from_coordinates(*grid, m2)
    density = jnp.exp(response.log_transfer(p_reco, p_hard))
    integral = jnp.trapezoid(jnp.trapezoid(jnp.trapezoid(density, axes[2], axis=2), axes[1], axis=1), axes[0])
    assert_close(integral, 1.0, rtol=1e-10, what=f"{name}: ∫ W")


@pytest.mark.parametrize("name,response,p_hard", CASES, ids=IDS)
def test_log_transfer_is_the_change_of_variables(name, response, p_hard):
    """log W(g(ε)) = log N(ε; 0, 1) − log|det ∂(E, η, φ)_reco/∂ε| with the autodiff Jacobian."""
    eps = jax.random.normal(jax.random.key(3), (8, 3))

    def reco_coordinates(e):
        return jnp.stack(coordinates(response.smear_with_noise(p_hard, e)))

    jacobians = jax.jit(jax.vmap(jax.jacfwd(reco_coordinates)))(eps)
    log_det = jnp.linalg.slogdet(jacobians)[1]
    log_normal = -0.5 * jnp.sum(eps**2, axis=1) - 1.5 * math.log(2 * math.pi)
    got = response.log_transfer(response.smear_with_noise(p_hard, eps), p_hard)
    assert_close(got, log_normal - log_det, rtol=1e-10, atol=1e-9, what=name)


# -- efficiency ---------------------------------------------------------------------------------
def test_efficiency_limits_and_threshold():
    """ε → 1 well inside, → 0 far outside, 1/2 on each threshold; log_efficiency = log ε."""
    acceptance = Acceptance(20.0, 2.5, 0.5, 0.05)
    pt = jnp.array([20.0, 70.0, 5.0, 100.0, 100.0, 100.0])
    eta = jnp.array([0.0, 0.0, 0.0, 2.5, -2.5, 4.0])
    p = momentum_from_coordinates(pt * jnp.cosh(eta), eta, jnp.full(6, 0.4), 0.0)
    expected = [0.5, 1.0, 0.0, 0.5, 0.5, 0.0]
    efficiency = acceptance.efficiency(p)
    assert_close(efficiency, expected, atol=1e-12, what="efficiency")
    assert float(efficiency[2]) > 0 and float(efficiency[5]) > 0  # smooth: never exactly 0
    assert_close(acceptance.log_efficiency(p), jnp.log(efficiency), rtol=1e-12, atol=1e-15, what="log efficiency")
    # Far outside, the log is still accurate: log ε = log σ(−30) + log σ(50) = −30 − log(1 + e⁻³⁰) − log(1 + e⁻⁵⁰).
    assert_close(acceptance.log_efficiency(p[2]), -30.0 - math.log1p(math.exp(-30.0)) - math.log1p(math.exp(-50.0)),
                 rtol=1e-12, what="log efficiency far outside")


def test_efficiency_gradients_match_finite_differences():
    """d log ε / d(thresholds, widths) and d ε / d p against central differences."""
    acceptance = Acceptance(20.0, 2.5, 1.5, 0.1)
    p = momentum_from_coordinates(jnp.array([30.0, 90.0]), jnp.array([0.3, 2.45]), jnp.array([0.1, -1.0]), 0.0)
    theta, rebuild = split(acceptance)
    assert theta.shape == (4,)
    assert_gradient(lambda t: jnp.sum(rebuild(t).log_efficiency(p) * jnp.array([0.3, 1.0])), theta,
                    "log efficiency w.r.t. (pt_min, eta_max, pt_width, eta_width)", relative=True)
    assert_gradient(lambda t: jnp.sum(rebuild(t).efficiency(p)), theta, "efficiency w.r.t. parameters", relative=True)
    assert_gradient(lambda q: jnp.sum(acceptance.efficiency(q.reshape(2, 4))), np.asarray(p).ravel(),
                    "efficiency w.r.t. momenta")


# -- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,response,p_hard", GRADIENT_CASES, ids=IDS)
def test_response_gradients_match_finite_differences(name, response, p_hard):
    """Gradients of smear_with_noise, log_transfer and log_efficiency w.r.t. the hard momentum,
    the reco momentum and every detector parameter (9 per object) against central differences."""
    eps = jnp.array([0.7, -1.1, 0.4])
    weights = jnp.array([0.3, -0.8, 1.1, 0.5])  # a generic linear functional of p_reco
    p_reco = response.smear_with_noise(p_hard, eps)
    theta, rebuild = split(response)
    assert theta.shape == (9,)
    p0 = np.asarray(p_hard)
    assert_gradient(lambda t: weights @ rebuild(t).smear_with_noise(p_hard, eps), theta, f"{name}: smear w.r.t. θ", relative=True)
    assert_gradient(lambda q: weights @ response.smear_with_noise(q, eps), p0, f"{name}: smear w.r.t. p_hard")
    assert_gradient(lambda t: rebuild(t).log_transfer(p_reco, p_hard), theta, f"{name}: log W w.r.t. θ", relative=True)
    assert_gradient(lambda q: response.log_transfer(p_reco, q), p0, f"{name}: log W w.r.t. p_hard")
    assert_gradient(lambda q: response.log_transfer(q, p_hard), np.asarray(p_reco), f"{name}: log W w.r.t. p_reco")
    assert_gradient(lambda t: rebuild(t).log_efficiency(p_hard), theta, f"{name}: log ε w.r.t. θ", relative=True)
    assert_gradient(lambda q: response.log_efficiency(q), p0, f"{name}: log ε w.r.t. p_hard")


# -- whole events -----------------------------------------------------------------------------------
PDG_IDS = (-11, 11, 11, -11, 21, 14)  # e+ e- > e- e+ g ν_μ (incoming first)
EVENT = jnp.stack([
    jnp.array([500.0, 0.0, 0.0, 500.0]),
    jnp.array([500.0, 0.0, 0.0, -500.0]),
    momentum_from_coordinates(200.0, 0.4, 0.3, 0.0),
    momentum_from_coordinates(150.0, -0.8, 2.9, 0.0),
    momentum_from_coordinates(120.0, 1.5, -2.0, 0.0),
    momentum_from_coordinates(60.0, -2.0, -0.5, 0.0),
])


def test_event_smearing_and_sums():
    """Incoming and invisible rows pass through; visible rows are smeared by their response;
    the event log W and log ε are the sums over visible final-state objects."""
    key = jax.random.key(11)
    p_reco = DETECTOR.smear(key, EVENT, PDG_IDS)
    eps = jax.random.normal(key, EVENT.shape[:-1] + (3,))
    assert_close(p_reco, DETECTOR.smear_with_noise(EVENT, eps, PDG_IDS), rtol=0, what="smear = smear_with_noise")
    assert_close(p_reco[np.array([0, 1, 5])], EVENT[np.array([0, 1, 5])], rtol=0, what="beams and the neutrino pass through")
    assert np.all(np.abs(np.asarray(p_reco[2:5] - EVENT[2:5])) > 0)
    for row, pid in zip(range(2, 5), PDG_IDS[2:5]):
        response = DETECTOR.response(pid)
        assert_close(p_reco[row], response.smear_with_noise(EVENT[row], eps[row]), rtol=1e-14, what=f"row {row}")
    per_object = sum(DETECTOR.response(pid).log_transfer(p_reco[row], EVENT[row])
                     for row, pid in zip(range(2, 5), PDG_IDS[2:5]))
    assert_close(DETECTOR.log_transfer(p_reco, EVENT, PDG_IDS), per_object, rtol=1e-14, what="event log W")
    efficiency = [DETECTOR.response(pid).efficiency(EVENT[row]) for row, pid in zip(range(2, 5), PDG_IDS[2:5])]
    assert_close(DETECTOR.efficiency(EVENT, PDG_IDS), np.prod(efficiency), rtol=1e-12, what="event efficiency")
    # Final-state-only events (n_incoming=0) and batches broadcast.
    batch = jnp.broadcast_to(EVENT[2:], (5, 4, 4))
    assert DETECTOR.smear(key, batch, PDG_IDS[2:], n_incoming=0).shape == (5, 4, 4)
    assert DETECTOR.log_transfer(p_reco[2:], batch, PDG_IDS[2:], n_incoming=0).shape == (5,)


def test_event_gradients_match_finite_differences():
    """Event-level smear, log W and log ε w.r.t. all 36 detector parameters (zero terms made positive) and the momenta."""
    eps = jax.random.normal(jax.random.key(5), EVENT.shape[:-1] + (3,))
    p_reco = GRADIENT_DETECTOR.smear_with_noise(EVENT, eps, PDG_IDS)
    theta, rebuild = split(GRADIENT_DETECTOR)
    assert theta.shape == (36,)
    weights = jax.random.normal(jax.random.key(6), EVENT.shape)
    assert_gradient(lambda t: jnp.sum(weights * rebuild(t).smear_with_noise(EVENT, eps, PDG_IDS)), theta,
                    "event smear w.r.t. θ", relative=True)
    assert_gradient(lambda t: rebuild(t).log_transfer(p_reco, EVENT, PDG_IDS), theta, "event log W w.r.t. θ", relative=True)
    assert_gradient(lambda t: rebuild(t).log_efficiency(EVENT, PDG_IDS), theta, "event log ε w.r.t. θ", relative=True)
    assert_gradient(lambda q: GRADIENT_DETECTOR.log_transfer(p_reco, q.reshape(6, 4), PDG_IDS), np.asarray(EVENT).ravel(),
                    "event log W w.r.t. p_hard")


def test_pdg_dispatch():
    assert DETECTOR.response(11) is DETECTOR.electron and DETECTOR.response(-11) is DETECTOR.electron
    assert DETECTOR.response(-13) is DETECTOR.muon and DETECTOR.response(22) is DETECTOR.photon
    assert all(DETECTOR.response(pid) is DETECTOR.jet for pid in (1, -2, 3, -4, 5, 21))
    assert object_type(-16) is None
    for pid in (12, -14, 16):
        with pytest.raises(ValueError, match="neutrino"):
            DETECTOR.response(pid)
    for pid in (6, -15, 23, 24, 25, 9999):
        with pytest.raises(ValueError, match="no detector response"):
            DETECTOR.response(pid)
    with pytest.raises(TypeError, match="Python ints"):
        DETECTOR.response(jnp.array(11))
    with pytest.raises(ValueError, match="no detector response"):
        DETECTOR.log_transfer(EVENT, EVENT, (-11, 11, 11, -11, 21, 6))


# -- errors --------------------------------------------------------------------------------------------
def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="Resolution.stochastic must be non-negative"):
        Resolution(-0.1, 0.0, 0.01)
    with pytest.raises(ValueError, match="Resolution.constant"):
        Resolution(0.1, 0.0, float("nan"))
    with pytest.raises(ValueError, match="sum of the Resolution terms"):
        Resolution(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="Acceptance.pt_width must be positive"):
        Acceptance(10.0, 2.5, 0.0, 0.05)
    with pytest.raises(ValueError, match="Acceptance.pt_min"):
        Acceptance(-1.0, 2.5, 1.0, 0.05)
    with pytest.raises(ValueError, match="Acceptance.eta_width"):
        Acceptance(10.0, 2.5, 1.0, -0.05)
    with pytest.raises(ValueError, match="sigma_phi must be positive"):
        ObjectResponse(Resolution(0.1, 0.0, 0.0), 0.01, -0.01, Acceptance(10.0, 2.5, 1.0, 0.05))
    with pytest.raises(TypeError, match="Resolution"):
        ObjectResponse(0.1, 0.01, 0.01, Acceptance(10.0, 2.5, 1.0, 0.05))
    # Inside jit the parameters are traced: the check happens at run time.
    p = CASES[0][2]

    @eqx.filter_jit
    def smear_with(stochastic, sigma_eta, pt_width):
        resolution = Resolution(stochastic, 0.0, 0.01)
        response = ObjectResponse(resolution, sigma_eta, 0.01, Acceptance(10.0, 2.5, pt_width, 0.05))
        return response.smear_with_noise(p, jnp.ones(3)), response.log_efficiency(p)

    smear_with(0.1, 0.01, 1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="Resolution terms"):
        smear_with(-0.1, 0.01, 1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="sigma_eta must be positive"):
        smear_with(0.1, -0.01, 1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="pt_width must be positive"):
        smear_with(0.1, 0.01, -1.0)


def test_bad_shapes_raise():
    response, p = DETECTOR.electron, CASES[0][2]
    with pytest.raises(ValueError, match=r"p_hard must have shape \(..., 4\)"):
        response.smear_with_noise(p[:3], jnp.zeros(3))
    with pytest.raises(ValueError, match=r"eps must have shape \(..., 3\)"):
        response.smear_with_noise(p, jnp.zeros(2))
    with pytest.raises(ValueError, match="p_reco must have shape"):
        response.log_transfer(jnp.zeros((2, 5)), p)
    with pytest.raises(TypeError, match="floating point"):
        response.smear(jax.random.key(0), jnp.array([1, 0, 0, 1]))
    with pytest.raises(ValueError, match=r"momenta must have shape \(..., 5, 4\)"):
        DETECTOR.smear(jax.random.key(0), EVENT, PDG_IDS[:5])
    with pytest.raises(ValueError, match="n_incoming"):
        DETECTOR.log_efficiency(EVENT, PDG_IDS, n_incoming=7)
    with pytest.raises(TypeError, match="static tuple"):
        DETECTOR.log_efficiency(EVENT, jnp.array(PDG_IDS))
    with pytest.raises(ValueError, match=r"eps must have shape \(..., 6, 3\)"):
        DETECTOR.smear_with_noise(EVENT, jnp.zeros((6, 4)), PDG_IDS)
    with pytest.raises(ValueError, match="p_reco must have shape"):
        DETECTOR.log_transfer(EVENT[:5], EVENT, PDG_IDS)


# -- smoke ------------------------------------------------------------------------------------------------
def test_jit_vmap_grad_smoke():
    """The event API under jit, vmap over keys, and grad w.r.t. the detector and the momenta."""
    keys = jax.random.split(jax.random.key(2), 3)
    smear = jax.jit(jax.vmap(lambda k: DETECTOR.smear(k, EVENT, PDG_IDS)))
    p_reco = smear(keys)
    assert p_reco.shape == (3, 6, 4) and np.all(np.isfinite(np.asarray(p_reco)))
    assert not np.allclose(np.asarray(p_reco[0]), np.asarray(p_reco[1]))

    @jax.jit
    def objective(detector, p_hard):
        return jnp.sum(detector.log_transfer(p_reco, p_hard, PDG_IDS) + detector.log_efficiency(p_hard, PDG_IDS))

    grad_detector, grad_p = jax.grad(objective, argnums=(0, 1))(DETECTOR, EVENT)
    leaves = jax.tree.leaves(grad_detector) + [grad_p]
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in leaves)
    assert float(jnp.abs(grad_detector.jet.resolution.noise)) > 0


def test_float32_smoke():
    """Single precision in, single precision out, finite."""
    event = EVENT.astype(jnp.float32)
    p_reco = jax.jit(lambda k: DETECTOR.smear(k, event, PDG_IDS))(jax.random.key(0))
    log_w = DETECTOR.log_transfer(p_reco, event, PDG_IDS)
    log_eff = DETECTOR.log_efficiency(event, PDG_IDS)
    grad = jax.grad(lambda d: d.log_transfer(p_reco, event, PDG_IDS))(DETECTOR)
    assert p_reco.dtype == log_w.dtype == log_eff.dtype == jnp.float32
    assert np.isfinite(float(log_w)) and np.isfinite(float(log_eff))
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(grad))
    assert_close(log_w, DETECTOR.log_transfer(p_reco.astype(jnp.float64), EVENT, PDG_IDS), rtol=1e-4,
                 what="float32 vs float64 log W")
