"""``diffsim xsec``: a cross section to a requested relative precision.

The run's sampler is trained (or loaded from the cache, :mod:`diffsim.cli.sampler`); its
pilot sample is the first estimate, and further independent batches of ``batch_size``
points (keys ``fold_in(key, i)``) are pooled into one stratified estimate
(:class:`~diffsim.cli.sampler.SampleMoments`) until ``error ≤ precision · |σ|``. After
``max_calls`` evaluation calls without reaching it, the run fails with a
:class:`~diffsim.cli.errors.UserError` that gives the precision reached.
"""

import math

import jax
from tqdm.auto import tqdm

import diffsim
from diffsim.cli.card import RunCard
from diffsim.cli.errors import UserError
from diffsim.cli.sampler import draw_batch, prepare
from diffsim.cli.setup import build_run

__all__ = ["cross_section"]


def cross_section(card: RunCard, *, progress: bool = True) -> dict:
    """σ of ``card`` (pb) with its error and the settings: a JSON-ready dict with ``value``,
    ``error``, ``unit``, ``relative_error``, ``calls`` (evaluation), ``train_calls``,
    ``cached`` and every setting of the (completed) card."""
    run = build_run(card)
    card = run.card
    if not 0 < card.precision < 1:
        raise UserError(f"--precision must lie in (0, 1), got {card.precision:g}")
    prepared = prepare(run, progress=progress)
    moments = prepared.moments
    key = jax.random.fold_in(jax.random.key(card.seed), 1)
    bar = tqdm(desc="integrating", unit=" batches", disable=not progress)
    batch = 0
    while True:
        result = moments.result()
        value, error = float(result.value), float(result.error)
        relative = error / abs(value) if value else math.inf
        bar.set_postfix(sigma=f"{value:.6g} pb", rel_error=f"{relative:.2e}")
        if relative <= card.precision:
            break
        if int(result.calls) >= card.max_calls:
            bar.close()
            raise UserError(
                f"σ = {value:.6g} ± {error:.2g} pb reached relative error {relative:.2e}, not the requested "
                f"{card.precision:g}, after {int(result.calls)} calls (--max-calls {card.max_calls}); "
                "raise --max-calls, loosen --precision or train more (--train-iterations, --integrator madnis)"
            )
        sample = draw_batch(jax.random.fold_in(key, batch), prepared.sampler, run.integrand, card.batch_size,
                            prepared.fractions)
        moments = moments.add(sample)
        batch += 1
        bar.update(1)
    bar.close()
    return {
        "value": value, "error": error, "unit": "pb", "relative_error": relative, "calls": int(result.calls),
        "train_calls": prepared.train_calls, "cached": prepared.cached, "diffsim_version": diffsim.__version__,
        **card.to_dict(),
    }


def describe(result: dict) -> str:
    """``σ(p p > e+ e-, √s = 13000 GeV) = 1234.5 ± 1.2 pb`` with the error's two digits."""
    value, error = result["value"], result["error"]
    digits = max(1 - math.floor(math.log10(error)), 0) if error > 0 else 6
    return (f"σ({result['process']}, √s = {result['sqrt_s']:g} GeV) = {value:.{digits}f} ± {error:.{digits}f} pb  "
            f"(relative error {result['relative_error']:.1e}, {result['calls']:.2e} calls, {result['integrator']})")
