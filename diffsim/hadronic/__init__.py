"""Hadron-collider cross sections: parton luminosities, scales, cuts and the integrand.

:class:`HadronicProcess` sums partonic processes over parton flavours and beam orderings;
:class:`HadronicIntegrand` turns it, with a PDF set, scales and cuts, into a differentiable
function on the unit hypercube whose mean is the cross section in pb.
"""

from diffsim.hadronic.channels import HadronicChannels
from diffsim.hadronic.cuts import Cut
from diffsim.hadronic.events import hadronic_events, sample_colour_flows
from diffsim.hadronic.integrand import HadronicIntegrand, IntegrandPoint, Kinematics
from diffsim.hadronic.observables import (
    AbsRapidity,
    InvariantMass,
    Observable,
    ScalarSumTransverseMass,
    TransverseMomentum,
)
from diffsim.hadronic.process import HadronicProcess, PartonicChannel
from diffsim.hadronic.scales import DynamicScale, FixedScale, Scale

__all__ = [
    "AbsRapidity",
    "Cut",
    "DynamicScale",
    "FixedScale",
    "HadronicChannels",
    "HadronicIntegrand",
    "HadronicProcess",
    "IntegrandPoint",
    "InvariantMass",
    "Kinematics",
    "Observable",
    "PartonicChannel",
    "ScalarSumTransverseMass",
    "Scale",
    "TransverseMomentum",
    "hadronic_events",
    "sample_colour_flows",
]
