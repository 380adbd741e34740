"""Phase-space mappings: bijections from the unit hypercube to momenta with exact weights.

Every mapping is an ``equinox.Module`` with ``forward(r, …) -> (momenta, log_w)`` and
``inverse(momenta, …) -> (r, log_w)``, where ``log_w`` is the log of the weight of that
point (the same number in both directions) and ``∫ dΦ f = E_r[f(p(r)) w(r)]`` for ``r``
uniform in the unit hypercube. ``dΦ`` follows MadGraph:
``dΦ_n = (2π)^(4-3n) δ⁴(P - Σ p_i) Π d³p_i/(2E_i)``; invariant maps carry the plain
Jacobian ``ds/dr`` and chains insert ``1/(2π)`` per intermediate invariant.
Masses, widths and poles are pytree leaves, so ``jax.grad`` reaches them.
"""

from diffsim.phasespace.beams import PartonFractions, parton_momenta
from diffsim.phasespace.decay_chain import DecayChain, FinalState, Propagator
from diffsim.phasespace.invariants import (
    BreitWignerInvariant,
    FlatInvariant,
    GaussianInvariant,
    InvariantMap,
    MixtureInvariant,
    PowerLawInvariant,
    TabulatedInvariant,
    TruncatedInvariant,
)
from diffsim.phasespace.rambo import RamboOnDiet, massless_volume
from diffsim.phasespace.tchannel import TChannel
from diffsim.phasespace.twobody import TwoBodyDecay

__all__ = [
    "BreitWignerInvariant",
    "DecayChain",
    "FinalState",
    "FlatInvariant",
    "GaussianInvariant",
    "InvariantMap",
    "MixtureInvariant",
    "PartonFractions",
    "PowerLawInvariant",
    "Propagator",
    "RamboOnDiet",
    "TChannel",
    "TabulatedInvariant",
    "TruncatedInvariant",
    "TwoBodyDecay",
    "massless_volume",
    "parton_momenta",
]
