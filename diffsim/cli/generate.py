"""``diffsim generate``: unweighted events streamed to a Les Houches file.

The run's sampler is trained or loaded (:mod:`diffsim.cli.sampler`); σ and ``w_max`` come
from its pilot sample. Events are drawn in chunks of ``batch_size`` weighted points (the
memory bound, independent of ``n_events``), chunk ``i`` from ``fold_in(key, i)`` (:func:`diffsim.inference.unweighted_chunk`), and
streamed by :func:`diffsim.inference.stream_events`: constant memory in ``n_events``, a
progress bar with rate and ETA, and an interrupted run (Ctrl-C, a crash) resumes when rerun
with the same arguments, giving the same file byte for byte. The LHE header carries the run
card (``diffsim generate --card FILE.lhe.gz`` reruns it). Each event's weight is
``σ/n_events`` (pb; more for the rare overweights, see :mod:`diffsim.inference.streaming`).

Test hook: with ``DIFFSIM_STOP_AFTER_CHUNKS=k`` in the environment the run raises
``KeyboardInterrupt`` after writing ``k`` chunks, as if interrupted there.
"""

import functools
import os

import jax

from diffsim.cli.card import RunCard, card_header
from diffsim.cli.errors import UserError
from diffsim.cli.sampler import prepare
from diffsim.cli.setup import build_run
from diffsim.inference import stream_events, unweighted_chunk
from diffsim.kernel_compilation import kernel_jit

__all__ = ["STOP_AFTER_CHUNKS", "compiled_events", "generate"]

STOP_AFTER_CHUNKS = "DIFFSIM_STOP_AFTER_CHUNKS"


@kernel_jit
def compiled_events(to_events, key, c, r, weight):
    """``to_events(key, c, r, weight)`` under ``jit`` (``to_events`` a pytree callable,
    e.g. :class:`~diffsim.cli.setup.HadronicEvents`; ``c`` static): one compilation per
    channel, with the amplitude-kernel settings (the colour flows and subprocess weights
    are matrix elements)."""
    return to_events(key, c, r, weight)


def _stop_hook():
    value = os.environ.get(STOP_AFTER_CHUNKS)
    if not value:
        return None
    limit = int(value)
    done = []

    def after_chunk(index):
        done.append(index)
        if len(done) >= limit:
            raise KeyboardInterrupt

    return after_chunk


def generate(card: RunCard, *, progress: bool = True) -> dict:
    """Write ``card.n_events`` unweighted events to ``card.output``; returns a summary dict
    (``events``, ``output``, ``cross_section``, ``error``, ``w_max``, ``resumed``, ``cached``)."""
    if not card.output:
        raise UserError("give the output file with -o FILE.lhe or -o FILE.lhe.gz")
    if not card.output.endswith((".lhe", ".lhe.gz")):
        raise UserError(f"the output file must end in .lhe or .lhe.gz, got {card.output!r}")
    if card.n_events < 1:
        raise UserError(f"-n must be a positive number of events, got {card.n_events}")
    run = build_run(card)
    card = run.card
    prepared = prepare(run, progress=progress)
    estimate = prepared.moments.result()
    sigma, error = float(estimate.value), float(estimate.error)
    if not sigma > 0:
        raise UserError(f"the cross section of {card.process} with these cuts is {sigma:g} pb: no events to generate")
    unit = sigma / card.n_events
    make_chunk = functools.partial(
        unweighted_chunk, jax.random.fold_in(jax.random.key(card.seed), 2), sampler=prepared.sampler,
        integrand=run.integrand, to_events=functools.partial(compiled_events, run.to_events),
        chunk_points=card.batch_size, w_max=prepared.w_max,
        unit_weight=unit, fractions=prepared.fractions, batch_size=card.batch_size,
    )
    try:
        written, resumed = stream_events(card.output, run.run_info(sigma, error, unit), card.n_events, make_chunk,
                                         header=card_header(card), progress=progress, after_chunk=_stop_hook())
    except ValueError as problem:
        if "cannot resume" not in str(problem):
            raise
        raise UserError(f"{problem}; delete {card.output}.part to start again") from None
    return {"events": written, "output": card.output, "cross_section": sigma, "error": error,
            "w_max": float(prepared.w_max), "resumed": resumed, "cached": prepared.cached}
