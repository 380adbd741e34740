"""Run cards: every setting of a run in one TOML file.

A :class:`RunCard` is what ``diffsim xsec`` and ``diffsim generate`` run; the command-line
options fill it (options not given keep the card's or the default values) and every
output carries it: the ``--json`` result of ``xsec`` includes it, and ``generate`` writes it
into the LHE header (:func:`card_header`) and next to the file (``<output>.toml``).
``--card FILE`` reruns a card from a ``.toml`` file or from the header of an LHE file that
``diffsim generate`` wrote. Read with :mod:`tomllib`, written with ``tomli_w``.
"""

import dataclasses
import hashlib
import json
import pathlib
import re
import tomllib

import tomli_w

from diffsim.cli.errors import UserError, suggest
from diffsim.pdf import DEFAULT_SET

__all__ = ["RunCard", "card_header", "card_in_header", "load_card", "sampler_hash"]


@dataclasses.dataclass(frozen=True)
class RunCard:
    """All settings of a cross-section or event-generation run (units: GeV, pb).

    Physics: ``process`` (MadGraph syntax), ``model``, ``sqrt_s`` (collider energy, GeV),
    ``pdf``/``pdf_member`` (LHAPDF6 set, hadronic processes only), ``scale`` (μ_F = μ_R:
    a number in GeV, ``"mhat"`` the invariant mass of the final state or ``"ht/2"``),
    ``alphas`` (``"pdf"``: α_s(μ_R) of the PDF set, ``"model"``: the model's fixed value,
    or a number), ``cuts`` (``"mll>15"``-style, see :mod:`diffsim.cli.physics`), ``params``
    (model parameters overriding the defaults).

    Integration: ``integrator`` (``vegas``, ``nis``, ``madnis``), ``multichannel`` (one
    channel per diagram for ``vegas``/``madnis`` where possible; ``False``: one channel,
    fewer compilations), ``precision`` (target relative error of σ), ``max_calls``
    (evaluation calls after which ``xsec`` gives up), ``batch_size`` (points per VEGAS
    iteration, per evaluation batch and per chunk of generated events: sets the memory,
    independent of ``n_events``),
    ``train_iterations`` (VEGAS iterations per channel), ``train_steps`` and ``train_batch``
    (flow optimiser steps, points per channel per step; nis/madnis), ``seed``.

    Generation: ``n_events``, ``output`` (``.lhe`` or ``.lhe.gz``) and ``pilot_points`` (points of the sample that fixes σ and w_max).
    """

    process: str = ""
    model: str = "sm"
    sqrt_s: float = 0.0
    pdf: str = DEFAULT_SET
    pdf_member: int = 0
    scale: str = "mhat"
    alphas: str = "pdf"
    cuts: tuple[str, ...] = ()
    params: dict = dataclasses.field(default_factory=dict)
    integrator: str = "vegas"
    multichannel: bool = True
    precision: float = 1e-3
    max_calls: int = 20_000_000
    batch_size: int = 20_000
    train_iterations: int = 8
    train_steps: int = 200
    train_batch: int = 1024
    seed: int = 0
    n_events: int = 10_000
    output: str = ""
    pilot_points: int = 100_000

    def replace(self, **changes) -> "RunCard":
        """A copy with ``changes`` (``None`` values are ignored: options not given)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        """Plain TOML/JSON-ready values (tuples as lists)."""
        data = dataclasses.asdict(self)
        data["cuts"] = list(self.cuts)
        return data

    def to_toml(self) -> str:
        """The card as TOML text."""
        return "# diffsim run card: rerun with `diffsim xsec --card FILE` or `diffsim generate --card FILE`\n" + (
            tomli_w.dumps(self.to_dict())
        )

    @classmethod
    def from_dict(cls, data: dict, source: str = "card") -> "RunCard":
        """A card from parsed TOML, with the types checked (:class:`UserError` otherwise)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in fields:
                raise UserError(f"{source}: unknown setting {key!r}.{suggest(key, fields)}")
            default = fields[key].default
            expected = dict if key == "params" else type(default)
            try:
                if expected is tuple:
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise TypeError
                    value = tuple(value)
                elif expected is dict:
                    if not isinstance(value, dict):
                        raise TypeError
                    value = {str(k): float(v) for k, v in value.items()}
                elif expected is float:
                    if isinstance(value, bool):
                        raise TypeError
                    value = float(value)
                elif expected is bool:
                    if not isinstance(value, bool):
                        raise TypeError
                elif expected is int:
                    if isinstance(value, bool) or int(value) != value:
                        raise TypeError
                    value = int(value)
                elif not isinstance(value, str):
                    value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
                    if value is None:
                        raise TypeError
            except (TypeError, ValueError):
                raise UserError(f"{source}: setting {key!r} must be of type {expected.__name__}, got {value!r}") from None
            values[key] = value
        return cls(**values)


_CARD_IN_HEADER = re.compile(r"<diffsimcard>\s*<!\[CDATA\[(.*?)\]\]>\s*</diffsimcard>", re.DOTALL)


def card_header(card: RunCard) -> str:
    """LHE ``<header>`` content holding the card (TOML in a CDATA section)."""
    return f"<diffsimcard><![CDATA[\n{card.to_toml()}]]></diffsimcard>"


def card_in_header(header: str | None) -> str | None:
    """The TOML text of the run card in an LHE header (``None`` if it has none)."""
    match = _CARD_IN_HEADER.search(header or "")
    return None if match is None else match.group(1)


def load_card(path: str) -> RunCard:
    """A card from a ``.toml`` file or from the header of an LHE file written by ``generate``."""
    file = pathlib.Path(path)
    if not file.is_file():
        raise UserError(f"run card {path!r} not found")
    name = file.name
    if name.endswith((".lhe", ".lhe.gz")):
        from diffsim.events import LHEReader

        try:
            with LHEReader(file) as reader:
                header = reader.header or ""
        except ValueError as error:
            raise UserError(f"cannot read {path}: {error}") from None
        text = card_in_header(header)
        if text is None:
            raise UserError(f"{path} carries no diffsim run card in its header")
    else:
        text = file.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not a valid TOML run card ({error})") from None
    return RunCard.from_dict(data, source=str(path))


_OUTPUT_ONLY = ("precision", "max_calls", "n_events", "output")


def sampler_hash(card: RunCard, version: str) -> str:
    """SHA-256 (hex, 16 characters) of everything that determines the trained sampler,
    σ and w_max: the card without its output-only fields, and the diffsim ``version``."""
    data = {k: v for k, v in card.to_dict().items() if k not in _OUTPUT_ONLY}
    text = json.dumps({"card": data, "version": version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
