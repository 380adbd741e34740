"""Building processes from MadGraph process strings (``"g g > t t~ g"``)."""

import difflib
from collections.abc import Sequence

import equinox as eqx

from diffsim.models.particles import lookup
from diffsim.models.process import External, Process
from diffsim.models.processes import FermionPairAnnihilation, QuarkLineWithGluons

__all__ = ["build_process", "normalise", "parse"]


def normalise(name: str) -> str:
    """Collapse whitespace: ``"g  g>t t~"`` → ``"g g > t t~"``."""
    if ">" not in name:
        return " ".join(name.split())
    initial, final = name.split(">", 1)
    return f"{' '.join(initial.split())} > {' '.join(final.split())}"


def parse(name: str) -> tuple[External, ...]:
    """External legs of a process string in MadGraph order (incoming first)."""
    if name.count(">") != 1:
        raise ValueError(f"process {name!r} must have the form 'a b > c d ...'")
    initial, final = (part.split() for part in name.split(">"))
    if len(initial) != 2 or not final:
        raise ValueError(f"process {name!r} needs two incoming and at least one outgoing particle")
    return tuple(External(lookup(n), True) for n in initial) + tuple(
        External(lookup(n), False) for n in final
    )


def build_process(model: eqx.Module, name: str, available: Sequence[str]) -> Process:
    """Build ``name`` for ``model`` if it is one of ``available`` (``ValueError`` otherwise)."""
    key = normalise(name)
    if key not in available:
        close = difflib.get_close_matches(key, available, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown process {name!r} for {type(model).__name__}.{hint} "
            f"Available: {', '.join(repr(a) for a in available)}"
        )
    externals = parse(key)
    if all(e.particle.spin == 1 for e in externals) and len(externals) == 4:
        fermion_in = next(e.particle for e in externals[:2] if not e.particle.is_antiparticle)
        fermion_out = next(e.particle for e in externals[2:] if not e.particle.is_antiparticle)
        bosons = model.annihilation_bosons(fermion_in, fermion_out)
        return FermionPairAnnihilation(model, key, externals, bosons)
    return QuarkLineWithGluons(model, key, externals)
