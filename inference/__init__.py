"""Consumers of the differentiable chain: integrators, unweighting, MEM, fits.

Installed as ``diffsim.inference`` (source folder ``inference/``). Generic over
integrands; never imports :mod:`diffsim.models`.

- :mod:`~diffsim.inference.result`: :class:`IntegrationResult`, what every estimate returns;
- :mod:`~diffsim.inference.flat` and :mod:`~diffsim.inference.vegas`: flat Monte Carlo and
  VEGAS (adaptive grid, optional stratification; the grid is a reusable bijection);
- :mod:`~diffsim.inference.quadrature`: product Gauss–Legendre cubature, for reference values
  of smooth (mapped) integrands;
- :mod:`~diffsim.inference.multichannel`, :mod:`~diffsim.inference.training`,
  :mod:`~diffsim.inference.nis`, :mod:`~diffsim.inference.losses`: MadNIS-style neural
  importance sampling — flows per channel, trained channel weights, online, buffered and
  pathwise training with checkpoints, stratified evaluation;
- :mod:`~diffsim.inference.unweighting` and :mod:`~diffsim.inference.generation`: w_max,
  hit-or-miss unweighting, unweighted events from a weighted multi-channel sample;
- :mod:`~diffsim.inference.streaming`: unweighted events in chunks, streamed to a resumable
  LHE file in constant memory;
- :mod:`~diffsim.inference.toys`: the benchmark integrands with known integrals;
- :mod:`~diffsim.inference.mem`, :mod:`~diffsim.inference.mem_vegas`,
  :mod:`~diffsim.inference.mem_flow`: matrix-element-method likelihoods with per-event
  VEGAS or an amortised conditional-flow proposal (:mod:`~diffsim.inference.mem_toy`: the
  Breit–Wigner ⊗ Gaussian reference toy);
- :mod:`~diffsim.inference.fit` and :mod:`~diffsim.inference.posterior`: gradient-based
  maximum likelihood (optax L-BFGS, vmappable) and NumPyro NUTS posteriors.
"""

from diffsim.inference.fit import FitResult, fit_max_likelihood
from diffsim.inference.flat import evaluate_in_batches, integrate_flat
from diffsim.inference.generation import unweighted_events
from diffsim.inference.losses import (
    forward_kl_loss,
    pathwise_log_chi2_loss,
    pathwise_reverse_kl_loss,
    pathwise_variance_loss,
    reverse_kl_loss,
    variance_loss,
)
from diffsim.inference.mem import (
    ProposalSample,
    event_integrals,
    event_weights,
    integrate_events,
    mem_log_likelihood,
)
from diffsim.inference.mem_flow import (
    FlowProposal,
    ProposalTraining,
    train_flow_proposal,
)
from diffsim.inference.mem_toy import BreitWignerGaussian, BreitWignerOrResolution
from diffsim.inference.mem_vegas import VegasProposal, adapt_vegas_proposal
from diffsim.inference.multichannel import (
    MultiChannelSampler,
    multichannel_sampler,
    vegas_initialise,
)
from diffsim.inference.nis import WeightedSample, integrate, sample_weighted
from diffsim.inference.posterior import likelihood_model, run_nuts
from diffsim.inference.quadrature import gauss_legendre_rule, integrate_gauss_legendre
from diffsim.inference.result import IntegrationResult
from diffsim.inference.streaming import stream_events, unweighted_chunk
from diffsim.inference.training import TrainingState, train
from diffsim.inference.unweighting import (
    UnweightedSample,
    bootstrap_max_weight,
    multichannel_efficiency,
    quantile_max_weight,
    unweight,
    unweighting_efficiency,
)
from diffsim.inference.vegas import SmoothVegasMap, Vegas, VegasMap, VegasState, integrate_vegas

__all__ = [
    "BreitWignerGaussian",
    "BreitWignerOrResolution",
    "FitResult",
    "FlowProposal",
    "IntegrationResult",
    "MultiChannelSampler",
    "ProposalSample",
    "ProposalTraining",
    "SmoothVegasMap",
    "TrainingState",
    "UnweightedSample",
    "Vegas",
    "VegasMap",
    "VegasProposal",
    "VegasState",
    "WeightedSample",
    "adapt_vegas_proposal",
    "bootstrap_max_weight",
    "evaluate_in_batches",
    "event_integrals",
    "event_weights",
    "fit_max_likelihood",
    "forward_kl_loss",
    "gauss_legendre_rule",
    "integrate",
    "integrate_events",
    "integrate_flat",
    "integrate_gauss_legendre",
    "integrate_vegas",
    "likelihood_model",
    "mem_log_likelihood",
    "multichannel_efficiency",
    "multichannel_sampler",
    "pathwise_log_chi2_loss",
    "pathwise_reverse_kl_loss",
    "pathwise_variance_loss",
    "quantile_max_weight",
    "reverse_kl_loss",
    "run_nuts",
    "sample_weighted",
    "stream_events",
    "train",
    "train_flow_proposal",
    "unweight",
    "unweighted_chunk",
    "unweighted_events",
    "unweighting_efficiency",
    "variance_loss",
    "vegas_initialise",
]
