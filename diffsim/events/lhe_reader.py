"""Reading Les Houches event files into padded :class:`~diffsim.events.Events` batches.

A careful line-based parser (real files are often not well-formed XML): the part before
``<init>`` is searched for the root tag, ``<header>`` and ``<initrwgt>`` with XML comments and
CDATA sections hidden; ``<initrwgt>`` itself is parsed with the standard XML parser. Events are
then read line by line, so a file of any size streams in chunks (:func:`iter_lhe`), gzip
files included (recognised by content).

Inside ``<event>``: the line ``NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP``, then ``NUP``
particle lines; blank lines and ``#`` lines (POWHEG's ``#rwgt``, Pythia's ``#pdf``,
MadGraph's ``#aMCatNLO``) are skipped anywhere; after the particles come optional elements.
Named weights come from ``<rwgt><wgt id="...">`` or, in events without one, from a
``<weights>`` list read by position in the ``<initrwgt>`` declaration order. Other elements
(``<scales>``, ``<mgrwt>``, …) and event attributes are not read; events inside
``<eventgroup>`` are read as ordinary events. The names of the weights are the ids declared
in ``<initrwgt>`` (document order) or, without ``<initrwgt>``, those of the first event.

Anything malformed (wrong number of fields, a non-number, NUP disagreeing with the particle
lines, an undeclared weight id, a truncated file) raises ``ValueError`` naming the file and
the line.
"""

import html
import os
import pathlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import numpy as np

from diffsim.events.lhe_format import (
    EVENT_FIELDS,
    PARTICLE_FIELDS,
    hide_comments,
    open_text,
)
from diffsim.events.record import Events
from diffsim.events.run_info import ProcessInfo, RunInfo

__all__ = ["LHEReader", "iter_lhe", "read_lhe", "read_run_info"]

_ROOT = re.compile(r"<LesHouchesEvents\b([^>]*)>")
_VERSION = re.compile(r"""\bversion\s*=\s*(["'])(.*?)\1""")
_HEADER = re.compile(r"<header\b[^>]*>")
_INITRWGT = re.compile(r"<initrwgt\b.*?</initrwgt\s*>", re.DOTALL)
_INIT = re.compile(r"<init(?=[\s>/])")
_INIT_END = re.compile(r"</init\s*>")
_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)\b[^>]*?/>|<([A-Za-z_][\w.:-]*)\b[^>]*>.*?</\2\s*>", re.DOTALL)
_COMMENT_LINE = re.compile(r"^\s*#.*$", re.MULTILINE)
_RWGT = re.compile(r"<rwgt\b[^>]*>(.*?)</rwgt\s*>", re.DOTALL)
_WGT = re.compile(r"""<wgt\s+id\s*=\s*(["'])(.*?)\1\s*>(.*?)</wgt\s*>""", re.DOTALL)
_WEIGHTS = re.compile(r"<weights\b[^>]*>(.*?)</weights\s*>", re.DOTALL)
_INT32_LIMIT = 2**31


class LHEReader:
    """An open LHE file: run information on opening, then events in chunks.

    ``with LHEReader(path) as reader: for chunk in reader.chunks(10_000): ...``

    Attributes:
        path: the file.
        version: the ``version`` attribute of ``<LesHouchesEvents>`` (None if absent).
        header: the text inside ``<header>…</header>``, or None.
        run_info: the ``<init>`` block as a :class:`~diffsim.events.RunInfo`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = pathlib.Path(path)
        self._file = open_text(self.path)
        self._line = 0
        self._finished = False
        self._in_comment = False
        self._weight_names: tuple[str, ...] | None = None
        self._weight_index: dict[str, int] = {}
        try:
            self._read_preamble()
        except BaseException:
            self._file.close()
            raise

    def _error(self, line: int, message: str) -> ValueError:
        return ValueError(f"{self.path}, line {line}: {message}")

    def _readline(self) -> str:
        line = self._file.readline()
        if line:
            self._line += 1
        return line

    # -- header and init -------------------------------------------------------------------

    def _read_preamble(self) -> None:
        lines = []
        while True:
            line = self._readline()
            if not line:
                raise self._error(max(self._line, 1), "no <init> block found: not a Les Houches event file")
            lines.append(line)
            if "<init" in line:
                text = "".join(lines)
                visible = hide_comments(text)
                init = _INIT.search(visible)
                if init:
                    break
        init_line = self._line

        def line_of(offset):
            return text.count("\n", 0, offset) + 1

        root = _ROOT.search(visible, 0, init.start())
        if root is None:
            raise self._error(1, "no <LesHouchesEvents> root tag before <init>")
        version = _VERSION.search(root.group(1))
        self.version = version.group(2) if version else None
        header = _HEADER.search(visible, root.end(), init.start())
        self.header = None
        if header is not None:
            end = visible.find("</header", header.end(), init.start())
            if end == -1:
                raise self._error(line_of(header.start()), "<header> is not closed before <init>")
            self.header = text[header.end():end]
        initrwgt = _INITRWGT.search(visible, root.end(), init.start())
        if initrwgt is not None:
            line = line_of(initrwgt.start())
            self._set_weight_names(self._declared_weights(text[initrwgt.start():initrwgt.end()], line), line)
        # The <init> block: from the end of its tag to </init>.
        tag_end = visible.find(">", init.end())
        block = [text[tag_end + 1:]] if tag_end != -1 else []
        if tag_end == -1:
            raise self._error(init_line, "unterminated <init> tag")
        while not _INIT_END.search(hide_comments("".join(block))):
            line = self._readline()
            if not line:
                raise self._error(self._line, f"file ends inside the <init> block of line {init_line}")
            block.append(line)
        content = hide_comments("".join(block))
        content = content[:_INIT_END.search(content).start()]
        numbers = _COMMENT_LINE.sub(" ", _ELEMENT.sub(" ", content)).split()
        self.run_info = self._parse_init(numbers, init_line)

    def _declared_weights(self, text: str, line: int) -> list[str]:
        try:
            element = ET.fromstring(text)
        except ET.ParseError as error:
            raise self._error(line, f"malformed <initrwgt> block: {error}") from None
        ids = []
        for weight in element.iter("weight"):
            if "id" not in weight.attrib:
                raise self._error(line, "a <weight> in <initrwgt> has no id attribute")
            ids.append(weight.attrib["id"])
        return ids

    def _set_weight_names(self, names, line: int) -> None:
        names = tuple(names)
        if len(set(names)) != len(names):
            raise self._error(line, f"weight ids are not distinct: {names}")
        self._weight_names = names
        self._weight_index = {name: index for index, name in enumerate(names)}

    def _parse_init(self, tokens: list[str], line: int) -> RunInfo:
        if len(tokens) < 10:
            raise self._error(line, f"the <init> block needs 10 numbers on its first line, found {tokens}")
        try:
            n_processes = _integer(tokens[9])
            if len(tokens) != 10 + 4 * n_processes:
                raise ValueError(
                    f"the <init> block must hold 10 numbers plus 4 per process (NPRUP={n_processes}), "
                    f"found {len(tokens)}"
                )
            processes = [
                ProcessInfo(
                    process_id=_integer(tokens[13 + 4 * i]),
                    cross_section=float(tokens[10 + 4 * i]),
                    error=float(tokens[11 + 4 * i]),
                    max_weight=float(tokens[12 + 4 * i]),
                )
                for i in range(n_processes)
            ]
            return RunInfo(
                beam_ids=(_integer(tokens[0]), _integer(tokens[1])),
                beam_energies=(float(tokens[2]), float(tokens[3])),
                pdf_groups=(_integer(tokens[4]), _integer(tokens[5])),
                pdf_sets=(_integer(tokens[6]), _integer(tokens[7])),
                weighting_strategy=_integer(tokens[8]),
                processes=processes,
            )
        except ValueError as error:
            raise self._error(line, f"in the <init> block: {error}") from None

    # -- events ----------------------------------------------------------------------------

    def _read_chunk(self, limit: int | None) -> Events | None:
        """Read up to ``limit`` events (all if None); None when no event is left."""
        nups, heads, head_lines, tokens, particle_lines, weights = [], [], [], [], [], []
        readline = self._readline
        while not self._finished and (limit is None or len(nups) < limit):
            line = readline()
            if not line:
                raise self._error(self._line, "file ends before </LesHouchesEvents> (truncated?)")
            stripped = line.strip()
            if not stripped:
                continue
            if self._in_comment:
                self._in_comment = "-->" not in stripped
            elif stripped.startswith("<event") and (len(stripped) == 6 or stripped[6] in "> \t"):
                self._read_event(stripped, nups, heads, head_lines, tokens, particle_lines, weights)
            elif stripped.startswith("</LesHouchesEvents"):
                self._finished = True
            elif stripped.startswith("<!--"):
                self._in_comment = "-->" not in stripped[4:]
            elif stripped[0] not in "<#":
                raise self._error(self._line, f"unexpected text outside <event> blocks: {stripped[:40]!r}")
        if not nups and limit is not None:
            return None
        return self._build(nups, heads, head_lines, tokens, particle_lines, weights)

    def _read_event(self, first, nups, heads, head_lines, tokens, particle_lines, weights) -> None:
        start = self._line
        tag_end = first.find(">")
        if tag_end == -1:
            raise self._error(start, "the <event> tag must end on its line")
        pending = [first[tag_end + 1:]] if first[tag_end + 1:].strip() else []
        nup, seen, trailer = -1, 0, []
        while True:
            line = pending.pop() if pending else self._readline()
            if not line:
                raise self._error(self._line, f"file ends inside the event starting at line {start}")
            stripped = line.strip()
            if not stripped or (stripped[0] == "#" and not trailer):
                continue
            close = stripped.find("</event>")
            if close > 0:  # content and </event> on one line
                pending.append("</event>")
                stripped = stripped[:close].strip()
            elif close == 0:
                break
            if nup < 0:
                fields = stripped.split()
                if stripped[0] == "<" or len(fields) != EVENT_FIELDS:
                    raise self._error(self._line, "an event must start with the line NUP IDPRUP "
                                      f"XWGTUP SCALUP AQEDUP AQCDUP ({EVENT_FIELDS} fields), "
                                      f"found {stripped[:60]!r}")
                try:
                    nup = _integer(fields[0])
                except ValueError:
                    raise self._error(self._line, f"NUP must be an integer, found {fields[0]!r}") from None
                if nup < 0:
                    raise self._error(self._line, f"NUP must not be negative, found {nup}")
                heads.extend(fields)
                head_lines.append(self._line)
            elif seen < nup:
                if stripped[0] == "<":
                    raise self._error(self._line, f"the event at line {start} declares NUP={nup} but has "
                                      f"only {seen} particle lines")
                fields = stripped.split()
                if len(fields) != PARTICLE_FIELDS:
                    raise self._error(self._line, f"a particle line must have {PARTICLE_FIELDS} fields, "
                                      f"found {len(fields)}")
                tokens.extend(fields)
                particle_lines.append(self._line)
                seen += 1
            elif not trailer and stripped[0] != "<":
                raise self._error(self._line, f"the event at line {start} declares NUP={nup} but has more "
                                  "particle lines")
            else:
                trailer.append(stripped)
        if nup < 0:
            raise self._error(start, "empty event")
        if seen < nup:
            raise self._error(self._line, f"the event at line {start} declares NUP={nup} but has only "
                              f"{seen} particle lines")
        nups.append(nup)
        weights.append(self._event_weights(trailer, start))

    def _event_weights(self, trailer: list[str], start: int) -> np.ndarray | None:
        text = "\n".join(trailer)
        if "<!--" in text:
            text = hide_comments(text)
        rwgt = _RWGT.search(text)
        if rwgt is not None:
            pairs = _WGT.findall(rwgt.group(1))
            if len(pairs) != rwgt.group(1).count("<wgt"):
                raise self._error(start, "malformed <wgt> element in the <rwgt> block of this event")
            ids = [html.unescape(weight_id) for _, weight_id, _ in pairs]
            if self._weight_names is None:
                self._set_weight_names(ids, start)
            row = np.full(len(self._weight_names), np.nan)
            for weight_id, (_, _, value) in zip(ids, pairs):
                index = self._weight_index.get(weight_id)
                if index is None:
                    raise self._error(start, f"weight id {weight_id!r} is not among the declared weights "
                                      f"(<initrwgt>, or the first event's): {self._weight_names}")
                row[index] = self._float(value, start)
            return row
        listed = _WEIGHTS.search(text)
        if listed is not None:
            values = listed.group(1).split()
            if self._weight_names is None or len(values) > len(self._weight_names):
                raise self._error(start, f"a <weights> block of {len(values)} values needs as many weights "
                                  f"declared in <initrwgt>, found {len(self._weight_names or ())}")
            row = np.full(len(self._weight_names), np.nan)
            row[: len(values)] = [self._float(value, start) for value in values]
            return row
        if self._weight_names is None:
            self._set_weight_names((), start)
        return None

    def _float(self, text: str, line: int) -> float:
        try:
            return float(text)
        except ValueError:
            raise self._error(line, f"{text.strip()!r} is not a number") from None

    def _numbers(self, tokens: list[str], width: int, lines: list[int]) -> np.ndarray:
        try:
            return np.array(tokens, dtype=np.float64).reshape(-1, width)
        except ValueError:
            for row, line in enumerate(lines):
                for token in tokens[row * width:(row + 1) * width]:
                    self._float(token, line)
            raise

    def _check_integers(self, values: np.ndarray, lines: list[int], what: str) -> None:
        bad = np.any((values != np.round(values)) | (np.abs(values) >= _INT32_LIMIT), axis=1)
        if bad.any():
            raise self._error(lines[int(np.argmax(bad))], f"{what} must be integers (32-bit)")

    def _build(self, nups, heads, head_lines, tokens, particle_lines, weights) -> Events:
        n_events = len(nups)
        head = self._numbers(heads, EVENT_FIELDS, head_lines)
        table = self._numbers(tokens, PARTICLE_FIELDS, particle_lines)
        self._check_integers(head[:, 1:2], head_lines, "IDPRUP")
        self._check_integers(table[:, :6], particle_lines, "IDUP, ISTUP, MOTHUP and ICOLUP")
        counts = np.asarray(nups, dtype=np.int64)
        n = int(counts.max()) if n_events else 0
        event = np.repeat(np.arange(n_events), counts)
        slot = np.arange(len(table)) - np.repeat(np.cumsum(counts) - counts, counts)
        padded = np.zeros((n_events, n, PARTICLE_FIELDS))
        padded[event, slot] = table
        mask = np.zeros((n_events, n), dtype=bool)
        mask[event, slot] = True
        integers = padded[..., :6].astype(np.int32)
        names = self._weight_names if self._weight_names is not None else ()
        named = np.full((n_events, len(names)), np.nan)
        for index, row in enumerate(weights):
            if row is not None:
                named[index] = row
        return Events(
            momenta=padded[..., [9, 6, 7, 8]],
            mass=np.ascontiguousarray(padded[..., 10]),
            pdg_id=np.ascontiguousarray(integers[..., 0]),
            status=np.ascontiguousarray(integers[..., 1]),
            mothers=np.ascontiguousarray(integers[..., 2:4]),
            colour=np.ascontiguousarray(integers[..., 4:6]),
            lifetime=np.ascontiguousarray(padded[..., 11]),
            helicity=np.ascontiguousarray(padded[..., 12]),
            mask=mask,
            weight=np.ascontiguousarray(head[:, 2]),
            process_id=head[:, 1].astype(np.int32),
            scale=np.ascontiguousarray(head[:, 3]),
            alpha_qed=np.ascontiguousarray(head[:, 4]),
            alpha_qcd=np.ascontiguousarray(head[:, 5]),
            weights=named,
            weight_names=names,
        )

    # -- public ----------------------------------------------------------------------------

    def chunks(self, chunk_size: int = 10_000) -> Iterator[Events]:
        """Yield the remaining events in batches of at most ``chunk_size`` (NumPy arrays).

        Each batch is padded to its own largest multiplicity; :meth:`Events.concatenate`
        pads batches to a common width.
        """
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        while (chunk := self._read_chunk(chunk_size)) is not None:
            yield chunk

    def read_all(self) -> Events:
        """All remaining events as one batch (possibly empty)."""
        return self._read_chunk(None)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "LHEReader":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close()


def _integer(text: str) -> int:
    """An integer field; ``int`` accepts ``+7`` and ``-1`` but refuses ``7.5`` (ValueError)."""
    return int(text)


def read_lhe(path: str | os.PathLike) -> tuple[Events, RunInfo]:
    """Read a whole LHE file (plain or gzip): ``(events, run_info)``.

    ``events`` holds NumPy float64/int32 arrays, padded to the largest multiplicity in the
    file (see :class:`~diffsim.events.Events`). For large files use :func:`iter_lhe`.
    """
    with LHEReader(path) as reader:
        return reader.read_all(), reader.run_info


def iter_lhe(path: str | os.PathLike, chunk_size: int = 10_000) -> Iterator[Events]:
    """Stream an LHE file as batches of at most ``chunk_size`` events, in constant memory.

    The run information is available from :func:`read_run_info` (or :class:`LHEReader`).
    """
    with LHEReader(path) as reader:
        yield from reader.chunks(chunk_size)


def read_run_info(path: str | os.PathLike) -> RunInfo:
    """The ``<init>`` block of an LHE file, without reading its events."""
    with LHEReader(path) as reader:
        return reader.run_info
