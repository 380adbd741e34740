"""A differentiable parametric detector and learned transfer functions.

The detector maps hard (parton-level) objects to reconstructed ones with reparametrised
noise, ``x_reco = g(x_hard, ε; θ_det)``, so gradients flow to the hard momenta and to
every detector parameter; the matching transfer density ``W(x_reco | x_hard)`` and a
smooth acceptance feed the matrix-element method (``diffsim.inference.mem``).

- :mod:`~diffsim.detector.coordinates`: the measured coordinates ``(E, η, φ)`` and back;
- :mod:`~diffsim.detector.resolution`: :class:`Resolution`, stochastic/noise/constant terms;
- :mod:`~diffsim.detector.acceptance`: :class:`Acceptance`, sigmoid edges in ``pT`` and ``η``;
- :mod:`~diffsim.detector.response`: :class:`ObjectResponse`, smearing and ``W`` of one
  object type;
- :mod:`~diffsim.detector.detector`: :class:`Detector`, responses per PDG id for whole
  events, with ATLAS-like defaults from the Delphes ATLAS card;
- :mod:`~diffsim.detector.transfer_flow`: :class:`TransferFlow` and
  :func:`fit_transfer_flow`, a conditional flow learned from simulated pairs.
"""

from diffsim.detector.acceptance import Acceptance
from diffsim.detector.coordinates import coordinates, momentum_from_coordinates
from diffsim.detector.detector import Detector, object_type
from diffsim.detector.resolution import Resolution
from diffsim.detector.response import ObjectResponse
from diffsim.detector.transfer_flow import TransferFlow, fit_transfer_flow

__all__ = [
    "Acceptance",
    "Detector",
    "ObjectResponse",
    "Resolution",
    "TransferFlow",
    "coordinates",
    "fit_transfer_flow",
    "momentum_from_coordinates",
    "object_type",
]
