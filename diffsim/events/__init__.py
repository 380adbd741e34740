"""Events and Les Houches event files.

:class:`Events` is a batch of events as one pytree of padded, masked arrays (GeV, LHEF
conventions); :class:`RunInfo` is the run-level ``<init>`` information. :func:`read_lhe`,
:func:`iter_lhe` and :class:`LHEReader` read LHE files (plain or gzip, any multiplicity mix);
:func:`write_lhe` and :class:`LHEWriter` write LHEF 1.0 / 3.0 files atomically, in constant
memory, bit-exact, and can resume an interrupted file.
"""

from diffsim.events.lhe_reader import LHEReader, iter_lhe, read_lhe, read_run_info
from diffsim.events.lhe_writer import LHEWriter, write_lhe
from diffsim.events.record import Events
from diffsim.events.run_info import ProcessInfo, RunInfo

__all__ = [
    "Events",
    "LHEReader",
    "LHEWriter",
    "ProcessInfo",
    "RunInfo",
    "iter_lhe",
    "read_lhe",
    "read_run_info",
    "write_lhe",
]
