"""Physics content built from :mod:`diffsim`: parameter sets and processes.

Installed as ``diffsim.models`` (source folder ``models/``). ``sm`` and ``zprime`` are the
parameter-set modules; each has ``process("a b > c d")`` returning a
:class:`~diffsim.models.process.Process` in MadGraph's particle order::

    from diffsim.models import sm
    gg_ttx = sm.process("g g > t t~")
    me = gg_ttx.matrix_element(momenta)          # (..., 4, 4) GeV → (...,)
"""

from diffsim.models import sm, zprime
from diffsim.models.particles import PARTICLES, Particle
from diffsim.models.process import DiagramTopology, External, Process, SChannel
from diffsim.models.sm import StandardModel
from diffsim.models.zprime import ZPrimeModel

__all__ = [
    "PARTICLES",
    "DiagramTopology",
    "External",
    "Particle",
    "Process",
    "SChannel",
    "StandardModel",
    "ZPrimeModel",
    "sm",
    "zprime",
]
