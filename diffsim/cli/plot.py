"""``diffsim plot``: a histogram of an observable of an LHE file, drawn with mplhep.

The file is streamed in chunks (:class:`diffsim.events.LHEReader`), so its size does not
matter; without ``--range`` a first pass finds the range of the observable. Each event
enters with its weight ``XWGTUP`` (pb for diffsim's files), so the bins hold cross sections.
Observables (:data:`OBSERVABLES`) act on the selected particles — by default every outgoing
particle (status 1); ``--particles`` picks PDG ids or names (``11,-11`` or ``e-,e+``): ``m``
(alias ``mll``) is the invariant mass ``sign(m²)√|m²|`` of the selected particles of an event (events
without any are skipped), ``pt``, ``eta``, ``y``, ``phi`` and ``e`` fill one entry per
selected particle. Histograms are :mod:`hist` objects; the plot is written with the Agg
backend (no display needed) and carries the file's run card in its metadata.
"""

import math
import pathlib
import tomllib

import hist
import numpy as np

from diffsim import kinematics
from diffsim.cli.card import card_in_header
from diffsim.cli.errors import UserError, suggest
from diffsim.events import LHEReader
from diffsim.models.particles import lookup

__all__ = ["OBSERVABLES", "fill_histogram", "plot_file"]

OBSERVABLES = {
    "m": ("invariant mass", "GeV", lambda p: kinematics.invariant_mass(p)),
    "pt": ("transverse momentum $p_T$", "GeV", kinematics.pt),
    "eta": ("pseudorapidity $\\eta$", "", kinematics.pseudorapidity),
    "y": ("rapidity $y$", "", kinematics.rapidity),
    "phi": ("azimuth $\\phi$", "rad", kinematics.phi),
    "e": ("energy", "GeV", kinematics.energy),
}
"""Observable → (axis label, unit, function of momenta)."""
ALIASES = {"mll": "m", "mass": "m", "energy": "e"}
CHUNK = 50_000


def _pdg_ids(text: str | None) -> set[int] | None:
    if not text:
        return None
    ids = set()
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        try:
            ids.add(int(item))
        except ValueError:
            try:
                ids.add(lookup(item).pdg_id)
            except (KeyError, ValueError):
                raise UserError(f"unknown particle {item!r} in --particles (PDG ids or names like e+, mu-, t~)") from None
    return ids


def _values(events, observable: str, particles: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Observable values and the weights they enter with, for one chunk."""
    selected = np.asarray(events.mask) & (np.asarray(events.status) == 1)
    if particles is not None:
        selected &= np.isin(np.asarray(events.pdg_id), list(particles))
    momenta = np.asarray(events.momenta, dtype=np.float64)
    weight = np.asarray(events.weight, dtype=np.float64)
    function = OBSERVABLES[observable][2]
    if observable == "m":
        keep = selected.any(axis=1)
        summed = np.where(selected[..., None], momenta, 0.0)[keep]
        total = summed.sum(axis=1, keepdims=True)
        return np.asarray(function(total)), weight[keep]
    values = np.asarray(function(momenta[selected]))
    weights = np.broadcast_to(weight[:, None], selected.shape)[selected]
    finite = np.isfinite(values)
    return values[finite], weights[finite]


def _chunks(path: pathlib.Path):
    try:
        with LHEReader(path) as reader:
            yield from reader.chunks(CHUNK)
    except ValueError as error:
        raise UserError(f"cannot read {path}: {error}") from None


def fill_histogram(path, observable: str, *, particles: str | None = None, bins: int = 50,
                   value_range: tuple[float, float] | None = None) -> hist.Hist:
    """The weighted histogram of ``observable`` over the events of LHE file ``path``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    observable = ALIASES.get(observable.lower(), observable.lower())
    if observable not in OBSERVABLES:
        names = sorted(OBSERVABLES) + sorted(ALIASES)
        raise UserError(f"unknown observable {observable!r}.{suggest(observable, names)} Known: {', '.join(names)}")
    if bins < 1:
        raise UserError(f"--bins must be positive, got {bins}")
    ids = _pdg_ids(particles)
    if value_range is None:
        low, high = math.inf, -math.inf
        for events in _chunks(path):
            values, _ = _values(events, observable, ids)
            if values.size:
                low, high = min(low, float(values.min())), max(high, float(values.max()))
        if low > high:
            raise UserError(f"{path}: no particle matches the selection (--particles {particles})")
        if low == high:
            low, high = low - 0.5, high + 0.5
        high += 1e-9 * (high - low)  # the largest value falls inside the last bin, not in overflow
        value_range = (low, high)
    elif not value_range[0] < value_range[1]:
        raise UserError(f"--range needs LOW < HIGH, got {value_range[0]:g} {value_range[1]:g}")
    label, unit, _ = OBSERVABLES[observable]
    axis_label = f"{label} [{unit}]" if unit else label
    histogram = hist.Hist(hist.axis.Regular(bins, *value_range, name=observable, label=axis_label),
                          storage=hist.storage.Weight())
    for events in _chunks(path):
        values, weights = _values(events, observable, ids)
        histogram.fill(values, weight=weights)
    return histogram


def plot_file(path, observable: str, out, *, particles: str | None = None, bins: int = 50,
              value_range: tuple[float, float] | None = None, log: bool = False) -> hist.Hist:
    """Draw :func:`fill_histogram`'s histogram to ``out`` (PNG, PDF, … by suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    histogram = fill_histogram(path, observable, particles=particles, bins=bins, value_range=value_range)
    with LHEReader(path) as reader:
        card = card_in_header(reader.header)
    title = pathlib.Path(path).name
    if card is not None:
        process = tomllib.loads(card).get("process", "")
        title = f"{process}  ({title})"
    figure, axes = plt.subplots(figsize=(6.4, 4.8))
    mplhep.histplot(histogram, ax=axes, yerr=True, histtype="step")
    axes.set_xlabel(histogram.axes[0].label)
    axes.set_ylabel("σ per bin [pb]")
    axes.set_title(title, fontsize=10)
    if log:
        axes.set_yscale("log")
    figure.tight_layout()
    metadata = {"Description": card} if card is not None and str(out).lower().endswith(".png") else None
    try:
        figure.savefig(out, metadata=metadata)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot write {out}: {error}") from None
    finally:
        plt.close(figure)
    return histogram
