"""The Standard Model plus a neutral Z′ boson (the MadNIS Drell–Yan toy).

The Z′ (``zp``, PDG 32) couples to fermions like the Z, scaled separately for the vector
and axial parts and for quarks and leptons:

    g_V^{Z′} = κ_V g_V^Z,  g_A^{Z′} = κ_A g_A^Z,  with  g_{V,A}^Z = (g_L^Z ± g_R^Z)/2,

so the chiral couplings are ``g_L = κ_V g_V + κ_A g_A``, ``g_R = κ_V g_V − κ_A g_A``. The
defaults ``κ = 1``, ``M_Z′ = 400 GeV``, ``Γ_Z′ = 0.5 GeV`` are the MadNIS toy
(arXiv:2212.06172, sec. 5). The Z′ takes part in ``f f̄ → F F̄`` next to γ and Z when no
gluon is exchanged. All fields are leaves, so gradients w.r.t. the Z′ mass, width and
couplings flow.
"""

import equinox as eqx

from diffsim.models import multiparticles
from diffsim.models.particles import Particle, lookup
from diffsim.models.registry import build_process
from diffsim.models.sm import Scalar, StandardModel

__all__ = ["PROCESSES", "ZPrimeModel", "hadronic_process", "process"]


class ZPrimeModel(eqx.Module):
    """SM parameters (``sm``) plus the Z′ mass, width (GeV) and coupling scale factors."""

    sm: StandardModel = StandardModel()
    mzp: Scalar = 400.0
    wzp: Scalar = 0.5
    kappa_vector_quark: Scalar = 1.0
    kappa_axial_quark: Scalar = 1.0
    kappa_vector_lepton: Scalar = 1.0
    kappa_axial_lepton: Scalar = 1.0

    def with_alpha_s(self, alpha_s: Scalar) -> "ZPrimeModel":
        """The same parameters with the SM's ``αs`` replaced."""
        return eqx.tree_at(lambda m: m.sm.alpha_s, self, alpha_s)

    def mass(self, particle: str | Particle) -> Scalar:
        """Pole mass (GeV); the Z′ mass for ``zp``, otherwise the SM's."""
        particle = lookup(particle) if isinstance(particle, str) else particle
        return self.mzp if particle.name == "zp" else self.sm.mass(particle)

    def width(self, particle: str | Particle) -> Scalar:
        """Total width (GeV); the Z′ width for ``zp``, otherwise the SM's."""
        particle = lookup(particle) if isinstance(particle, str) else particle
        return self.wzp if particle.name == "zp" else self.sm.width(particle)

    def zprime_coupling(self, fermion: Particle) -> tuple[Scalar, Scalar]:
        """``(g_L, g_R)`` of the Z′ to ``fermion`` (module docstring)."""
        left, right = self.sm.z_coupling(fermion)
        vector, axial = (left + right) / 2, (left - right) / 2
        if abs(fermion.colour) == 3:
            kv, ka = self.kappa_vector_quark, self.kappa_axial_quark
        else:
            kv, ka = self.kappa_vector_lepton, self.kappa_axial_lepton
        return kv * vector + ka * axial, kv * vector - ka * axial

    def vector_coupling(self, boson: Particle, fermion: Particle) -> tuple[Scalar, Scalar]:
        """``(g_L, g_R)`` of ``a``, ``z``, ``g`` or ``zp`` to ``fermion``."""
        if boson.name == "zp":
            return self.zprime_coupling(fermion)
        return self.sm.vector_coupling(boson, fermion)

    def annihilation_bosons(self, fermion_in: Particle, fermion_out: Particle) -> tuple[Particle, ...]:
        """The SM's choice, plus the Z′ wherever the Z is exchanged."""
        bosons = self.sm.annihilation_bosons(fermion_in, fermion_out)
        return bosons + ((lookup("zp"),) if lookup("z") in bosons else ())


PROCESSES = ("u u~ > e+ e-", "d d~ > e+ e-")
"""Drell–Yan with γ + Z + Z′ exchange."""


def hadronic_process(name: str, params: ZPrimeModel | None = None):
    """``"p p > e+ e-"`` with γ + Z + Z′, summed over quark flavours and beam orderings."""
    return multiparticles.hadronic_process(ZPrimeModel(), name, process, params)


def process(name: str, params: ZPrimeModel | None = None):
    """The Z′-model process ``name`` (MadGraph syntax); see :data:`PROCESSES`."""
    return build_process(ZPrimeModel() if params is None else params, name, PROCESSES)
