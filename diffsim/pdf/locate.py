"""Where PDF sets live: the shipped package data, then LHAPDF's data directories.

An LHAPDF6 set is a directory ``NAME/`` holding ``NAME.info`` and member files
``NAME_0000.dat, NAME_0001.dat, …`` (arXiv:1412.7420, sec. 3). A set *name* is looked up in

1. the sets shipped with diffsim (``diffsim/pdf/data/``, read through
   ``importlib.resources`` so it works from any regular install);
2. each directory of ``$LHAPDF_DATA_PATH`` and then ``$LHAPATH`` (colon-separated, as
   LHAPDF reads them);
3. the usual install locations ``/usr/share/LHAPDF``, ``/usr/local/share/LHAPDF``,
   ``~/.local/share/LHAPDF`` (LHAPDF's ``lhapdf-config --datadir`` is not consulted).

A *path* (anything containing a path separator, or an existing directory) names the set
directory itself, or its ``.info`` file.
"""

from __future__ import annotations

import importlib.resources
import os
import pathlib

__all__ = ["DEFAULT_SET", "PDFSetNotFoundError", "find_set", "search_directories"]

DEFAULT_SET = "NNPDF31_lo_as_0118"
STANDARD_DIRECTORIES = ("/usr/share/LHAPDF", "/usr/local/share/LHAPDF",
                        "~/.local/share/LHAPDF")


class PDFSetNotFoundError(FileNotFoundError):
    """A PDF set (or member file) was not found; the message lists where diffsim looked."""


def _shipped():
    return importlib.resources.files("diffsim.pdf").joinpath("data")


def search_directories() -> list:
    """The directories searched for a set name, in order (see the module docstring)."""
    directories: list = [_shipped()]
    for variable in ("LHAPDF_DATA_PATH", "LHAPATH"):
        for entry in os.environ.get(variable, "").split(os.pathsep):
            if entry:
                directories.append(pathlib.Path(entry).expanduser())
    directories += [pathlib.Path(d).expanduser() for d in STANDARD_DIRECTORIES]
    return directories


def find_set(name_or_path: str | os.PathLike) -> tuple[str, object]:
    """Resolve a set name or path to ``(set name, set directory)``.

    The directory is a ``pathlib.Path`` or an ``importlib.resources`` traversable; both
    support ``joinpath``, ``is_file`` and ``read_text``.

    Raises:
        PDFSetNotFoundError: the set is nowhere; the message lists every place searched and
            how to install a set.
    """
    text = os.fspath(name_or_path)
    path = pathlib.Path(text).expanduser()
    if os.sep in text or (os.altsep and os.altsep in text) or path.exists():
        if path.suffix == ".info" and path.is_file():
            return path.stem, path.parent
        if path.is_dir() and (path / f"{path.name}.info").is_file():
            return path.name, path
        raise PDFSetNotFoundError(
            f"{path} is not an LHAPDF set directory (expected {path}/{path.name}.info) or a "
            ".info file")
    searched = []
    for directory in search_directories():
        candidate = directory.joinpath(text)
        searched.append(str(candidate))
        if candidate.joinpath(f"{text}.info").is_file():
            return text, candidate
    raise PDFSetNotFoundError(
        f"PDF set {text!r} not found. Looked for {text}/{text}.info in:\n  "
        + "\n  ".join(searched)
        + f"\nInstall it with `lhapdf install {text}`, or download {text}.tar.gz from "
        "https://lhapdf.hepforge.org/pdfsets and unpack it into a directory listed in "
        "LHAPDF_DATA_PATH (colon-separated), or pass the set directory's path to "
        "diffsim.pdf.load.")
