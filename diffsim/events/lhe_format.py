"""The Les Houches Event File (LHEF) text layout shared by the reader and the writer.

LHEF 1.0: Alwall et al., "A standard format for Les Houches Event Files",
Comput. Phys. Commun. 176 (2007) 300, hep-ph/0609017. LHEF 3.0 (named weights in
``<initrwgt>`` and ``<rwgt>``): Andersen et al., "Les Houches 2013: Physics at TeV Colliders:
Standard Model Working Group Report", arXiv:1405.1067, section 22.

An event block is ``<event>``, one line ``NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP``, then ``NUP``
particle lines ``IDUP ISTUP MOTHUP(1) MOTHUP(2) ICOLUP(1) ICOLUP(2) PUP(1..5) VTIMUP SPINUP``
with ``PUP = (px, py, pz, E, m)`` in GeV, then optional extra lines and elements, then
``</event>``.
"""

import gzip
import io
import os
import re

__all__ = [
    "EVENT_FIELDS",
    "FLOAT_FORMAT",
    "PARTICLE_FIELDS",
    "SUPPORTED_VERSIONS",
    "hide_comments",
    "is_gzip_file",
    "open_text",
]

EVENT_FIELDS = 6
"""Fields of an event's first line: NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP."""

PARTICLE_FIELDS = 13
"""Fields of a particle line: IDUP ISTUP MOTHUP×2 ICOLUP×2 px py pz E m VTIMUP SPINUP."""

FLOAT_FORMAT = "%.16e"
"""17 significant digits: every float64 survives a write and a read bit for bit."""

SUPPORTED_VERSIONS = ("1.0", "3.0")
"""LHEF versions the writer produces (the reader accepts any version attribute)."""

_GZIP_MAGIC = b"\x1f\x8b"
_MARKUP = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)", re.DOTALL)
_NOT_NEWLINE = re.compile(r"[^\n]")


def is_gzip_file(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` starts with the gzip magic number (RFC 1952)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open an LHE file for reading as text, decompressing it if it is gzip (by content).

    Undecodable bytes (in free-text headers) are replaced rather than fatal: only numbers,
    tags and weight ids are interpreted.
    """
    if is_gzip_file(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def hide_comments(text: str) -> str:
    """``text`` with XML comments and CDATA sections blanked out, keeping every offset.

    Each character inside ``<!-- … -->`` or ``<![CDATA[ … ]]>`` (an unterminated one runs
    to the end) becomes a space, newlines excepted, so a tag searched for in the result is
    a real tag and its offset and line number are those of the original text.
    """
    return _MARKUP.sub(lambda match: _NOT_NEWLINE.sub(" ", match.group()), text)
