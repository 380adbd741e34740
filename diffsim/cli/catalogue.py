"""What the command line can run: models, their processes and their parameters.

A *model* is a parameter-set module of :mod:`diffsim.models` (``sm``, ``zprime``) with its
``PROCESSES`` (fixed-energy collisions in MadGraph syntax, e.g. ``"e+ e- > mu+ mu-"``) and
the hadronic processes ``"p p > X"`` / ``"p p~ > X"`` that its ``hadronic_process`` builds
from them (:data:`diffsim.models.multiparticles.PROTON_CHANNELS`). Parameters are the
leaves of the model's parameter set, addressed by their field names (``mt``, ``wz``,
``mzp``; the SM inputs of the Z′ model keep their SM names). Names starting with ``m`` are
masses and names starting with ``w`` widths (GeV); both must be non-negative.
"""

import dataclasses
import math
from types import ModuleType

import equinox as eqx

from diffsim.cli.errors import UserError, suggest
from diffsim.models import sm, zprime
from diffsim.models.multiparticles import BEAM_IDS, PROTON_CHANNELS
from diffsim.models.registry import normalise

__all__ = ["MODELS", "ProcessSpec", "hadronic_processes", "make_params", "parameters", "resolve"]

MODELS: dict[str, ModuleType] = {"sm": sm, "zprime": zprime}
"""Model name → parameter-set module (``PROCESSES``, ``process``, ``hadronic_process``)."""

_PARAMETER_SETS = {"sm": sm.StandardModel, "zprime": zprime.ZPrimeModel}


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    """A resolved process: ``model`` name, normalised ``name`` and whether it is hadronic
    (``p p > X``, needs a PDF) or a fixed-energy collision (``e+ e- > X``, ``u u~ > X``)."""

    model: str
    name: str
    hadronic: bool

    @property
    def initial(self) -> tuple[str, str]:
        """The two incoming particles (beam 1, beam 2)."""
        first, second = self.name.split(">")[0].split()
        return first, second


def _module(model: str) -> ModuleType:
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}.{suggest(model, MODELS)} Available: {', '.join(MODELS)}")
    return MODELS[model]


def hadronic_processes(model: str) -> tuple[str, ...]:
    """``p p > X`` and ``p p~ > X`` for every final state whose partonic processes ``model`` has."""
    available = set(_module(model).PROCESSES)
    finals = [final for final, partonic in PROTON_CHANNELS.items() if set(partonic) <= available]
    return tuple(f"{beams} > {final}" for final in finals for beams in ("p p", "p p~"))


def resolve(model: str, process: str) -> ProcessSpec:
    """The :class:`ProcessSpec` of ``process`` in ``model``; :class:`UserError` (with close
    matches among the model's processes, or the models that have it) otherwise."""
    module = _module(model)
    name = normalise(process)
    fixed, hadronic = tuple(module.PROCESSES), hadronic_processes(model)
    beams = name.split(">")[0].split() if ">" in name else []
    if name in fixed:
        return ProcessSpec(model, name, False)
    if len(beams) == 2 and all(b in BEAM_IDS for b in beams):
        swapped = f"{beams[1]} {beams[0]} >{name.split('>', 1)[1]}"
        if name in hadronic or swapped in hadronic:
            return ProcessSpec(model, name, True)
    elsewhere = [m for m in MODELS if m != model and name in MODELS[m].PROCESSES + hadronic_processes(m)]
    hint = f" It is in model {' and '.join(repr(m) for m in elsewhere)} (--model)." if elsewhere else ""
    raise UserError(
        f"unknown process {process!r} for model {model!r}.{suggest(name, fixed + hadronic)}{hint} "
        "See `diffsim processes`."
    )


def _leaves(params: eqx.Module, prefix: tuple[str, ...] = ()) -> dict[str, tuple[tuple[str, ...], float]]:
    """``name → (attribute path, value)`` of the numeric fields of a parameter set (nested
    sets flattened; a name of the outer set wins over a nested one)."""
    found: dict[str, tuple[tuple[str, ...], float]] = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if isinstance(value, eqx.Module):
            for name, item in _leaves(value, prefix + (field.name,)).items():
                found.setdefault(name, item)
        else:
            found[field.name] = (prefix + (field.name,), float(value))
    return found


def parameters(model: str) -> dict[str, float]:
    """The parameters of ``model`` and their defaults (GeV for masses and widths)."""
    _module(model)
    return {name: value for name, (_, value) in _leaves(_PARAMETER_SETS[model]()).items()}


def make_params(model: str, overrides: dict[str, float]) -> eqx.Module:
    """``model``'s parameter set with ``overrides`` applied (checked: known names, finite
    values, non-negative masses and widths)."""
    _module(model)
    params = _PARAMETER_SETS[model]()
    leaves = _leaves(params)
    for name, value in overrides.items():
        if name not in leaves:
            raise UserError(
                f"unknown parameter {name!r} for model {model!r}.{suggest(name, leaves)} "
                f"Parameters: {', '.join(leaves)}"
            )
        value = float(value)
        if not math.isfinite(value):
            raise UserError(f"parameter {name} must be finite, got {value}")
        if name[0] in "mw" and value < 0:
            kind = "mass" if name[0] == "m" else "width"
            raise UserError(f"parameter {name} is a {kind} and must be >= 0 GeV, got {value:g}")
        path = leaves[name][0]

        def where(p, path=path):
            for attribute in path:
                p = getattr(p, attribute)
            return p

        params = eqx.tree_at(where, params, value)
    return params
