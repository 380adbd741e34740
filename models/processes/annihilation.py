"""Fermion-pair annihilation through s-channel vector bosons, ``f f̄ → F F̄``.

One diagram per exchanged boson ``V``: the incoming pair forms the off-shell current
``J_V = <f̄| γ^μ (g_L P_L + g_R P_R) |f> / (s − M_V² + i M_V Γ_V)`` (HELAS/ALOHA
conventions), which is closed on the outgoing pair. With colourless bosons (γ, Z, Z′) this
is ``e⁺e⁻ → μ⁺μ⁻``, ``e⁺e⁻ → tt̄`` or Drell–Yan ``qq̄ → ℓ⁺ℓ⁻``; with the gluon it is
``qq̄ → QQ̄`` at order αs² (colour ``T^a_{ji} T^a_{kl}``). Which bosons are exchanged is the
model's choice (:meth:`couplings` of the parameter set), matching MadGraph's default of
the lowest order in the electroweak coupling.

**Couplings and propagators factored out of the kernels.** The vertex is linear in its
chiral couplings, ``Γ(g_L, g_R) = g_L Γ(1, 0) + g_R Γ(0, 1)``, and a boson of mass ``M``
differs from a massless one by the scalar ``s/(s − M² + iMΓ)`` times its numerator
``−g^{μν} + P^μP^ν/M²``, whose ``P^μP^ν`` part vanishes if either fermion line is
massless (``P·J = 0`` there). So each boson's amplitude is

    A_V = s/(s − M_V² + i M_V Γ_V) · Σ_{χχ'} g^{in}_{V,χ} g^{out}_{V,χ'} K_{χχ'},

with ``K_{χχ'}`` the amplitude of unit chiral couplings through a massless propagator,
computed once for all bosons (two currents and two closings however many bosons there
are), and returned as :class:`~diffsim.models.process.FactoredAmplitudes`. A massless line
conserves chirality, so where every chiral split of the kernels is on a massless line
(``e⁺e⁻ → μ⁺μ⁻``, Drell–Yan, ``qq̄ → QQ̄``) no two kernels overlap in a helicity
configuration: the helicity sum needs only each kernel's summed square, and the couplings,
boson masses and widths enter |M|² after it, through per-event numbers alone, so the
derivatives w.r.t. them cost about the value again (see
:func:`~diffsim.models.process._forward_parameter_derivatives`). A massive boson between
two massive lines keeps its full propagator.
"""

from collections.abc import Sequence

import numpy as np

from diffsim.amplitudes.propagators import is_static_zero, propagator_ratio
from diffsim.amplitudes.split import as_split
from diffsim.amplitudes.vertices import (
    couplings_equal,
    ffv_amplitude_wave,
    ffv_chiral_amplitudes_wave,
    ffv_vector_current_wave,
)
from diffsim.models.colour import T, colour_matrix
from diffsim.models.colour_flows import basis_colour_tags
from diffsim.models.particles import Particle
from diffsim.models.process import (
    DiagramTopology,
    External,
    FactoredAmplitudes,
    Process,
    SChannel,
    colour_factorisation,
    structurally_massless,
)

__all__ = ["FermionPairAnnihilation"]


def _fermion_first(pair: Sequence[int], externals: Sequence[External]) -> tuple[int, int]:
    """Positions of (particle, antiparticle) within a fermion pair."""
    first, second = pair
    return (second, first) if externals[first].particle.is_antiparticle else (first, second)


def _colour_tensor(externals, boson: Particle, incoming, outgoing) -> np.ndarray:
    """Colour of one diagram as a tensor over the coloured legs in process order.

    Gluon: incoming quark ``i`` and antiquark ``j`` give ``T^a_{ji}``, outgoing quark ``k``
    and antiquark ``l`` give ``T^a_{kl}``. Colourless boson: ``δ`` within each quark pair.
    """
    coloured = [i for i, e in enumerate(externals) if abs(e.particle.colour) == 3]
    if not coloured:
        return np.ones(())
    letters = dict(zip(coloured, "ijkl"))
    (q_in, qbar_in), (q_out, qbar_out) = incoming, outgoing
    if boson.colour == 8:
        specs = [f"a{letters[qbar_in]}{letters[q_in]}", f"a{letters[q_out]}{letters[qbar_out]}"]
        operands = [T, T]
    else:
        pairs = [(q, qbar) for q, qbar in (incoming, outgoing) if q in letters]
        specs = [f"{letters[q]}{letters[qbar]}" for q, qbar in pairs]
        operands = [np.eye(3)] * len(pairs)
    return np.einsum(",".join(specs) + "->" + "".join(letters[i] for i in coloured), *operands)


class FermionPairAnnihilation(Process):
    """``f f̄ → F F̄`` (either incoming order) via the s-channel bosons ``bosons``."""

    bosons: tuple[Particle, ...] = ()
    incoming_pair: tuple[int, int] = (0, 1)
    outgoing_pair: tuple[int, int] = (2, 3)

    def __init__(self, model, name: str, externals: Sequence[External], bosons: Sequence[Particle]):
        self.model = model
        self.name = name
        self.externals = tuple(externals)
        self.bosons = tuple(bosons)
        self.incoming_pair = _fermion_first((0, 1), self.externals)
        self.outgoing_pair = _fermion_first((2, 3), self.externals)
        self.term_diagram = tuple(range(len(self.bosons)))
        tensors = [_colour_tensor(self.externals, b, self.incoming_pair, self.outgoing_pair) for b in self.bosons]
        self.colour = colour_matrix(tensors)
        self.colour_tags = basis_colour_tags(tensors, colour_factorisation(self.colour).basis, self.pdg_ids)
        self.diagrams = tuple(DiagramTopology(s_channels=(SChannel(b, (2, 3)),)) for b in self.bosons)

    def chirality_pairs(self):
        """Each massless fermion pair: its vertex is vector-like and has no propagator."""
        return tuple(
            pair
            for pair in (self.incoming_pair, self.outgoing_pair)
            if all(structurally_massless(self.model, self.externals[i].particle) for i in pair)
        )

    def term_amplitudes(self, model, waves):
        """The bosons' amplitudes as :class:`~diffsim.models.process.FactoredAmplitudes`:
        kernels ``K_{χχ'}`` of unit chiral couplings through a massless propagator, shared by
        the factored bosons, with per-event coefficients ``g_χ g'_χ' s/(s − M² + iMΓ)``; a
        boson that keeps its full propagator is a kernel of its own."""
        fermion_in, _ = (self.externals[i].particle for i in self.incoming_pair)
        fermion_out, _ = (self.externals[i].particle for i in self.outgoing_pair)
        # Incoming line <f̄| Γ |f>: the antifermion's oxxxxx closes the fermion's ixxxxx.
        bra_in, ket_in = waves[self.incoming_pair[1]], waves[self.incoming_pair[0]]
        # Outgoing line <F| Γ |F̄>.
        bra_out, ket_out = waves[self.outgoing_pair[0]], waves[self.outgoing_pair[1]]
        couplings = [(model.vector_coupling(b, fermion_in), model.vector_coupling(b, fermion_out)) for b in self.bosons]
        massless_line = bool(self.chirality_pairs())
        factored = [is_static_zero(model.mass(b)) or massless_line for b in self.bosons]
        shared = [g for f, g in zip(factored, couplings) if f]
        # The kernel basis: in-line chiralities (L, R) unless every factored boson couples
        # vector-like there, out-line chiral halves (left, right) likewise.
        chiral_in = any(not couplings_equal(*g_in) for g_in, _ in shared)
        chiral_out = any(not couplings_equal(*g_out) for _, g_out in shared)
        units = ((1.0, 0.0), (0.0, 1.0)) if chiral_in else ((1.0, 1.0),)
        # A massless line conserves chirality: kernels of opposite chirality on it are never
        # both non-zero in one helicity configuration.
        conserved = [pair in self.chirality_pairs() for pair in (self.incoming_pair, self.outgoing_pair)]
        kernels, classes, flow = [], [], None
        for i, unit in enumerate(units if shared else ()):
            current = ffv_vector_current_wave(bra_in, ket_in, *unit, 0.0, 0.0)
            left, right = ffv_chiral_amplitudes_wave(bra_out, ket_out, current)
            kernels.extend((left, right) if chiral_out else (left + right,))
            for j in range(2 if chiral_out else 1):
                classes.append((i if chiral_in and conserved[0] else None, j if chiral_out and conserved[1] else None))
            flow = current.momentum  # the pair's total momentum, as for every current

        coefficients = []
        for boson, (g_in, g_out), is_factored in zip(self.bosons, couplings, factored):
            mass, width = model.mass(boson), model.width(boson)
            if not is_factored:
                current = ffv_vector_current_wave(bra_in, ket_in, *g_in, mass, width)
                kernels.append(ffv_amplitude_wave(bra_out, ket_out, current, *g_out))
                classes.append((None, None))
                coefficients.append(((len(kernels) - 1, as_split(1.0)),))
                continue
            ratio = None if is_static_zero(mass) else propagator_ratio(flow, mass, width)
            pairs = []
            for i, g in enumerate(g_in if chiral_in else g_in[:1]):
                for j, g_closing in enumerate(g_out if chiral_out else g_out[:1]):
                    coefficient = as_split(g) * as_split(g_closing)
                    if ratio is not None:
                        coefficient = coefficient * ratio
                    pairs.append((i * (2 if chiral_out else 1) + j, coefficient))
            coefficients.append(tuple(pairs))
        return FactoredAmplitudes(tuple(kernels), tuple(coefficients), tuple(classes))
