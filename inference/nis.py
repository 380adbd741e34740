"""Evaluating a trained (multi-channel) neural importance sampler: weighted samples and σ.

With ``N_c = frac_c · N`` points per active channel drawn from the channel's flow, the
stratified estimate (arXiv:2212.06172, eq. 15) is

    Î = Σ_c mean_c(w_c),   Var(Î) = Σ_c Var(w_c) / N_c,

and the variance is smallest for ``frac_c ∝ σ_c`` (the optimal allocation, eq. 16), which
is the default when the training state's running ``σ_c`` are given. A single weighted
sample of all channels, for unweighting, carries the global weights ``w_c / frac_c``
(each point's share of the total estimate times ``N``).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray
from tqdm.auto import tqdm

from diffsim.inference.multichannel import MultiChannelSampler
from diffsim.inference.result import IntegrationResult
from diffsim.kernel_compilation import kernel_jit

__all__ = ["WeightedSample", "allocate", "integrate", "sample_weighted"]


class WeightedSample(eqx.Module):
    """Points and weights per active channel.

    ``channels``: the channel index of each block; ``points[i] (N_i, dim)`` on the unit
    hypercube (map them with the channel's mapping to get momenta); ``weights[i] (N_i,)``
    the weights ``α_c f_c / q_c`` (unit of the integrand); ``fractions[i]`` ``N_i / N``.
    """

    channels: tuple[int, ...] = eqx.field(static=True)
    points: tuple[Float[Array, "N_i dim"], ...]
    weights: tuple[Float[Array, " N_i"], ...]
    fractions: tuple[float, ...] = eqx.field(static=True)

    def result(self) -> IntegrationResult:
        """The stratified estimate ``Σ_c mean(w_c)`` with its error (module docstring)."""
        return IntegrationResult.stratified([IntegrationResult.from_weights(w) for w in self.weights])

    def global_weights(self) -> Float[Array, " N"]:
        """All weights as one sample, ``w_c / frac_c`` (mean = the integral), channel blocks in order."""
        return jnp.concatenate([w / f for w, f in zip(self.weights, self.fractions)])


def allocate(n_points: int, fractions: ArrayLike, channels: Sequence[int], *, minimum: int = 100) -> tuple[int, ...]:
    """Points per channel ``N_c ≈ frac_c · n_points`` (at least ``minimum`` each, summing to ``n_points``).

    ``fractions (C,)`` over all channels; only ``channels`` (the active ones) get points.
    """
    share = np.asarray(fractions, dtype=float)[list(channels)]
    if not np.all(np.isfinite(share)) or share.sum() <= 0:
        share = np.ones(len(channels))
    if n_points < minimum * len(channels):
        raise ValueError(f"n_points={n_points} is too small for {len(channels)} channels of at least {minimum}")
    counts = np.maximum(np.floor(share / share.sum() * n_points).astype(int), minimum)
    counts[np.argmax(counts)] += n_points - counts.sum()
    return tuple(int(n) for n in counts)


@kernel_jit(integrand="integrand")
def _channel_batch(sampler: MultiChannelSampler, integrand, c: int, key: PRNGKeyArray, n: int):
    r, log_q = sampler.flows[c].sample_and_log_prob(key, n)
    return r, sampler.channel_weights(c, integrand.channel_integrand(c, r), log_q)


def sample_weighted(
    key: PRNGKeyArray,
    sampler: MultiChannelSampler,
    integrand,
    n_points: int,
    *,
    fractions: ArrayLike | None = None,
    batch_size: int = 100_000,
    progress: bool = False,
) -> WeightedSample:
    """Draw ``n_points`` weighted points, split over the active channels by ``fractions``.

    ``fractions (C,)``: allocation per channel (e.g. ``TrainingState.allocation``);
    ``None`` splits evenly. Evaluated in equal chunks of at most ``batch_size`` points
    (bounded memory, one compiled shape per channel; the surplus drawn by the last chunk is
    dropped, which leaves the sample i.i.d.).
    """
    channels = sampler.active_channels
    if fractions is None:
        fractions = np.ones(sampler.n_channels)
    counts = allocate(n_points, fractions, channels)
    points, weights = [], []
    bar = tqdm(total=n_points, disable=not progress, desc="sampling")
    for c, n_c in zip(channels, counts):
        chunks_r, chunks_w = [], []
        n_chunks = -(-n_c // batch_size)
        size = -(-n_c // n_chunks)  # one shape per channel: the last chunk's surplus is dropped
        for i in range(n_chunks):
            n = min(size, n_c - i * size)
            r, w = _channel_batch(sampler, integrand, c, jax.random.fold_in(jax.random.fold_in(key, c), i), size)
            chunks_r.append(r[:n])
            chunks_w.append(w[:n])
            bar.update(n)
        points.append(jnp.concatenate(chunks_r))
        weights.append(jnp.concatenate(chunks_w))
    bar.close()
    return WeightedSample(channels, tuple(points), tuple(weights), tuple(n / n_points for n in counts))


def integrate(
    key: PRNGKeyArray,
    sampler: MultiChannelSampler,
    integrand,
    n_points: int,
    *,
    fractions: ArrayLike | None = None,
    batch_size: int = 100_000,
    progress: bool = False,
) -> IntegrationResult:
    """The stratified estimate of ``Σ_c I_c`` from :func:`sample_weighted` (same arguments)."""
    return sample_weighted(
        key, sampler, integrand, n_points, fractions=fractions, batch_size=batch_size, progress=progress
    ).result()
