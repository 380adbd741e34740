"""Writing Les Houches event files: streaming, atomic, resumable, bit-exact.

:class:`LHEWriter` appends chunks of :class:`~diffsim.events.Events` to ``<name>.part`` and
renames it to ``<name>`` only when ``</LesHouchesEvents>`` has been written, so a file with
the final name is always complete. An interrupted run leaves the ``.part`` file, which
``LHEWriter(..., resume=True)`` continues after its last complete event. :func:`write_lhe`
writes one batch or an iterable of batches in one call and removes the partial file if
anything fails. Names ending in ``.gz`` are gzip-compressed (deterministically: no time
stamp or file name in the gzip header).

Numbers are written with 17 significant digits (``%.16e``), so reading a file back gives
the float64 values bit for bit. Each chunk is formatted with one vectorised ``%`` operation
per block of events, and only one chunk is held at a time: memory does not grow with the
number of events.
"""

import dataclasses
import gzip
import itertools
import os
import pathlib
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from diffsim.events.lhe_format import FLOAT_FORMAT, SUPPORTED_VERSIONS, hide_comments
from diffsim.events.record import Events
from diffsim.events.run_info import RunInfo

__all__ = ["LHEWriter", "write_lhe"]

_BLOCK_EVENTS = 2048
"""Events formatted per ``%`` operation: bounds the size of the temporary text."""

_EVENT_LINE = "%d %d " + " ".join([FLOAT_FORMAT] * 4) + "\n"
_PARTICLE_LINE = " ".join(["%d"] * 6 + [FLOAT_FORMAT] * 7) + "\n"
_EVENT_END = b"</event>\n"
_FILE_END = b"</LesHouchesEvents>\n"
_SCAN_BYTES = 1 << 20
_ARRAY_FIELDS = tuple(field.name for field in dataclasses.fields(Events) if field.name != "weight_names")
_FORBIDDEN_IN_HEADER = {
    "</header>": re.compile(r"</header\b"),
    "<init>": re.compile(r"<init\b"),
    "<initrwgt> (the writer declares the named weights itself)": re.compile(r"<initrwgt\b"),
    "<event>": re.compile(r"<event\b"),
    "<LesHouchesEvents>": re.compile(r"</?LesHouchesEvents\b"),
}


def _check_header(header: str | None) -> None:
    if header is None:
        return
    if not isinstance(header, str):
        raise TypeError(f"header must be a string of XML or None, got {type(header).__name__}")
    visible = hide_comments(header)
    for tag, pattern in _FORBIDDEN_IN_HEADER.items():
        if pattern.search(visible):
            raise ValueError(f"header must not contain the tag {tag}")
    try:
        ET.fromstring(f"<header>{header}</header>")
    except ET.ParseError as error:
        raise ValueError(f"header must be well-formed XML content ({error}); wrap free text in "
                         "<!-- --> or <![CDATA[ ]]>") from None


def _preamble(run_info: RunInfo, version: str, weight_names: tuple[str, ...], header: str | None) -> str:
    """Everything before the first event: root tag, optional header (with ``<initrwgt>``), init."""
    lines = [f'<LesHouchesEvents version="{version}">']
    header_lines = [header.strip("\n")] if header else []
    if weight_names:
        header_lines += ["<initrwgt>", '<weightgroup name="weights" combine="none">']
        header_lines += [f"<weight id={quoteattr(name)}>{escape(name)}</weight>" for name in weight_names]
        header_lines += ["</weightgroup>", "</initrwgt>"]
    if header_lines:
        lines += ["<header>", *header_lines, "</header>"]
    init_format = "%d %d " + f"{FLOAT_FORMAT} {FLOAT_FORMAT} " + "%d %d %d %d %d %d"
    lines += ["<init>", init_format % (
        *run_info.beam_ids, *run_info.beam_energies, *run_info.pdf_groups, *run_info.pdf_sets,
        run_info.weighting_strategy, len(run_info.processes),
    )]
    for process in run_info.processes:
        lines.append(f"{FLOAT_FORMAT} {FLOAT_FORMAT} {FLOAT_FORMAT} %d" % (
            process.cross_section, process.error, process.max_weight, process.process_id,
        ))
    lines.append("</init>")
    return "\n".join(lines) + "\n"


def _decompressed_blocks(path: pathlib.Path, compressed: bool) -> Iterator[bytes]:
    """The (decompressed) content of a possibly truncated file, block by block.

    gzip members are decoded with ``zlib`` directly so that a stream cut by a crash yields
    everything up to the cut instead of an error; later members (appended on resume) follow.
    """
    with open(path, "rb") as raw:
        decoder = zlib.decompressobj(wbits=31) if compressed else None
        while data := raw.read(_SCAN_BYTES):
            if decoder is None:
                yield data
                continue
            while data:
                try:
                    block = decoder.decompress(data)
                except zlib.error as error:
                    raise ValueError(f"cannot resume {path}: corrupt gzip data ({error})") from None
                if block:
                    yield block
                data = decoder.unused_data if decoder.eof else b""
                if decoder.eof:
                    decoder = zlib.decompressobj(wbits=31)


def _scan_partial(blocks: Iterator[bytes], preamble: bytes) -> tuple[bytes, int, int]:
    """``(prefix, n_events, end)``: the file's first ``len(preamble)`` bytes, the number of
    complete events after them and the offset just past the last ``</event>`` line."""
    head = b""
    for block in blocks:
        head += block
        if len(head) >= len(preamble):
            break
    prefix = head[: len(preamble)]
    if prefix != preamble:
        return prefix, 0, 0
    count, end, position, carry = 0, len(preamble), len(preamble), b""
    for block in itertools.chain([head[len(preamble):]], blocks):
        buffer, base = carry + block, position - len(carry)
        found = buffer.find(_EVENT_END)
        while found != -1:
            count += 1
            end = base + found + len(_EVENT_END)
            found = buffer.find(_EVENT_END, found + len(_EVENT_END))
        carry = buffer[-(len(_EVENT_END) - 1):]
        position += len(block)
    return prefix, count, end


class LHEWriter:
    """Streaming LHE writer (a context manager) with atomic completion and resume.

    ``with LHEWriter(path, run_info) as writer: writer.write(chunk)`` writes the header and
    ``<init>`` block on opening, each chunk as it comes, and on leaving the block without an
    exception closes the file and renames ``<path>.part`` to ``path`` (replacing any file of
    that name). If the block raises, the ``.part`` file is kept (closed) for resuming and
    nothing has the final name; :meth:`abort` deletes it instead.

    Args:
        path: final file name; a name ending in ``.gz`` is gzip-compressed.
        run_info: the ``<init>`` block. Every event's process id must be declared in it.
        version: LHEF version, ``"1.0"`` or ``"3.0"``.
        weight_names: the named weights to write (LHEF 3.0 only), a subset of each chunk's
            ``weight_names`` in the order given; declared in ``<initrwgt>`` and written per
            event as ``<rwgt><wgt id=...>``.
        header: XML content for the ``<header>`` block (e.g. a run card in a comment or
            CDATA section), or None.
        resume: continue ``<path>.part`` if it exists: keep its complete events, drop a
            trailing partial one, and append. It must have been started with the same
            ``run_info``, ``version``, ``weight_names`` and ``header`` (else ValueError).
            Without a ``.part`` file this starts a new file.
        compresslevel: gzip level 1–9 for ``.gz`` names (1, the default, is the fastest and
            costs ~10% in size against 6 on full-precision event files).

    Attributes:
        n_written: events in the file so far (after ``resume``, including the kept ones).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        run_info: RunInfo,
        *,
        version: str = "3.0",
        weight_names: Sequence[str] = (),
        header: str | None = None,
        resume: bool = False,
        compresslevel: int = 1,
    ):
        if not isinstance(run_info, RunInfo):
            raise TypeError(f"run_info must be a RunInfo, got {type(run_info).__name__}")
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"LHEF version must be one of {SUPPORTED_VERSIONS}, got {version!r}")
        if isinstance(weight_names, str):
            raise TypeError(f"weight_names must be a sequence of strings, got the string {weight_names!r}")
        weight_names = tuple(weight_names)
        if weight_names and version == "1.0":
            raise ValueError(
                f"LHEF 1.0 has no named weights; write version '3.0' or pass weight_names=() to "
                f"leave out {weight_names}"
            )
        if len(set(weight_names)) != len(weight_names) or not all(
            isinstance(name, str) and name for name in weight_names
        ):
            raise ValueError(f"weight_names must be distinct non-empty strings, got {weight_names}")
        _check_header(header)
        self.path = pathlib.Path(path)
        self.part_path = self.path.with_name(self.path.name + ".part")
        self.run_info = run_info
        self.version = version
        self.weight_names = weight_names
        self._compressed = self.path.name.endswith(".gz")
        self._compresslevel = compresslevel
        self._templates: dict[int, str] = {}
        self._rwgt = ""
        if weight_names:
            wgt_lines = [f"<wgt id={quoteattr(name).replace('%', '%%')}> {FLOAT_FORMAT} </wgt>\n"
                         for name in weight_names]
            self._rwgt = "<rwgt>\n" + "".join(wgt_lines) + "</rwgt>\n"
        preamble = _preamble(run_info, version, weight_names, header).encode("utf-8")
        self.n_written = 0
        self._raw = self._stream = None
        if resume and self.part_path.exists():
            self._open_resumed(preamble)
        else:
            self._open(self.part_path, "wb")
            self._stream.write(preamble)

    def _open(self, path: pathlib.Path, mode: str) -> None:
        self._raw = open(path, mode)
        if self._compressed:
            self._stream = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, compresslevel=self._compresslevel, mtime=0
            )
        else:
            self._stream = self._raw

    def _open_resumed(self, preamble: bytes) -> None:
        prefix, count, end = _scan_partial(_decompressed_blocks(self.part_path, self._compressed), preamble)
        if prefix != preamble:
            if not preamble.startswith(prefix):
                raise ValueError(
                    f"cannot resume {self.part_path}: it was started with a different run info, "
                    "version, weight names or header"
                )
            self._open(self.part_path, "wb")  # interrupted inside the preamble: start again
            self._stream.write(preamble)
            return
        if not self._compressed:
            with open(self.part_path, "r+b") as handle:
                handle.truncate(end)
        else:
            # A gzip stream cannot be cut at an uncompressed offset: copy what is kept into a
            # new file, then append further events as a second gzip member.
            copy = self.part_path.with_name(self.part_path.name + ".tmp")
            self._open(copy, "wb")
            remaining = end
            for block in _decompressed_blocks(self.part_path, True):
                self._stream.write(block[:remaining])
                remaining -= min(remaining, len(block))
                if not remaining:
                    break
            self._release()
            os.replace(copy, self.part_path)
        self._open(self.part_path, "ab")
        self.n_written = count

    def _event_template(self, multiplicity: int) -> str:
        template = self._templates.get(multiplicity)
        if template is None:
            template = "<event>\n" + _EVENT_LINE + _PARTICLE_LINE * multiplicity + self._rwgt + "</event>\n"
            self._templates[multiplicity] = template
        return template

    def _check(self, events: dict[str, np.ndarray]) -> None:
        mask = events["mask"]
        holes = mask[:, 1:] & ~mask[:, :-1]
        if holes.any():
            index = int(np.nonzero(holes.any(axis=1))[0][0])
            raise ValueError(f"event {index} of the chunk has padding before a real particle; "
                             "Events padding must be trailing (mask True for a prefix of the slots)")
        floats = [events[name][mask] for name in ("momenta", "mass", "lifetime", "helicity")]
        floats += [events[name] for name in ("weight", "scale", "alpha_qed", "alpha_qcd", "weights")]
        for values in floats:
            if not np.all(np.isfinite(values)):
                raise ValueError("cannot write non-finite numbers (NaN or inf) to an LHE file; a NaN "
                                 "named weight marks a weight missing from the source file: leave it "
                                 "out via weight_names")
        undeclared = ~np.isin(events["process_id"], self.run_info.process_ids)
        if undeclared.any():
            raise ValueError(f"process ids {sorted(set(events['process_id'][undeclared].tolist()))} are not "
                             f"declared in run_info (declared: {self.run_info.process_ids})")
        nup = mask.sum(axis=1)
        mothers = events["mothers"]
        bad = ((mothers < 0) | (mothers > nup[:, None, None])) & mask[..., None]
        if bad.any():
            index = int(np.nonzero(bad.any(axis=(1, 2)))[0][0])
            raise ValueError(f"event {index} of the chunk has mother indices outside 0..NUP")

    def _format(self, events: dict[str, np.ndarray], start: int, stop: int) -> str:
        block = {name: values[start:stop] for name, values in events.items()}
        mask = block["mask"]
        n_events, n = mask.shape
        nup = mask.sum(axis=1)
        head = np.stack([nup, block["process_id"], block["weight"], block["scale"], block["alpha_qed"],
                         block["alpha_qcd"]], axis=1).astype(np.float64)
        per_particle = [block["pdg_id"][..., None], block["status"][..., None], block["mothers"],
                        block["colour"], block["momenta"][..., [1, 2, 3, 0]], block["mass"][..., None],
                        block["lifetime"][..., None], block["helicity"][..., None]]
        particles = np.concatenate([np.asarray(v, np.float64) for v in per_particle], axis=2)
        rows = [head, particles.reshape(n_events, n * particles.shape[-1]), block["weights"]]
        keep = [np.ones((n_events, head.shape[1]), bool), np.repeat(mask, particles.shape[-1], axis=1),
                np.ones(block["weights"].shape, bool)]
        values = np.concatenate(rows, axis=1)[np.concatenate(keep, axis=1)]
        template = "".join([self._event_template(count) for count in nup.tolist()])
        return template % tuple(values.tolist())

    def write(self, events: Events) -> None:
        """Append a batch of events (validated first: nothing is written from a bad chunk)."""
        if self._stream is None:
            raise ValueError(f"the writer for {self.path} is closed")
        if not isinstance(events, Events):
            raise TypeError(f"LHEWriter.write takes Events, got {type(events).__name__}")
        missing = [name for name in self.weight_names if name not in events.weight_names]
        if missing:
            raise ValueError(f"the events have no named weights {missing} (they carry {events.weight_names})")
        host = {name: np.asarray(getattr(events, name)) for name in _ARRAY_FIELDS}
        columns = [events.weight_names.index(name) for name in self.weight_names]
        host["weights"] = host["weights"][:, columns].astype(np.float64)
        self._check(host)
        for start in range(0, events.n_events, _BLOCK_EVENTS):
            stop = min(start + _BLOCK_EVENTS, events.n_events)
            self._stream.write(self._format(host, start, stop).encode("utf-8"))
            self.n_written += stop - start

    def _release(self) -> None:
        """Close the file handles (flushing them to disk) without renaming."""
        if self._stream is None:
            return
        stream, raw = self._stream, self._raw
        self._stream = self._raw = None
        try:
            if stream is not raw:
                stream.close()
            raw.flush()
            os.fsync(raw.fileno())
        finally:
            raw.close()

    def close(self) -> None:
        """Write ``</LesHouchesEvents>`` and give the file its final name."""
        if self._stream is None:
            raise ValueError(f"the writer for {self.path} is already closed")
        self._stream.write(_FILE_END)
        self._release()
        os.replace(self.part_path, self.path)

    def abort(self) -> None:
        """Close and delete the partial file; the final name is left untouched."""
        self._release()
        self.part_path.unlink(missing_ok=True)

    def __enter__(self) -> "LHEWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self._release()


def write_lhe(
    path: str | os.PathLike,
    events: Events | Iterable[Events],
    run_info: RunInfo,
    *,
    version: str = "3.0",
    weight_names: Sequence[str] | None = None,
    header: str | None = None,
) -> int:
    """Write events to an LHE file atomically; return the number of events written.

    Args:
        path: file name; ``.gz`` names are gzip-compressed.
        events: one :class:`~diffsim.events.Events` batch or an iterable of batches
            (consumed lazily, one batch in memory at a time: a generator of chunks writes
            any number of events in constant memory).
        run_info: the ``<init>`` block.
        version: ``"1.0"`` or ``"3.0"``.
        weight_names: named weights to write; None means all those of the first batch
            (LHEF 1.0 has none: pass ``()`` to leave a batch's named weights out).
        header: XML content of the ``<header>`` block, or None.

    If anything raises (a bad chunk, the iterable itself), the partial file is deleted and
    the exception propagates; an existing file named ``path`` is only replaced on success.
    Use :class:`LHEWriter` to keep partial files for resuming.
    """
    chunks = iter([events] if isinstance(events, Events) else events)
    first = next(chunks, None)
    if weight_names is None:
        weight_names = first.weight_names if isinstance(first, Events) else ()
    writer = LHEWriter(path, run_info, version=version, weight_names=weight_names, header=header)
    try:
        if first is not None:
            writer.write(first)
            del first
        for chunk in chunks:
            writer.write(chunk)
            del chunk
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.n_written
