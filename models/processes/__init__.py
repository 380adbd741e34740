"""Families of tree-level processes, each enumerating its own diagrams."""

from diffsim.models.processes.annihilation import FermionPairAnnihilation
from diffsim.models.processes.quark_line import QuarkLineWithGluons

__all__ = ["FermionPairAnnihilation", "QuarkLineWithGluons"]
