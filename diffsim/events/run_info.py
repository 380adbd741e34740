"""Run-level information of an event sample: the LHEF ``<init>`` block.

Beams, parton densities, the weighting strategy and one entry per process with its cross
section. It describes a whole sample rather than any event, so it is kept apart from
:class:`~diffsim.events.Events`: readers return it beside the events and writers take it as
an argument. All fields are static (plain Python numbers), so a ``RunInfo`` is hashable and
can be passed to a jitted function as a static argument.
"""

import math

import equinox as eqx

__all__ = ["ProcessInfo", "RunInfo"]

_WEIGHTING_STRATEGIES = (-4, -3, -2, -1, 1, 2, 3, 4)


def _int_pair(value) -> tuple[int, int]:
    pair = tuple(value)
    if len(pair) != 2:
        raise ValueError(f"expected a pair (beam 1, beam 2), got {value!r}")
    return (int(pair[0]), int(pair[1]))


def _float_pair(value) -> tuple[float, float]:
    pair = tuple(value)
    if len(pair) != 2:
        raise ValueError(f"expected a pair (beam 1, beam 2), got {value!r}")
    return (float(pair[0]), float(pair[1]))


class ProcessInfo(eqx.Module):
    """One process of the ``<init>`` block (one ``XSECUP XERRUP XMAXUP LPRUP`` line).

    Attributes:
        process_id: ``LPRUP``, the id that events of this process carry (``IDPRUP``).
        cross_section: ``XSECUP`` in pb.
        error: ``XERRUP``, the statistical error of ``cross_section`` in pb.
        max_weight: ``XMAXUP``, the maximum event weight (the unit weight for
            ``weighting_strategy`` ±3, ±4), in the units of the event weights.
    """

    process_id: int = eqx.field(static=True, converter=int)
    cross_section: float = eqx.field(static=True, converter=float)
    error: float = eqx.field(static=True, converter=float)
    max_weight: float = eqx.field(static=True, converter=float)


class RunInfo(eqx.Module):
    """The LHEF ``<init>`` block: beams, PDFs, weighting strategy and processes.

    Attributes:
        beam_ids: ``IDBMUP``, PDG ids of the two beams (beam 1 along +z), e.g. ``(2212, 2212)``.
        beam_energies: ``EBMUP``, the beam energies in GeV.
        pdf_groups: ``PDFGUP``, PDFLIB group ids of the two beams (0 or -1 when unused).
        pdf_sets: ``PDFSUP``, PDF set ids (LHAPDF ids in current practice; 0 or -1 if unset).
        weighting_strategy: ``IDWTUP`` in ±1…±4: 3 for unweighted events of weight +1,
            -4/+4 for weighted events whose mean weight is the cross section in pb, see
            hep-ph/0609017 and the Les Houches accord, hep-ph/0109068.
        processes: one :class:`ProcessInfo` per process (``NPRUP`` of them, at least one,
            with distinct ids).
    """

    beam_ids: tuple[int, int] = eqx.field(static=True, converter=_int_pair)
    beam_energies: tuple[float, float] = eqx.field(static=True, converter=_float_pair)
    pdf_groups: tuple[int, int] = eqx.field(static=True, converter=_int_pair)
    pdf_sets: tuple[int, int] = eqx.field(static=True, converter=_int_pair)
    weighting_strategy: int = eqx.field(static=True, converter=int)
    processes: tuple[ProcessInfo, ...] = eqx.field(static=True, converter=tuple)

    def __check_init__(self):
        if self.weighting_strategy not in _WEIGHTING_STRATEGIES:
            raise ValueError(
                f"weighting_strategy (IDWTUP) must be one of {_WEIGHTING_STRATEGIES}, "
                f"got {self.weighting_strategy}"
            )
        if not self.processes:
            raise ValueError("RunInfo needs at least one process (NPRUP >= 1)")
        for process in self.processes:
            if not isinstance(process, ProcessInfo):
                raise TypeError(f"processes must be ProcessInfo objects, got {type(process).__name__}")
        ids = [process.process_id for process in self.processes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"process ids must be distinct, got {ids}")

    @property
    def process_ids(self) -> tuple[int, ...]:
        """The declared process ids (``LPRUP``) in order."""
        return tuple(process.process_id for process in self.processes)

    @property
    def cross_section(self) -> float:
        """Total cross section in pb: the sum over processes."""
        return math.fsum(process.cross_section for process in self.processes)

    @property
    def cross_section_error(self) -> float:
        """Error of :attr:`cross_section` in pb (process errors added in quadrature)."""
        return math.sqrt(math.fsum(process.error**2 for process in self.processes))
