"""MEM study (c) of issue 6: p p → Z′ → e⁺e⁻ at 13 TeV with the detector.

The study (integrand, σ_fid, pseudo-data) is the example ``examples/mem_zprime_fit.py``
(its docstring has the formulas): hard events in 300 < m_ee < 500 GeV, the electron
response of ``Detector.default()``, θ = (MZ′, κ) with κ the Z′ lepton-coupling scale.
The MEM phase-space measure is checked against the hadronic integrand (validated against
MadGraph in tests/diffsim/hadronic), the gradient against central finite differences,
and fits against the generated truth (5σ of the Hessian error; pulls over
pseudo-experiments in the slow tests, with the analytic W and a learned transfer flow).
"""

import importlib.util
import math
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma, central_difference

import diffsim
from diffsim.detector import fit_transfer_flow
from diffsim.inference import (
    ProposalSample,
    mem_log_likelihood,
)

diffsim.enable_x64()

_SPEC = importlib.util.spec_from_file_location(
    "mem_zprime_fit", pathlib.Path(__file__).resolve().parents[2] / "examples" / "mem_zprime_fit.py"
)
EXAMPLE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(EXAMPLE)
STUDY = EXAMPLE.ZPrimeMEM.build()
TRUTH = {"mzp": jnp.asarray(400.0), "kappa": jnp.asarray(1.0)}
ETA_MAX = 3.2
"""|η| range of the flat check; the acceptance there is sigmoid(−14) ≈ 1e-6 of its plateau."""


@pytest.fixture(scope="module")
def data():
    """200 reconstructed events at the truth and a flat sample of 64 points per event."""
    hard, reco = EXAMPLE.generate(STUDY, jax.random.key(300), TRUTH, 200)
    sample = ProposalSample(jax.random.uniform(jax.random.key(301), (200, 64, 4)), jnp.zeros((200, 64)))
    return hard, reco, sample


@eqx.filter_jit
def _fiducial_weights(study, r, channel, theta):
    """Weights of ``∫ dσ ε`` at uniform ``r (N, 4)`` in channel ``channel``'s ŝ map, flat in
    (η₊, η₋, φ) over |η| < ETA_MAX (compiled once per channel, for every ``theta``)."""
    s, log_ds = study.fiducial_maps[channel].forward(r[:, 0], *(w**2 for w in EXAMPLE.WINDOW))
    eta = ETA_MAX * (2 * r[:, 1:3] - 1)
    momenta, x = study.hard_momenta(s, eta[:, 0], eta[:, 1], math.pi * (2 * r[:, 3] - 1))
    volume = (2 * ETA_MAX) ** 2 * 2 * math.pi
    jacobian = jnp.exp(log_ds) * volume * study.channel_weight(s, channel)
    return study.differential(momenta, x, s, theta) * study.efficiency(momenta) * jacobian


@pytest.mark.parametrize("theta", [{"mzp": 400.0, "kappa": 1.0}, {"mzp": 400.4, "kappa": 0.25}],
                         ids=["truth", "small-coupling"])
def test_mem_measure_integrates_to_the_fiducial_cross_section_of_the_hadronic_integrand(theta):
    """∫ dσ ε in the MEM variables (s, η₊, η₋, φ), Monte Carlo (ŝ by the same two channels,
    the rest flat), against σ_fid from the hadronic integrand in its own variables
    (x₁, x₂, Ω*) on the midpoint grid; also at a small Z′ coupling, where the γ/Z continuum
    and the Breit–Wigner tails carry a larger share (a σ_fid wrong in its κ dependence
    biases the fitted coupling)."""
    theta = jax.tree.map(jnp.asarray, theta)
    parts = [_fiducial_weights(STUDY, jax.random.uniform(jax.random.fold_in(jax.random.key(302), c), (1 << 16, 4)),
                               c, theta)
             for c in range(len(STUDY.fiducial_maps))]
    value = sum(float(jnp.mean(w)) for w in parts)
    error = math.sqrt(sum(float(jnp.var(w)) / w.size for w in parts))
    sigma_fid = float(eqx.filter_jit(EXAMPLE.ZPrimeMEM.sigma_fid)(STUDY, theta))
    assert_within_sigma(value, error, sigma_fid, what="σ_fid [pb], two measures")
    assert error < 0.01 * sigma_fid, "the check must be sharper than 1 %"


def test_pseudo_data_are_in_the_window_and_smeared(data):
    hard, reco, _ = data
    from diffsim.kinematics import invariant_mass

    m_hard = invariant_mass(hard[:, 2:])
    assert bool(jnp.all((m_hard > EXAMPLE.WINDOW[0]) & (m_hard < EXAMPLE.WINDOW[1])))
    assert_close(jnp.sum(hard[:, :2], 1), jnp.sum(hard[:, 2:], 1), atol=1e-9, what="momentum conservation")
    # The Z′ peak (Γ = 0.5 GeV) seen with the mass resolution ≈ 2.4 GeV (1 % of the 2
    # electron energies at 10.1 %/√E ⊕ 0.17 %): the core of m_reco − m_hard has that width.
    residual = np.asarray(invariant_mass(reco) - m_hard)
    assert 1.5 < np.std(residual) < 3.5


@eqx.filter_jit
def _per_event_weights(integrand, r, events):
    return jax.vmap(lambda points, event: integrand(points, event, TRUTH))(r, events)


def test_peaked_map_gives_the_same_integrals_with_a_fraction_of_the_variance(data):
    """Per event, ∫ f dr in the peaked map (the estimated marginal density in ŝ tabulated,
    ``ZPrimeMEM.peaked_integrand``) equals the one in the resolution map within 5σ of their
    Monte Carlo errors (each point uniform in its own map), and the weights spread far less
    (flat sampling: RMS relative spread 3.6 → 0.0083 on 100 events; 1 % from about one
    point per event)."""
    _, reco, _ = data
    events, n = reco[:40], 4096
    r = jax.random.uniform(jax.random.key(308), (2, *events.shape[:1], n, 4))
    resolution = _per_event_weights(STUDY.integrand, r[0], events)
    peaked = _per_event_weights(STUDY.peaked_integrand, r[1], events)
    means = [w.mean(1) for w in (resolution, peaked)]
    errors = [w.std(1) / math.sqrt(n) for w in (resolution, peaked)]
    assert_within_sigma(means[1], jnp.hypot(*errors), means[0], what="∫ f dr per event, peaked vs resolution map")
    spread = [float(jnp.sqrt(jnp.mean((w.std(1) / w.mean(1)) ** 2))) for w in (resolution, peaked)]
    assert spread[1] < 0.03, f"RMS relative spread per call: resolution {spread[0]:.2f}, peaked {spread[1]:.4f}"


def test_peaked_integrand_derivatives_in_parameters_and_points_match_finite_differences(data):
    """The fits differentiate w.r.t. θ = (MZ′, κ), pathwise flow training w.r.t. the points
    (through the tabulated mass map): forward mode against central
    differences, for 8 points of one event, the points moved along one random direction."""
    _, reco, _ = data
    event = reco[0]
    r = jax.random.uniform(jax.random.key(309), (8, 4), minval=0.05, maxval=0.95)
    direction = jax.random.normal(jax.random.key(310), r.shape)

    @jax.jit
    def total(mzp, kappa, step):
        return jnp.sum(STUDY.peaked_integrand(r + step * direction, event, {"mzp": mzp, "kappa": kappa}))

    theta = (jnp.asarray(400.3), jnp.asarray(0.9), jnp.asarray(0.0))
    derivatives = jax.jit(jax.jacfwd(total, argnums=(0, 1, 2)))(*theta)
    # Steps 4e-5 GeV, 1e-5 and 1e-6 in r: truncation and rounding both ≲ 1e-8 relative.
    numeric = [central_difference(lambda v: total(v[0], theta[1], theta[2]), np.array([400.3]), eps=1e-7)[0],
               central_difference(lambda v: total(theta[0], v[0], theta[2]), np.array([0.9]), eps=1e-5)[0],
               central_difference(lambda v: total(theta[0], theta[1], v[0]), np.array([0.0]), eps=1e-6)[0]]
    assert_close(derivatives, numeric, rtol=1e-5, what="∂Σf/∂(MZ′, κ, r along a direction)")


def test_linearised_hard_variables_are_the_least_squares_point_of_the_measurement(data):
    """``v̂`` makes the resolution-scaled χ² of the electron energies and pseudorapidities
    stationary, and ``Σ`` is the inverse of its Gauss–Newton Hessian ``½ ∇²χ²`` up to the
    (small) residual terms; the mass error is the ≈ 0.5 % resolution of m_ee."""
    _, reco, _ = data
    for event in reco[:5]:
        v, cov = STUDY.linearised_hard_variables(event)
        energies, etas = [p[0] for p in event], [EXAMPLE.coordinates(p)[1] for p in event]
        sigma = jnp.stack([STUDY.electron.sigmas(e)[0] for e in energies] + [STUDY.electron.sigma_eta] * 2)

        def chi2(u, energies=energies, etas=etas, sigma=sigma):
            pt = u[0] / jnp.sqrt(2 * (1 + jnp.cosh(u[1] - u[2])))
            predicted = jnp.stack([pt * jnp.cosh(u[1]), pt * jnp.cosh(u[2]), u[1], u[2]])
            return jnp.sum(((jnp.stack([*energies, *etas]) - predicted) / sigma) ** 2)

        scale = jnp.sqrt(jnp.diag(cov))
        assert_close(jax.grad(chi2)(v) * scale, 0.0, atol=1e-6, what="∇χ² at v̂ (in units of 1/σ_v)")
        hessian = 0.5 * jax.hessian(chi2)(v)
        assert_close(scale[:, None] * (hessian @ cov) / scale, jnp.eye(3), atol=0.02, what="½∇²χ² · Σ in units of σ_v")
        assert 0.002 < float(scale[0] / v[0]) < 0.01


@pytest.mark.slow  # compiling the gradient of the Z′ likelihood takes ~1 CPU minute
def test_mem_log_likelihood_gradient_in_mass_and_coupling_matches_finite_differences(data):
    """Forward mode, as the fits take it (the sample's hard momenta move with MZ′, and the
    reverse pass through the matrix elements w.r.t. momenta is what the fits avoid)."""
    _, reco, sample = data
    events, small = reco[:16], ProposalSample(sample.r[:16, :16], sample.log_q[:16, :16])

    theta = {"mzp": jnp.asarray(400.3), "kappa": jnp.asarray(0.9)}
    grad = eqx.filter_jit(jax.jacfwd(EXAMPLE.negative_log_likelihood, argnums=3))(STUDY, events, small, theta)

    def nll(mzp, kappa):
        return EXAMPLE.nll(STUDY, events, small, {"mzp": mzp, "kappa": kappa})

    # Steps 4e-5 GeV and 1e-5: truncation (h/Γ)² and rounding 1e-16 |nll| / h both ≲ 1e-8.
    numeric = [central_difference(lambda v: nll(v[0], 0.9), np.array([400.3]), eps=1e-7)[0],
               central_difference(lambda v: nll(400.3, v[0]), np.array([0.9]), eps=1e-5)[0]]
    assert_close([grad["mzp"], grad["kappa"]], numeric, rtol=1e-6, what="∂ (−Σ log L) / ∂(MZ′, κ)")


@pytest.mark.slow  # compiling the likelihood with its forward-mode Hessian takes minutes
def test_fit_of_mass_and_coupling_from_200_events_recovers_the_truth(data):
    _, reco, _ = data
    sample = EXAMPLE.uniform_sample(jax.random.key(307), reco, 512)
    result = EXAMPLE.fit(STUDY, reco, sample, {"mzp": jnp.asarray(400.5), "kappa": jnp.asarray(0.9)})
    assert bool(result.converged)
    for name in ("mzp", "kappa"):
        assert_within_sigma(result.theta[name], result.errors[name], TRUTH[name], what=f"fitted {name}")
    assert 0.05 < float(result.errors["mzp"]) < 0.5, "MZ′ error ≈ 2.4 GeV / √200 for a narrow peak"


def pulls(study, key, n_experiments, n_events, n_points):
    """Fits of ``n_experiments`` pseudo-data sets, each with its own uniform sample of
    ``n_points`` per event (as the example)."""
    start = {"mzp": jnp.asarray(400.5), "kappa": jnp.asarray(0.9)}
    results = []
    for experiment_key in jax.random.split(key, n_experiments):
        data_key, sample_key = jax.random.split(experiment_key)
        _, events = EXAMPLE.generate(study, data_key, TRUTH, n_events)
        results.append(EXAMPLE.fit(study, events, EXAMPLE.uniform_sample(sample_key, events, n_points), start))
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *results)


def check_pulls(results):
    assert bool(jnp.all(results.converged))
    for name in ("mzp", "kappa"):
        pull = np.asarray((results.theta[name] - TRUTH[name]) / results.errors[name])
        n = pull.size
        assert_within_sigma(pull.mean(), 1 / np.sqrt(n), 0.0, what=f"mean pull {name}")
        assert_within_sigma(pull.std(ddof=1), 1 / np.sqrt(2 * (n - 1)), 1.0, what=f"pull width {name}")


@pytest.mark.slow
def test_pulls_of_mass_and_coupling_over_50_pseudo_experiments_of_1000_events():
    check_pulls(pulls(STUDY, jax.random.key(303), 50, 1000, 512))


@pytest.mark.slow
def test_mem_with_a_learned_transfer_flow_agrees_with_the_analytic_transfer_function(data):
    """The electron transfer flow, trained on (hard, reco) pairs of 4000 events, replaces
    W: per-event log-likelihoods agree with the analytic ones and the pulls stay N(0, 1)."""
    hard, _ = EXAMPLE.generate(STUDY, jax.random.key(304), TRUTH, 4000)
    pool = hard[:, 2:].reshape(-1, 4)
    flow = fit_transfer_flow(jax.random.key(305), STUDY.electron, pool, n_steps=2000, batch_size=512,
                             learning_rate=3e-3, dtype=jnp.float64, massless=True)
    learned = EXAMPLE.ZPrimeMEM.build(transfer=flow)
    _, reco, sample = data
    log_likelihood = eqx.filter_jit(mem_log_likelihood)
    analytic = log_likelihood(STUDY.integrand, STUDY.sigma_fid, reco, sample, TRUTH)[0]
    flow_ll = log_likelihood(learned.integrand, learned.sigma_fid, reco, sample, TRUTH)[0]
    difference = np.asarray(flow_ll - analytic)
    # Same points: the difference is the log-ratio of the two W's, averaged by the sample.
    assert abs(difference.mean()) < 0.05 and difference.std() < 0.1, "flow W ≈ analytic W per event"
    check_pulls(pulls(learned, jax.random.key(306), 30, 1000, 512))
