"""Readers for LHAPDF6 set files: the ``.info`` metadata and ``lhagrid1`` member grids.

Format (LHAPDF6, A. Buckley et al., Eur. Phys. J. C75 (2015) 132, arXiv:1412.7420, sec. 3):

* ``NAME.info`` is a flat YAML mapping. Every set in the LHAPDF index uses only
  ``key: value`` lines whose values are numbers, (quoted) strings, booleans or one-line
  flow lists ``[a, b, c]``; :func:`parse_info` reads exactly that subset (no PyYAML
  dependency) and raises ``ValueError`` on anything else.
* ``NAME_MMMM.dat`` (``lhagrid1``) is a header block in the same ``key: value`` form, then
  one or more subgrid blocks, every block terminated by a ``---`` line. A subgrid block is
  a line of ``x`` knots, a line of ``Q`` knots (GeV), a line of PDG ids, then
  ``n_x · n_Q`` lines of ``n_flavours`` values ``x f(x, Q)``, ``x`` varying slowest.
  All subgrids share the ``x`` knots and the flavour list (LHAPDF requires it); a
  subgrid boundary repeats the boundary ``Q`` knot in both neighbouring blocks.

The reader returns plain numpy float64 arrays; :mod:`diffsim.pdf.set` turns them into JAX
leaves. Lines starting with ``#`` are comments, as in LHAPDF.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

__all__ = ["MemberGrid", "parse_info", "parse_member"]

_SEPARATOR = "---"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclasses.dataclass(frozen=True)
class MemberGrid:
    """One ``lhagrid1`` member file, subgrids concatenated along ``Q`` as LHAPDF ≥ 6.4 does.

    Attributes:
        header: the member's own metadata (``PdfType``, ``Format``, …).
        x: ``(n_x,)`` x knots, strictly increasing.
        q: ``(n_q,)`` Q knots in GeV over all subgrids in file order; a subgrid boundary
            appears twice (once as the last knot of the lower subgrid, once as the first
            knot of the upper one).
        pids: PDG ids of the flavour axis, in file order.
        xf: ``(n_x, n_q, n_flavours)`` values ``x f(x, Q)`` at the knots.
        subgrid_sizes: number of ``Q`` knots of each subgrid (they sum to ``n_q``).
    """

    header: dict
    x: np.ndarray
    q: np.ndarray
    pids: tuple[int, ...]
    xf: np.ndarray
    subgrid_sizes: tuple[int, ...]


def parse_value(text: str):
    """One scalar or flow-list value of the flat-YAML subset (see :func:`parse_info`)."""
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"unterminated list {text!r}")
        inner = text[1:-1].strip()
        return [parse_value(item) for item in inner.split(",")] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if _INTEGER.match(text):
        return int(text)
    if _NUMBER.match(text):
        return float(text.replace("d", "e").replace("D", "e"))
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    return text


def parse_info(text: str, *, source: str = "<info>") -> dict:
    """Parse LHAPDF ``.info`` (or ``.dat`` header) text into a dict.

    Supported: ``key: value`` lines; values are ints, floats (``e``/``E``/``d`` exponents),
    booleans (``true``/``false``), quoted or bare strings, and flow lists ``[a, b, …]``,
    which may continue over several lines until the closing ``]``. Comment lines (``#``)
    and blank lines are skipped; the header comment of a file is not metadata.

    Raises:
        ValueError: for a line that is not ``key: value`` (with ``source`` and line number).
    """
    info: dict = {}
    pending_key, pending_text, pending_line = None, "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if pending_key is not None:
            pending_text += " " + line
            if "]" in line:
                info[pending_key] = parse_value(pending_text)
                pending_key = None
            continue
        if not line or line.startswith("#"):
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or " " in key.strip():
            raise ValueError(f"{source}:{number}: expected 'key: value', got {raw!r}")
        key, value = key.strip(), value.strip()
        if value.startswith("[") and "]" not in value:
            pending_key, pending_text, pending_line = key, value, number
            continue
        try:
            info[key] = parse_value(value)
        except ValueError as error:
            raise ValueError(f"{source}:{number}: {error}") from None
    if pending_key is not None:
        raise ValueError(f"{source}:{pending_line}: list for {pending_key!r} is never closed")
    return info


def _floats(line: str, what: str, source: str, number: int) -> np.ndarray:
    try:
        values = np.array(line.split(), dtype=np.float64)
    except ValueError:
        raise ValueError(f"{source}:{number}: expected a line of {what}, got {line!r}") from None
    if values.size == 0:
        raise ValueError(f"{source}:{number}: empty line of {what}")
    return values


def parse_member(text: str, *, source: str = "<dat>") -> MemberGrid:
    """Parse an ``lhagrid1`` member file (see the module docstring for the layout).

    Raises:
        ValueError: for a malformed file: missing final ``---``, a subgrid with x knots or
            flavours different from the first one, a wrong number of values, unsorted
            knots, or non-finite values. The message names ``source`` and the line.
    """
    lines = text.splitlines()
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line == _SEPARATOR:
            blocks.append([])
        else:
            blocks[-1].append((number, line))
    if len(blocks) < 3 or any(line for _, line in blocks[-1]):
        raise ValueError(f"{source}: an lhagrid1 file is a header and subgrid blocks, "
                         "each ending with a '---' line")
    header = parse_info("\n".join(line for _, line in blocks[0]), source=source)
    fmt = header.get("Format", "lhagrid1")
    if fmt != "lhagrid1":
        raise ValueError(f"{source}: Format {fmt!r} is not supported (expected 'lhagrid1')")

    x = None
    pids: tuple[int, ...] = ()
    q_parts, xf_parts = [], []
    for block in blocks[1:-1]:
        block = [(n, line) for n, line in block if line]
        if len(block) < 4:
            first = block[0][0] if block else "?"
            raise ValueError(f"{source}:{first}: subgrid block needs x, Q and flavour lines "
                             "and data")
        (nx_line, x_text), (nq_line, q_text), (nf_line, f_text) = block[:3]
        block_x = _floats(x_text, "x knots", source, nx_line)
        block_q = _floats(q_text, "Q knots", source, nq_line)
        try:
            block_pids = tuple(int(token) for token in f_text.split())
        except ValueError:
            raise ValueError(f"{source}:{nf_line}: expected PDG ids, got {f_text!r}") from None
        if x is None:
            x, pids = block_x, block_pids
        elif not np.array_equal(block_x, x):
            raise ValueError(f"{source}:{nx_line}: x knots differ from the first subgrid's")
        elif block_pids != pids:
            raise ValueError(f"{source}:{nf_line}: flavours differ from the first subgrid's")
        values = np.array(" ".join(line for _, line in block[3:]).split(), dtype=np.float64)
        expected = x.size * block_q.size * len(pids)
        if values.size != expected:
            raise ValueError(f"{source}:{block[3][0]}: subgrid has {values.size} values, "
                             f"expected n_x·n_Q·n_flavours = {x.size}·{block_q.size}·"
                             f"{len(pids)} = {expected}")
        q_parts.append(block_q)
        xf_parts.append(values.reshape(x.size, block_q.size, len(pids)))

    q = np.concatenate(q_parts)
    xf = np.concatenate(xf_parts, axis=1)
    if x.size < 4 or np.any(np.diff(x) <= 0) or x[0] <= 0 or x[-1] > 1:
        raise ValueError(f"{source}: need ≥ 4 x knots, strictly increasing, in (0, 1]")
    if np.any(q <= 0) or np.any(np.diff(q) < 0) or any(np.any(np.diff(p) <= 0) for p in q_parts):
        raise ValueError(f"{source}: Q knots must be positive and increasing (strictly "
                         "inside each subgrid)")
    if any(p.size < 2 for p in q_parts):
        raise ValueError(f"{source}: every subgrid needs at least 2 Q knots")
    if len(set(pids)) != len(pids):
        raise ValueError(f"{source}: repeated flavour in {pids}")
    if not np.all(np.isfinite(xf)):
        raise ValueError(f"{source}: grid values must be finite")
    return MemberGrid(header=header, x=x, q=q, pids=pids, xf=xf,
                      subgrid_sizes=tuple(p.size for p in q_parts))
