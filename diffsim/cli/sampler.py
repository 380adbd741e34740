"""The trained sampler of a run, its σ, allocation and w_max — computed once, then cached.

:func:`prepare` builds a :class:`~diffsim.inference.MultiChannelSampler` for the run's
integrand and trains it as the card's integrator says:

* ``vegas``: one VEGAS grid per channel (:func:`~diffsim.inference.vegas_initialise`,
  ``train_iterations × batch_size`` calls each) under an identity flow, with the prior
  channel weights — multi-channel VEGAS as in MadGraph;
* ``nis``: one channel, one flow, VEGAS-initialised, then ``train_steps`` steps of
  buffered variance training (:func:`~diffsim.inference.train`);
* ``madnis``: the diagram channels with trainable channel weights, VEGAS-initialised flows,
  then the same training (MadNIS, arXiv:2212.06172, 2311.01548).

A first sample of ``batch_size`` points sets the optimal allocation of points to
channels (``∝ σ_c``, arXiv:2212.06172 eq. 16); ``pilot_points`` more, in batches of
``batch_size`` with that allocation (:func:`draw_batch`), give σ (pb) and ``w_max``, the median of bootstrap maxima of its global weights
(:func:`~diffsim.inference.bootstrap_max_weight`). Everything is stored with
``eqx.tree_serialise_leaves`` (written to a temporary name and renamed: atomic) in the cache
folder of the run, ``$DIFFSIM_CACHE`` (default ``~/.cache/diffsim``) ``/<sampler hash>/``,
keyed by :func:`~diffsim.cli.card.sampler_hash`; a rerun with the same settings loads it.
Training itself checkpoints there too, so an interrupted training resumes.
"""

import dataclasses
import os
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import diffsim
from diffsim.cli.card import sampler_hash
from diffsim.cli.setup import Run
from diffsim.inference import (
    IntegrationResult,
    MultiChannelSampler,
    WeightedSample,
    bootstrap_max_weight,
    multichannel_sampler,
    sample_weighted,
    train,
    vegas_initialise,
)

__all__ = ["PreparedSampler", "SampleMoments", "cache_folder", "draw_batch", "prepare"]

IDENTITY_FLOW = {"n_layers": 2, "n_bins": 4, "hidden": 4, "depth": 1}
"""A cheap flow for ``vegas`` (it stays the identity; the VEGAS grid does the sampling)."""
TRAINED_FLOW = {"n_layers": 4, "n_bins": 16, "hidden": 32, "depth": 2}
"""The flows of ``nis`` and ``madnis`` (as in benchmarks/integrators.py)."""
VEGAS_BINS = 128


def cache_folder() -> pathlib.Path:
    """``$DIFFSIM_CACHE`` or ``~/.cache/diffsim``."""
    return pathlib.Path(os.environ.get("DIFFSIM_CACHE", "~/.cache/diffsim")).expanduser()


class SampleMoments(eqx.Module):
    """Per-channel sums ``Σw``, ``Σw²`` and counts of weighted samples drawn with fixed
    fractions, pooled over batches: the stratified estimate ``Σ_c mean_c`` of the whole
    pooled sample with ``σ² = Σ_c var_c / N_c`` (arXiv:2212.06172 eq. 15)."""

    sums: jax.Array
    squares: jax.Array
    counts: jax.Array

    @classmethod
    def empty(cls, n_channels: int) -> "SampleMoments":
        zero = jnp.zeros(n_channels)
        return cls(zero, zero, zero)

    def add(self, sample: WeightedSample) -> "SampleMoments":
        index = jnp.asarray(sample.channels)
        return SampleMoments(
            self.sums.at[index].add(jnp.stack([jnp.sum(w) for w in sample.weights])),
            self.squares.at[index].add(jnp.stack([jnp.sum(w**2) for w in sample.weights])),
            self.counts.at[index].add(jnp.asarray([len(w) for w in sample.weights], self.counts.dtype)),
        )

    def result(self) -> IntegrationResult:
        used = self.counts > 1
        n = jnp.where(used, self.counts, 2.0)
        means = jnp.where(used, self.sums / n, 0.0)
        variances = jnp.where(used, (self.squares / n - means**2) * n / (n - 1), 0.0)
        return IntegrationResult.from_estimate(jnp.sum(means), jnp.sqrt(jnp.sum(variances / n)),
                                               int(jnp.sum(self.counts)))

    def sigmas(self) -> np.ndarray:
        """Per-channel standard deviations of the weights (0 for unused channels)."""
        result = np.zeros(self.counts.shape)
        used = np.asarray(self.counts) > 1
        n = np.asarray(self.counts)[used]
        means = np.asarray(self.sums)[used] / n
        result[used] = np.sqrt(np.maximum(np.asarray(self.squares)[used] / n - means**2, 0.0))
        return result


@dataclasses.dataclass(frozen=True)
class PreparedSampler:
    """A trained ``sampler`` with its ``fractions (C,)`` of points per channel, ``w_max``
    of the global weights, the pilot estimate ``moments`` and ``train_calls``."""

    sampler: MultiChannelSampler
    fractions: jax.Array
    w_max: jax.Array
    moments: SampleMoments
    train_calls: int
    cached: bool


def draw_batch(key, sampler: MultiChannelSampler, integrand, n: int, fractions) -> WeightedSample:
    """``n`` weighted points split by ``fractions``, each channel's block in one compiled
    call (all batches of a run have the same shapes: one compilation per channel)."""
    return sample_weighted(key, sampler, integrand, n, fractions=fractions, batch_size=n)


def _fresh(run: Run, key) -> MultiChannelSampler:
    integrand = run.integrand
    probe = integrand.channel_integrand(0, jnp.full((2, integrand.dim), 0.5))
    options = IDENTITY_FLOW if run.card.integrator == "vegas" else TRAINED_FLOW
    return multichannel_sampler(key, integrand.n_channels, integrand.dim, probe.features.shape[-1],
                                trainable_weights=run.card.integrator == "madnis", **options)


def _template(run: Run) -> PreparedSampler:
    """The structure of a cached :class:`PreparedSampler` (for deserialisation)."""
    from diffsim.inference import VegasMap

    sampler = _fresh(run, jax.random.key(0))
    grid = VegasMap.uniform(sampler.flows[0].dim, VEGAS_BINS)
    sampler = sampler.with_flows([flow.with_outer(grid) for flow in sampler.flows])
    n = sampler.n_channels
    return PreparedSampler(sampler, jnp.zeros(n), jnp.zeros(()), SampleMoments.empty(n), 0, True)


def _save(path: pathlib.Path, prepared: PreparedSampler, card_toml: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    leaves = (prepared.sampler, prepared.fractions, prepared.w_max, prepared.moments, jnp.asarray(prepared.train_calls))
    eqx.tree_serialise_leaves(partial, leaves)
    os.replace(partial, path)
    (path.parent / "card.toml").write_text(card_toml)


def _load(path: pathlib.Path, run: Run) -> PreparedSampler:
    t = _template(run)
    sampler, fractions, w_max, moments, calls = eqx.tree_deserialise_leaves(
        path, (t.sampler, t.fractions, t.w_max, t.moments, jnp.asarray(0)))
    return PreparedSampler(sampler, fractions, w_max, moments, int(calls), True)


def prepare(run: Run, *, progress: bool = True, use_cache: bool = True) -> PreparedSampler:
    """Train (or load) the sampler of ``run``, with its allocation, pilot σ and w_max."""
    card = run.card
    folder = cache_folder() / sampler_hash(card, diffsim.__version__)
    path = folder / "sampler.eqx"
    if use_cache and path.exists():
        return _load(path, run)
    key = jax.random.key(card.seed)
    init_key, vegas_key, train_key, pilot_key, sample_key, wmax_key = jax.random.split(key, 6)
    integrand = run.integrand
    sampler = _fresh(run, init_key)
    sampler, calls = vegas_initialise(vegas_key, sampler, integrand, n_iterations=card.train_iterations,
                                      n_per_iteration=card.batch_size, n_bins=VEGAS_BINS, progress=progress)
    if card.integrator != "vegas":
        folder.mkdir(parents=True, exist_ok=True)
        state = train(train_key, sampler, integrand, n_steps=card.train_steps, batch_size=card.train_batch,
                      mode="buffered", checkpoint=folder / "training.eqx" if use_cache else None,
                      checkpoint_every=max(4, card.train_steps // 4 // 4 * 4), progress=progress)
        sampler, calls = state.sampler, calls + int(state.calls)
    n = sampler.n_channels
    first = max(card.batch_size, 100 * n)
    pilot = SampleMoments.empty(n).add(
        sample_weighted(pilot_key, sampler, integrand, first, batch_size=first))
    sigmas = pilot.sigmas()
    fractions = jnp.asarray(sigmas / sigmas.sum() if sigmas.sum() > 0 else np.full(n, 1.0 / n))
    moments, weights = SampleMoments.empty(n), []
    for i in tqdm(range(-(-card.pilot_points // card.batch_size)), desc="pilot sample", disable=not progress):
        sample = draw_batch(jax.random.fold_in(sample_key, i), sampler, integrand, card.batch_size, fractions)
        moments = moments.add(sample)
        weights.append(sample.global_weights())
    w_max = bootstrap_max_weight(wmax_key, jnp.concatenate(weights))
    prepared = PreparedSampler(sampler, fractions, w_max, moments, calls + first, False)
    if use_cache:
        _save(path, prepared, card.to_toml())
    return prepared
