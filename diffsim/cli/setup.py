"""From a :class:`~diffsim.cli.card.RunCard` to something to integrate and events to write.

:func:`build_run` resolves the card's process, parameters, PDF, scales and cuts (all user
errors are reported here, before anything is compiled) and returns a :class:`Run`: a
multi-channel integrand in the protocol of :mod:`diffsim.channels`, the ``to_events``
function of :func:`diffsim.inference.unweighted_events` and the LHE ``<init>`` data.

* Fixed-energy collisions (``e+ e- > mu+ mu-``, ``u u~ > t t~``): one channel,
  :class:`~diffsim.cli.collider.FixedEnergyCollision`.
* Hadronic processes (``p p > e+ e-``): :class:`diffsim.hadronic.HadronicIntegrand` with
  the PDF set, summed over partons; channels from the diagrams
  (:meth:`diffsim.hadronic.HadronicChannels.from_diagrams`: a Breit–Wigner map on each
  resonance) for ``vegas`` and ``madnis`` when the partonic processes share their diagrams
  and the card asks for it (``multichannel``), otherwise one channel.

Cuts are ``OBSERVABLE>VALUE`` or ``OBSERVABLE<VALUE`` (GeV; η and y dimensionless) on the
final state: ``m`` (alias ``mll``, ``mhat``) the invariant mass of the whole final state,
``pt``, ``eta`` (|η|) and ``y`` (|y|) of every final-state particle. For hadronic
processes the ``m`` bounds set the range of ŝ. A hadronic process with a massless final
state needs a lower ``m`` bound; without any cut it gets :data:`DEFAULT_MASSLESS_CUT`.
"""

import dataclasses
import re
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp

from diffsim import pdf as pdfs
from diffsim.channels import SingleChannel
from diffsim.cli.card import RunCard
from diffsim.cli.catalogue import MODELS, ProcessSpec, make_params, resolve
from diffsim.cli.collider import FixedEnergyCollision
from diffsim.cli.errors import UserError, suggest
from diffsim.events import ProcessInfo, RunInfo
from diffsim.hadronic import (
    AbsRapidity,
    Cut,
    DynamicScale,
    FixedScale,
    HadronicChannels,
    HadronicIntegrand,
    InvariantMass,
    ScalarSumTransverseMass,
    TransverseMomentum,
    hadronic_events,
)
from diffsim.models.multiparticles import BEAM_IDS

__all__ = ["DEFAULT_HADRONIC_SQRT_S", "DEFAULT_MASSLESS_CUT", "INTEGRATORS", "HadronicEvents", "Run", "build_run", "parse_cut"]

INTEGRATORS = ("vegas", "nis", "madnis")
DEFAULT_HADRONIC_SQRT_S = 13000.0
"""√S of a hadronic run whose card leaves ``sqrt_s`` unset (the LHC, GeV)."""
DEFAULT_MASSLESS_CUT = "mll>15"
"""The cut a hadronic process with a massless final state gets when the card has none."""

_CUT = re.compile(r"^\s*([A-Za-z/]+)\s*([<>])=?\s*([-+0-9.eE]+)\s*$")
_MASS_NAMES = ("m", "mll", "mhat")
_OBSERVABLES = _MASS_NAMES + ("pt", "eta", "y")


def parse_cut(text: str) -> tuple[str, str, float]:
    """``"mll>15"`` → ``("m", ">", 15.0)`` (see the module docstring for the observables)."""
    match = _CUT.match(text)
    if match is None:
        raise UserError(f"bad cut {text!r}: expected OBSERVABLE>VALUE or OBSERVABLE<VALUE, e.g. 'mll>15'")
    name, sign, value = match.group(1).lower(), match.group(2), match.group(3)
    if name not in _OBSERVABLES:
        raise UserError(f"unknown cut observable {name!r}.{suggest(name, _OBSERVABLES)} Known: {', '.join(_OBSERVABLES)}")
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"bad cut {text!r}: {value!r} is not a number") from None
    return ("m" if name in _MASS_NAMES else name), sign, number


@dataclasses.dataclass(frozen=True)
class Run:
    """A resolved run: ``card`` (with defaults filled in), ``spec``, ``params``,
    ``integrand`` (``n_channels``, ``dim``, ``channel_integrand``), ``to_events(key, c, r,
    weight)``, the beams and PDF ids of the LHE ``<init>`` block and ``pdg_ids``."""

    card: RunCard
    spec: ProcessSpec
    params: eqx.Module
    integrand: eqx.Module
    to_events: Callable
    beam_ids: tuple[int, int]
    beam_energies: tuple[float, float]
    pdf_sets: tuple[int, int]

    def run_info(self, cross_section: float, error: float, unit_weight: float) -> RunInfo:
        """``<init>`` of unweighted events (``IDWTUP = 3``) with ``σ ± error`` (pb)."""
        return RunInfo(beam_ids=self.beam_ids, beam_energies=self.beam_energies, pdf_groups=(0, 0),
                       pdf_sets=self.pdf_sets, weighting_strategy=3,
                       processes=(ProcessInfo(1, cross_section, error, unit_weight),))


def _cuts(card: RunCard, final_legs: tuple[int, ...]) -> tuple[tuple[Cut, ...], float | None, float | None]:
    """Cuts on the momenta, and the lower/upper bound of the final-state invariant mass (GeV)."""
    bounds: dict[str, list[float | None]] = {}
    for text in card.cuts:
        name, sign, value = parse_cut(text)
        low, high = bounds.setdefault(name, [None, None])
        if sign == ">":
            bounds[name][0] = value if low is None else max(low, value)
        else:
            bounds[name][1] = value if high is None else min(high, value)
    for name, (low, high) in bounds.items():
        if low is not None and high is not None and low >= high:
            raise UserError(f"the cuts on {name} leave nothing: {low:g} < {name} < {high:g}")
    m_low, m_high = bounds.pop("m", [None, None])
    cuts = []
    for name, (low, high) in bounds.items():
        for leg in final_legs:
            observable = {"pt": lambda leg: TransverseMomentum(leg), "eta": lambda leg: AbsRapidity(leg, pseudo=True),
                          "y": lambda leg: AbsRapidity(leg)}[name](leg)
            cuts.append(Cut(observable, low, high))
    return tuple(cuts), m_low, m_high


def _scale(card: RunCard, final_legs: tuple[int, ...]):
    text = card.scale.strip().lower()
    if text == "mhat":
        return DynamicScale(InvariantMass(final_legs))
    if text == "ht/2":
        return DynamicScale(ScalarSumTransverseMass(final_legs), 0.5)
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"bad --scale {card.scale!r}: a number (GeV), 'mhat' or 'ht/2'") from None
    if not value > 0:
        raise UserError(f"--scale must be positive, got {value:g} GeV")
    return FixedScale(value)


def _alphas(card: RunCard, params: eqx.Module) -> tuple[eqx.Module, str]:
    """The parameters and ``HadronicIntegrand.alpha_s`` mode for ``card.alphas``."""
    text = card.alphas.strip().lower()
    if text in ("pdf", "model"):
        return params, text
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"bad --alphas {card.alphas!r}: 'pdf', 'model' or a number") from None
    if not 0 < value < 1:
        raise UserError(f"--alphas must lie in (0, 1), got {value:g}")
    return params.with_alpha_s(value), "model"


def _load_pdf(card: RunCard):
    try:
        return pdfs.load(card.pdf, card.pdf_member)
    except pdfs.PDFSetNotFoundError:
        raise UserError(
            f"PDF set {card.pdf!r} (member {card.pdf_member}) not found. Get it with `lhapdf install {card.pdf}` or "
            f"unpack {card.pdf}.tar.gz from https://lhapdf.hepforge.org/pdfsets into a folder listed in "
            "$LHAPDF_DATA_PATH (or $LHAPATH), or pass the set folder's path to --pdf; "
            f"the shipped default is {pdfs.DEFAULT_SET}"
        ) from None
    except ValueError as error:
        raise UserError(f"cannot use PDF set {card.pdf!r}: {error}") from None


def build_run(card: RunCard) -> Run:
    """Resolve ``card`` (module docstring); every problem a user can fix is a :class:`UserError`."""
    if not card.process:
        raise UserError("no process given, e.g. diffsim xsec \"e+ e- > mu+ mu-\" --sqrt-s 91.188")
    if card.integrator not in INTEGRATORS:
        raise UserError(f"unknown integrator {card.integrator!r}.{suggest(card.integrator, INTEGRATORS)} "
                        f"Choose one of {', '.join(INTEGRATORS)}")
    spec = resolve(card.model, card.process)
    params, alpha_mode = _alphas(card, make_params(card.model, card.params))
    module = MODELS[card.model]
    if spec.hadronic:
        return _hadronic(card, spec, params, alpha_mode, module)
    return _fixed_energy(card, spec, params, module)


def _final_masses_sum(process, params) -> float:
    return float(jnp.sum(process.masses(params)[2:]))


def _fixed_energy(card, spec, params, module) -> Run:
    if not card.sqrt_s > 0:
        raise UserError(f"{spec.name} is a fixed-energy collision: give its energy with --sqrt-s (GeV)")
    process = module.process(spec.name, params)
    final_legs = tuple(range(2, len(process.pdg_ids)))
    threshold = max(_final_masses_sum(process, params), float(jnp.sum(process.masses(params)[:2])))
    if card.sqrt_s <= threshold:
        raise UserError(f"√s = {card.sqrt_s:g} GeV is below the threshold {threshold:g} GeV of {spec.name}")
    cuts, m_low, m_high = _cuts(card, final_legs)
    if (m_low is not None and m_low >= card.sqrt_s) or (m_high is not None and m_high < card.sqrt_s):
        raise UserError(f"the invariant-mass cut removes every event at √s = {card.sqrt_s:g} GeV")
    collision = FixedEnergyCollision(process, params, card.sqrt_s, cuts)
    energies = tuple(float(e) for e in collision.beams(jnp.float64)[:, 0])
    return Run(card, spec, params, SingleChannel(collision, collision.dim), collision.events,
               tuple(int(p) for p in process.pdg_ids[:2]), energies, (0, 0))


def _hadronic(card, spec, params, alpha_mode, module) -> Run:
    if card.sqrt_s == 0:
        card = card.replace(sqrt_s=DEFAULT_HADRONIC_SQRT_S)
    if not card.sqrt_s > 0:
        raise UserError(f"--sqrt-s must be positive, got {card.sqrt_s:g} GeV")
    process = module.hadronic_process(spec.name, params)
    final_legs = tuple(range(2, 2 + len(process.channels[0].process.pdg_ids) - 2))
    threshold = _final_masses_sum(process.channels[0].process, params)
    if card.sqrt_s <= threshold:
        raise UserError(f"√s = {card.sqrt_s:g} GeV is below the threshold {threshold:g} GeV of {spec.name}")
    if threshold == 0 and not card.cuts:
        card = card.replace(cuts=(DEFAULT_MASSLESS_CUT,))
    cuts, m_low, m_high = _cuts(card, final_legs)
    if threshold == 0 and not (m_low is not None and m_low > 0):
        raise UserError(f"{spec.name} has a massless final state: give an invariant-mass cut, e.g. --cut 'mll>15'")
    if m_low is not None and m_low >= card.sqrt_s:
        raise UserError(f"√s = {card.sqrt_s:g} GeV is below the invariant-mass cut m > {m_low:g} GeV")
    pdf = _load_pdf(card)
    integrand = HadronicIntegrand(
        process, pdf, card.sqrt_s, mu_f=_scale(card, final_legs), cuts=cuts,
        s_hat_min=0.0 if m_low is None else m_low**2,
        s_hat_max=None if m_high is None or m_high >= card.sqrt_s else m_high**2,
        alpha_s=alpha_mode,
    )
    diagrams = {len(channel.process.diagrams) for channel in process.channels}
    if card.integrator != "nis" and card.multichannel and len(diagrams) == 1 and diagrams != {1}:
        channels = HadronicChannels.from_diagrams(integrand)
    else:
        channels = HadronicChannels(integrand, (integrand.s_hat_map,))
    beams = tuple(BEAM_IDS[b] for b in spec.initial)
    lhaid = pdf.info.get("SetIndex")
    pdf_set = int(lhaid) + card.pdf_member if isinstance(lhaid, int) else 0
    return Run(card, spec, params, channels, HadronicEvents(channels), beams, (card.sqrt_s / 2, card.sqrt_s / 2),
               (pdf_set, pdf_set))


class HadronicEvents(eqx.Module):
    """:func:`diffsim.hadronic.hadronic_events` of ``channels`` as a pytree callable
    ``(key, c, r, weight) -> Events`` (so ``eqx.filter_jit`` traces its arrays)."""

    channels: HadronicChannels

    def __call__(self, key, c, r, weight):
        return hadronic_events(key, self.channels, c, r, weight)
