"""Unweighted events in fixed-size chunks, streamed to a resumable Les Houches file.

Event generation at scale (10⁷ events) must run in constant memory and survive being
interrupted. :func:`unweighted_chunk` draws chunk ``i`` of a trained sampler from its own
key ``jax.random.fold_in(key, i)`` — ``chunk_points`` weighted points
(:func:`~diffsim.inference.nis.sample_weighted`), hit-or-miss unweighted with one ``w_max``
fixed for the whole run (arXiv:2212.06172 sec. 2.3), every array of a fixed shape so that
nothing recompiles for the data-dependent number of accepted events — so the event stream is a deterministic function of the key, chunk by chunk, whatever the history
of the run. :func:`stream_events` writes the first ``n_events`` of that stream with an
:class:`~diffsim.events.LHEWriter` (to ``<name>.part``, renamed when complete) and records
after each chunk how many events it gave (``<name>.part.chunks``, one count per line). Run
again after an interruption, it keeps the complete events of the ``.part`` file, uses the
counts to restart at the chunk the file ends in (regenerating earlier chunks only where the
counts are missing) and skips what is already written, so the final file holds exactly the
events of an uninterrupted run. A resumed ``.gz`` file, which the writer continues as a
second gzip member, is recompressed into a single member at the end with the writer's
settings (level, no name, no time stamp), so it is byte-identical too.

Event weights: with ``unit_weight = σ/N`` (pb) an event of weight ``w`` gets ``XWGTUP =
unit_weight · sign(w) · max(|w|/w_max, 1)`` (``±unit_weight`` for a normal event, more for
an overweight, which is kept rather than truncated), so the weights of the file add up to
an estimate of σ.
"""

import gzip
import os
import pathlib
import shutil
from collections.abc import Callable

import jax
from jaxtyping import ArrayLike, PRNGKeyArray
from tqdm.auto import tqdm

from diffsim.events import Events, LHEWriter, RunInfo
from diffsim.inference.generation import unweighted_events
from diffsim.inference.multichannel import MultiChannelSampler
from diffsim.inference.nis import sample_weighted

__all__ = ["stream_events", "unweighted_chunk"]


def unweighted_chunk(
    key: PRNGKeyArray,
    index: int,
    sampler: MultiChannelSampler,
    integrand,
    to_events: Callable[..., Events],
    *,
    chunk_points: int,
    w_max: ArrayLike,
    unit_weight: float,
    fractions: ArrayLike | None = None,
    batch_size: int = 100_000,
) -> Events | None:
    """Chunk ``index`` of the event stream of ``key`` (module docstring).

    ``chunk_points`` weighted points split over the channels by ``fractions``
    (:func:`~diffsim.inference.nis.sample_weighted`), unweighted against ``w_max`` (of the
    global weights ``w_c/frac_c``, e.g. :func:`~diffsim.inference.unweighting.bootstrap_max_weight`
    of a pilot sample) by :func:`~diffsim.inference.generation.unweighted_events` with
    ``to_events(key, c, r, weight)``; ``unit_weight`` is the weight (pb) of a normal
    unweighted event. Returns the accepted events (NumPy arrays), or ``None`` when the chunk
    accepted none.
    """
    sample_key, accept_key = jax.random.split(jax.random.fold_in(key, index))
    sample = sample_weighted(sample_key, sampler, integrand, chunk_points, fractions=fractions,
                             batch_size=batch_size)
    events, _ = unweighted_events(accept_key, sample, w_max, to_events, unit_weight=unit_weight, allow_empty=True)
    return events


def _recorded_counts(path: pathlib.Path) -> list[int]:
    """Events per chunk recorded by an earlier run (an unreadable record counts as none)."""
    if not path.exists():
        return []
    counts = []
    for line in path.read_text().splitlines():
        if not line.strip().isdigit():
            break
        counts.append(int(line))
    return counts


def _single_member(path: pathlib.Path, compresslevel: int) -> None:
    """Recompress a (multi-member) gzip file into one member, as an uninterrupted writer
    would have written it (``compresslevel``, empty name, ``mtime=0``)."""
    temporary = path.with_name(path.name + ".tmp")
    with gzip.open(path, "rb") as source, open(temporary, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(temporary, path)


def stream_events(
    path: str | os.PathLike,
    run_info: RunInfo,
    n_events: int,
    make_chunk: Callable[[int], Events | None],
    *,
    header: str | None = None,
    progress: bool = True,
    after_chunk: Callable[[int], None] | None = None,
    compresslevel: int = 1,
) -> tuple[int, bool]:
    """Write the first ``n_events`` events of the stream ``make_chunk(0), make_chunk(1), …``
    to ``path`` (``.lhe`` or ``.lhe.gz``), resuming ``<path>.part`` if present.

    ``make_chunk(i)`` (events or ``None``) must be a deterministic function of ``i`` (e.g.
    :func:`unweighted_chunk` with a fixed key); ``after_chunk(i)`` runs after chunk ``i`` is
    written (a hook for progress reports or tests). A progress bar (events, rate and ETA)
    goes to stderr. If anything raises — ``KeyboardInterrupt`` included — the ``.part`` file
    and the chunk record stay for the next run. Returns ``(n_events, resumed)``; raises
    ``ValueError`` if ``<path>.part`` was started with a different ``run_info`` or header.
    """
    if n_events < 1:
        raise ValueError(f"n_events must be positive, got {n_events}")
    path = pathlib.Path(path)
    record = path.with_name(path.name + ".part.chunks")
    resumed = path.with_name(path.name + ".part").exists()
    writer = LHEWriter(path, run_info, header=header, resume=True, compresslevel=compresslevel)
    counts = _recorded_counts(record) if writer.n_written else []
    chunk, skip = 0, writer.n_written
    while chunk < len(counts) and skip >= counts[chunk]:
        skip -= counts[chunk]
        chunk += 1
    del counts[chunk:]
    record.write_text("".join(f"{c}\n" for c in counts))
    bar = tqdm(total=n_events, initial=writer.n_written, disable=not progress, unit=" events",
               desc=f"writing {path.name}", dynamic_ncols=True)
    try:
        with writer, open(record, "a") as log:
            while writer.n_written < n_events:
                events = make_chunk(chunk)
                produced = 0 if events is None else events.n_events
                keep = 0 if events is None else min(produced - skip, n_events - writer.n_written)
                if keep > 0:
                    writer.write(events[skip: skip + keep])
                    bar.update(keep)
                skip = max(skip - produced, 0)
                log.write(f"{produced}\n")
                log.flush()
                if after_chunk is not None:
                    after_chunk(chunk)
                chunk += 1
    finally:
        bar.close()
    record.unlink(missing_ok=True)
    if resumed and path.name.endswith(".gz"):
        _single_member(path, compresslevel)
    return writer.n_written, resumed
