"""MEM likelihoods, per-event VEGAS and flow proposals, fits and NUTS on exact references.

The reference is the Breit–Wigner ⊗ Gaussian toy of issue 6 (m = 172.5, Γ = 1.32,
σ = 10 GeV, window 172.5 ± 50 GeV, :mod:`diffsim.inference.mem_toy`), whose exact
per-event likelihood is the Voigt profile normalised over the window — computed here
with ``scipy.special.voigt_profile`` and ``scipy.integrate.quad``, code we did not write.
"""

import arviz
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import optax
import pytest
from jax.scipy.special import ndtr
from scipy.integrate import quad
from scipy.special import voigt_profile
from tolerance import assert_close, assert_within_sigma, central_difference

import diffsim
from diffsim.flows import unit_hypercube_flow
from diffsim.inference import (
    BreitWignerGaussian,
    BreitWignerOrResolution,
    FlowProposal,
    ProposalSample,
    Vegas,
    VegasProposal,
    adapt_vegas_proposal,
    event_integrals,
    fit_max_likelihood,
    integrate_events,
    likelihood_model,
    mem_log_likelihood,
    run_nuts,
    train_flow_proposal,
)

diffsim.enable_x64()

TOY = BreitWignerGaussian()
FLAT = VegasProposal(jnp.broadcast_to(jnp.linspace(0.0, 1.0, 51), (12, 1, 51)))
"""Flat sampling of the 12 test events, as a proposal."""
TRUTH = {"mass": 172.5}


def voigt(x, mass, width=TOY.width):
    return voigt_profile(np.asarray(x) - mass, TOY.resolution, width / 2)


def window_integral(mass, width=TOY.width):
    return quad(lambda y: voigt(y, mass, width), *TOY.window, limit=200, epsabs=1e-13)[0]


def exact_log_likelihood(x, mass, width=TOY.width):
    return np.log(voigt(x, mass, width) / window_integral(mass, width))


@pytest.fixture(scope="module")
def events():
    return TOY.generate(jax.random.key(0), TRUTH, 12)


@pytest.fixture(scope="module")
def trained_flow():
    """The amortised proposal, trained once on 2000 simulated events with the log χ² loss
    and the benchmark's optimiser (about 10 s)."""
    training_events = TOY.generate(jax.random.key(1), TRUTH, 2000)
    flow = unit_hypercube_flow(jax.random.key(2), 1, context_dim=1, n_layers=3, n_bins=16, hidden=32)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(3e-3, 2400)))
    return train_flow_proposal(
        jax.random.key(3), FlowProposal(flow, TOY.context), TOY.integrand, training_events, TRUTH,
        n_steps=2400, events_per_step=16, points_per_event=8, optimizer=optimizer, loss="log_chi2",
    )


def test_toy_generation_and_fiducial_cross_section_are_exact():
    x = TOY.generate(jax.random.key(4), TRUTH, 4000)
    assert x.shape == (4000,) and bool(jnp.all((x >= TOY.window[0]) & (x <= TOY.window[1])))
    # The window-normalised Voigt density: compare the sample mean of x with its exact mean.
    norm = window_integral(172.5)
    mean = quad(lambda y: y * voigt(y, 172.5), *TOY.window, limit=200)[0] / norm
    second = quad(lambda y: y**2 * voigt(y, 172.5), *TOY.window, limit=200)[0] / norm
    assert_within_sigma(jnp.mean(x), np.sqrt((second - mean**2) / 4000), mean, what="mean observed mass")
    for mass, width in ((172.5, 1.32), (175.0, 1.32), (170.0, 2.0)):
        got = TOY.sigma_fid({"mass": mass, "width": width})
        assert_close(got, window_integral(mass, width), rtol=1e-9, what=f"σ_fid at M={mass}, Γ={width}")


def test_per_event_vegas_integrals_and_log_likelihood_match_the_voigt_profile(events):
    proposal, training = adapt_vegas_proposal(
        jax.random.key(5), TOY.integrand, events, TRUTH, Vegas(1, n_bins=50), 5, 1000
    )
    assert proposal.edges.shape == (12, 1, 51) and training.value.shape == (12,)
    result = integrate_events(jax.random.key(6), TOY.integrand, events, TRUTH, proposal, 20_000)
    assert_within_sigma(result.value, result.error, voigt(events, 172.5), what="per-event VEGAS ∫ f dr")
    flat_result = integrate_events(jax.random.key(6), TOY.integrand, events, TRUTH, FLAT, 20_000)
    assert float(jnp.mean(result.rel_std)) < 0.8 * float(jnp.mean(flat_result.rel_std)), "VEGAS must adapt"

    # The grids were adapted at M = 172.5; the sample, held fixed, serves nearby masses too.
    # 2^20 points: errors ≤ 2e-4 (the 1e-3 tolerance is ≥ 5σ) but for the event nearest the
    # window edge (4e-4: there the tolerance is 2.5σ).
    sample = proposal.sample(jax.random.key(7), events, 1 << 20)
    for mass in (172.5, 173.5):
        log_l, error = mem_log_likelihood(TOY.integrand, TOY.sigma_fid, events, sample, {"mass": mass})
        assert float(jnp.median(error)) < 2e-4 and float(jnp.max(error)) < 4.5e-4
        assert_close(log_l, exact_log_likelihood(events, mass), atol=1e-3, what=f"per-event log L, M={mass}")


def test_amortised_flow_proposal_is_unbiased_and_learns_the_bulk(events, trained_flow):
    """Every event's integral is right; the typical event's weights are 5× tighter than flat
    sampling's. Not asserted for every event: the event 2.6 σ above the peak (x = 198.9 GeV,
    where ~1 % of the training events lie) came out at 0.4 and 1.3 relative spread per call
    under two LLVM optimisation levels of the same program (flat: 1.9), against 0.02–0.05
    for the others, so the flow's tail is not reproducible to a bound (a defensive component
    covers the tails: test_defensive_mixture_is_the_stated_density_and_trains_unbiased)."""
    losses = trained_flow.losses
    assert trained_flow.calls == 2400 * 16 * 8
    assert float(jnp.mean(losses[-100:])) < float(jnp.mean(losses[:100])), "training lowers log(1 + χ²)"
    result = integrate_events(jax.random.key(8), TOY.integrand, events, TRUTH, trained_flow.proposal, 20_000)
    assert_within_sigma(result.value, result.error, voigt(events, 172.5), what="flow ∫ f dr")
    flat_result = integrate_events(jax.random.key(8), TOY.integrand, events, TRUTH, FLAT, 20_000)
    assert float(jnp.median(result.rel_std)) < 0.06, "trained flow: relative spread of the typical event"
    assert float(jnp.median(result.rel_std / flat_result.rel_std)) < 0.2, "trained flow against flat sampling"
    sample = trained_flow.proposal.sample(jax.random.key(9), events, 256)
    log_q = jax.vmap(trained_flow.proposal.log_prob)(sample.r, events)
    assert_close(log_q, sample.log_q, atol=1e-5, what="log q from sampling = log q of the points")


def test_defensive_density_is_the_breit_wigner_or_the_resolution_in_r():
    """q(r | x) = s + (1 − s) N(m(r); x, σ) dm/dr: its log is the log derivative (autodiff) of
    the CDF s r + (1 − s) Φ((m(r) − x)/σ), so it is normalised on [0, 1], and the sampled
    points follow that CDF (binomial errors, 5σ)."""
    density = TOY.defensive_density()
    assert density == BreitWignerOrResolution(TOY, 0.5)
    x = jnp.asarray(195.0)

    def cdf(r, share):
        return share * r + (1 - share) * ndtr((TOY.hard_mass(jnp.reshape(r, (1, 1)), TRUTH)[0] - x) / 10.0)

    grid = jnp.linspace(0.01, 0.995, 41)
    for share in (0.0, 0.5, 1.0):
        slope = jax.vmap(jax.grad(lambda q, share=share: cdf(q, share)))(grid)
        got = TOY.defensive_density(share).log_prob(grid[:, None], x)
        assert_close(got, jnp.log(slope), rtol=1e-10, atol=1e-12, what=f"log q(r | x), prior share {share}")
    r = density.sample(jax.random.key(20), x, 20_000)
    assert r.shape == (20_000, 1) and bool(jnp.all((r >= 0) & (r <= 1)))
    for edge in (0.2, 0.5, 0.98, 0.99, 0.995):
        expected = float(cdf(edge, 0.5))
        assert_within_sigma(jnp.mean(r[:, 0] < edge), np.sqrt(expected * (1 - expected) / 20_000), expected,
                            what=f"fraction of points below r = {edge}")
    with pytest.raises(ValueError, match="prior_share"):
        TOY.defensive_density(1.5)


def test_defensive_mixture_is_the_stated_density_and_trains_unbiased(events):
    """q = (1 − a) q_flow + a q_d: log_prob and the sampled log q agree with the formula;
    after a short training with a = 0.05 every event's integral is right, and the tail
    events (|x − M| > 2σ) spread less than under flat sampling."""
    flow = unit_hypercube_flow(jax.random.key(21), 1, context_dim=1, n_layers=3, n_bins=16, hidden=32)
    channel = TOY.defensive_density()
    proposal = FlowProposal(flow, TOY.context, defensive=channel, defensive_fraction=0.05)
    r = jax.random.uniform(jax.random.key(22), (64, 1))
    expected = jnp.logaddexp(np.log(0.95) + flow.log_prob(r, jnp.broadcast_to(TOY.context(events[0]), (64, 1))),
                             np.log(0.05) + channel.log_prob(r, events[0]))
    assert_close(proposal.log_prob(r, events[0]), expected, rtol=1e-12, what="mixture log q")
    sample = proposal.sample(jax.random.key(23), events, 256)
    assert_close(jax.vmap(proposal.log_prob)(sample.r, events), sample.log_q, rtol=1e-12, what="sampled log q")

    training_events = TOY.generate(jax.random.key(24), TRUTH, 2000)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(3e-3, 300)))
    trained = train_flow_proposal(jax.random.key(25), proposal, TOY.integrand, training_events, TRUTH,
                                  n_steps=300, events_per_step=16, points_per_event=8, optimizer=optimizer,
                                  loss="log_chi2")
    assert trained.calls == 300 * 16 * 8 and trained.proposal.defensive_fraction == 0.05
    result = integrate_events(jax.random.key(26), TOY.integrand, events, TRUTH, trained.proposal, 20_000)
    assert_within_sigma(result.value, result.error, voigt(events, 172.5), what="defensive flow ∫ f dr")
    flat = integrate_events(jax.random.key(26), TOY.integrand, events, TRUTH, FLAT, 20_000)
    tails = np.abs(np.asarray(events) - 172.5) > 20.0
    assert tails.any() and np.all(np.asarray(result.rel_std)[tails] < np.asarray(flat.rel_std)[tails])
    with pytest.raises(ValueError, match="needs a defensive density"):
        FlowProposal(flow, TOY.context, defensive_fraction=0.1)
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\)"):
        FlowProposal(flow, TOY.context, defensive=channel, defensive_fraction=1.0)


def test_mem_log_likelihood_gradient_matches_finite_differences(events):
    sample = ProposalSample(
        jax.random.uniform(jax.random.key(10), (12, 64, 1)), jnp.zeros((12, 64))
    )

    def total(theta):
        return jnp.sum(mem_log_likelihood(TOY.integrand, TOY.sigma_fid, events, sample, theta)[0])

    theta = {"mass": jnp.asarray(173.1), "width": jnp.asarray(1.4)}
    grad = jax.grad(total)(theta)
    numeric = central_difference(lambda v: total({"mass": v[0], "width": v[1]}), np.array([173.1, 1.4]))
    assert_close([grad["mass"], grad["width"]], numeric, rtol=1e-6, what="∂ Σ log L / ∂(M, Γ)")


def test_event_integrals_are_batched_and_checked(events):
    sample = ProposalSample(jnp.full((12, 8, 1), 0.5), jnp.zeros((12, 8)))
    chunked = event_integrals(TOY.integrand, events, sample, TRUTH, batch_size=5)
    full = event_integrals(TOY.integrand, events, sample, TRUTH)
    assert_close(chunked.value, full.value, rtol=1e-14, what="chunked over events = vectorised")
    with pytest.raises(ValueError, match="12 events but a sample for 3"):
        event_integrals(TOY.integrand, events, ProposalSample(sample.r[:3], sample.log_q[:3]), TRUTH)
    with pytest.raises(ValueError, match=r"need r \(E, K, d\)"):
        ProposalSample(jnp.zeros((4, 2)), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="n_strata must be None"):
        adapt_vegas_proposal(jax.random.key(0), TOY.integrand, events, TRUTH, Vegas(1, n_strata=2), 2, 100)
    with pytest.raises(ValueError, match="uniform base"):
        FlowProposal(unit_hypercube_flow(jax.random.key(0), 1), TOY.context)
    conditional = FlowProposal(unit_hypercube_flow(jax.random.key(0), 1, context_dim=1), TOY.context)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_flow_proposal(jax.random.key(0), conditional, TOY.integrand, events, TRUTH, n_steps=1,
                            events_per_step=1, points_per_event=2, loss="variance")


@pytest.mark.parametrize("method", ["lbfgs", "newton"])
@pytest.mark.parametrize("derivatives", ["reverse", "forward"])
def test_fit_recovers_the_minimum_and_covariance_of_a_quadratic_vmapped(derivatives, method):
    covariance = jnp.array([[2.0, 0.6], [0.6, 0.5]])
    precision = jnp.linalg.inv(covariance)
    centres = jax.random.normal(jax.random.key(11), (7, 2)) * 3

    def fit(centre):
        def nll(theta):
            d = jnp.stack([theta["a"], theta["b"]]) - centre
            return 0.5 * d @ precision @ d + 0.1 * jnp.sum(d**4)

        return fit_max_likelihood(nll, {"a": jnp.asarray(0.0), "b": jnp.asarray(0.0)}, gtol=1e-10,
                                  derivatives=derivatives, method=method)

    results = jax.jit(jax.vmap(fit))(centres)
    assert bool(jnp.all(results.converged))
    assert_close(jnp.stack([results.theta["a"], results.theta["b"]], 1), centres, atol=1e-8, what="minimum")
    assert_close(results.covariance, jnp.broadcast_to(covariance, (7, 2, 2)), rtol=1e-8, what="inverse Hessian")
    assert_close(results.errors["a"], np.sqrt(2.0), rtol=1e-8)
    with pytest.raises(ValueError, match="max_steps"):
        fit_max_likelihood(lambda t: t**2, 1.0, max_steps=0)
    with pytest.raises(ValueError, match="derivatives"):
        fit_max_likelihood(lambda t: t**2, 1.0, derivatives="central")
    with pytest.raises(ValueError, match="method"):
        fit_max_likelihood(lambda t: t**2, 1.0, method="simplex")


@pytest.mark.parametrize("method", ["lbfgs", "newton"])
def test_fit_of_the_rosenbrock_valley_reaches_its_minimum(method):
    """From (−1.2, 1) the path follows the curved valley (the damped Newton steps must be
    rejected and re-damped on the way); minimum (1, 1) with Hessian [[802, −400], [−400, 200]]."""

    def nll(theta):
        return (1 - theta["x"]) ** 2 + 100 * (theta["y"] - theta["x"] ** 2) ** 2

    result = jax.jit(lambda: fit_max_likelihood(nll, {"x": jnp.asarray(-1.2), "y": jnp.asarray(1.0)},
                                                gtol=1e-9, method=method))()
    assert bool(result.converged)
    assert_close([result.theta["x"], result.theta["y"]], [1.0, 1.0], atol=1e-9, what="minimum")
    assert_close(result.covariance, np.linalg.inv([[802.0, -400.0], [-400.0, 200.0]]), rtol=1e-6)


def test_nuts_posterior_of_a_conjugate_gaussian_model_and_arviz_conversion():
    data = 3.0 + jax.random.normal(jax.random.key(12), (50,))

    def log_likelihood(theta):
        return jnp.sum(-0.5 * (data - theta["mu"]) ** 2)

    model = likelihood_model(log_likelihood, {"mu": dist.Normal(0.0, 10.0)})
    mcmc = run_nuts(jax.random.key(13), model, num_warmup=300, num_samples=1000)
    draws = mcmc.get_samples()["mu"]
    post_var = 1 / (1 / 100 + 50)
    post_mean = post_var * float(jnp.sum(data))
    ess = float(arviz.ess(arviz.from_numpyro(mcmc), var_names=["mu"])["mu"])
    assert_within_sigma(jnp.mean(draws), np.sqrt(post_var / ess), post_mean, what="posterior mean")
    assert_close(jnp.std(draws), np.sqrt(post_var), rtol=5 / np.sqrt(2 * ess), what="posterior std")
    with pytest.raises(TypeError, match="numpyro distributions"):
        likelihood_model(log_likelihood, {"mu": 1.0})
