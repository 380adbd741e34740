"""Proton and antiproton beams: hadronic processes built from the validated partonic ones.

``"p p > t t~"`` becomes ``g g > t t~`` plus ``q q~ > t t~`` and ``q~ q > t t~`` (incoming
momenta exchanged, see :class:`diffsim.hadronic.PartonicChannel`) for q = u, d, s, c, b.
Quarks with the same couplings share one partonic process — the light quarks are
massless in the proton (five-flavour scheme, as the PDF sets are), so ``u u~ > t t~`` serves
every flavour and ``u u~ > e+ e-`` / ``d d~ > e+ e-`` serve the up- and down-type quarks.
"""

from diffsim.hadronic import HadronicProcess, PartonicChannel

__all__ = ["PROTON_CHANNELS", "hadronic_process"]

UP_TYPE, DOWN_TYPE = (2, 4), (1, 3, 5)
LIGHT_QUARKS = UP_TYPE + DOWN_TYPE

PROTON_CHANNELS = {
    "t t~": {"g g > t t~": "gluons", "u u~ > t t~": LIGHT_QUARKS},
    "e+ e-": {"u u~ > e+ e-": UP_TYPE, "d d~ > e+ e-": DOWN_TYPE},
}
"""Final state → partonic process → the quark flavours (PDG ids) it serves."""

BEAM_IDS = {"p": 2212, "p~": -2212}


def hadronic_process(model, name: str, process_builder, params=None) -> HadronicProcess:
    """``"p p > X"`` / ``"p p~ > X"`` for the final states in :data:`PROTON_CHANNELS`.

    ``process_builder(name, params)`` builds a partonic process of the model (e.g.
    :func:`diffsim.models.sm.process`); ``params`` defaults to ``model``.
    """
    params = model if params is None else params
    if name.count(">") != 1:
        raise ValueError(f"hadronic process {name!r} must look like 'p p > t t~'")
    initial, final = (" ".join(part.split()) for part in name.split(">"))
    beams = initial.split()
    if len(beams) != 2 or any(b not in BEAM_IDS for b in beams):
        raise ValueError(f"{name!r}: the beams must be 'p p' or 'p p~' (or 'p~ p'), got {initial!r}")
    if final not in PROTON_CHANNELS:
        raise ValueError(
            f"{name!r}: no hadronic channels for final state {final!r}; available: "
            + ", ".join(repr(f) for f in PROTON_CHANNELS)
        )
    channels = []
    for partonic, flavours in PROTON_CHANNELS[final].items():
        process = process_builder(partonic, params)
        if flavours == "gluons":
            channels.append(PartonicChannel(process, ((21, 21),)))
            continue
        channels.append(PartonicChannel(process, tuple((q, -q) for q in flavours)))
        channels.append(PartonicChannel(process, tuple((-q, q) for q in flavours), swapped=True))
    return HadronicProcess(
        f"{initial} > {final}", params, tuple(channels), tuple(BEAM_IDS[b] for b in beams)
    )
