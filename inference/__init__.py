"""Consumers of the differentiable chain: integrators, unweighting, MEM, fits.

Installed as ``diffsim.inference`` (source folder ``inference/``). Generic over
integrands; never imports :mod:`diffsim.models`.

- :mod:`~diffsim.inference.result`: :class:`IntegrationResult`, what every estimate returns;
- :mod:`~diffsim.inference.flat` and :mod:`~diffsim.inference.vegas`: flat Monte Carlo and
  VEGAS (adaptive grid, optional stratification; the grid is a reusable bijection);
- :mod:`~diffsim.inference.multichannel`, :mod:`~diffsim.inference.training`,
  :mod:`~diffsim.inference.nis`, :mod:`~diffsim.inference.losses`: MadNIS-style neural
  importance sampling — flows per channel, trained channel weights, online, buffered and
  pathwise training with checkpoints, stratified evaluation;
- :mod:`~diffsim.inference.unweighting` and :mod:`~diffsim.inference.generation`: w_max,
  hit-or-miss unweighting, unweighted events from a weighted multi-channel sample;
- :mod:`~diffsim.inference.toys`: the benchmark integrands with known integrals.
"""

from diffsim.inference.flat import evaluate_in_batches, integrate_flat
from diffsim.inference.generation import unweighted_events
from diffsim.inference.losses import (
    forward_kl_loss,
    pathwise_reverse_kl_loss,
    pathwise_variance_loss,
    reverse_kl_loss,
    variance_loss,
)
from diffsim.inference.multichannel import MultiChannelSampler, multichannel_sampler, vegas_initialise
from diffsim.inference.nis import WeightedSample, integrate, sample_weighted
from diffsim.inference.result import IntegrationResult
from diffsim.inference.training import TrainingState, train
from diffsim.inference.unweighting import (
    UnweightedSample,
    bootstrap_max_weight,
    multichannel_efficiency,
    quantile_max_weight,
    unweight,
    unweighting_efficiency,
)
from diffsim.inference.vegas import Vegas, VegasMap, VegasState, integrate_vegas

__all__ = [
    "IntegrationResult",
    "MultiChannelSampler",
    "TrainingState",
    "UnweightedSample",
    "Vegas",
    "VegasMap",
    "VegasState",
    "WeightedSample",
    "bootstrap_max_weight",
    "evaluate_in_batches",
    "forward_kl_loss",
    "integrate",
    "integrate_flat",
    "integrate_vegas",
    "multichannel_efficiency",
    "multichannel_sampler",
    "pathwise_reverse_kl_loss",
    "pathwise_variance_loss",
    "quantile_max_weight",
    "reverse_kl_loss",
    "sample_weighted",
    "train",
    "unweight",
    "unweighted_events",
    "unweighting_efficiency",
    "variance_loss",
    "vegas_initialise",
]
