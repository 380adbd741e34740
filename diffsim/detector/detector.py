"""A whole detector: one :class:`~diffsim.detector.response.ObjectResponse` per object type.

Events are ``(..., n, 4)`` momenta in MadGraph's process order with a static tuple of
``n`` PDG ids; the first ``n_incoming`` rows (the beams) pass through unchanged. Final-state
particles are dispatched on ``|PDG id|``: 11 → electron, 13 → muon, 22 → photon,
light quarks 1–5 and the gluon 21 → jet. Neutrinos (12, 14, 16) are invisible: they pass
through unchanged and contribute neither to the transfer density nor to the efficiency
(their momenta are what a MEM integrates over). Any other final-state id (top quarks,
which decay before detection, taus, bosons, BSM states) raises ``ValueError``; the ids of
incoming rows are not interpreted.

:meth:`Detector.default` is an ATLAS-like detector with the numbers of the Delphes ATLAS
card (``cards/delphes_card_ATLAS.tcl`` of Delphes 3, de Favereau et al., JHEP 02 (2014)
057, arXiv:1307.6346; the calorimeter terms there are from the ATLAS detector paper,
JINST 3 (2008) S08003):

- electrons and photons: ECal ``σ_E = sqrt(E² 0.0017² + E 0.101²)`` (``|η| <= 3.2``), i.e.
  ``a = 0.101 √GeV, b = 0, c = 0.0017``; ``pT > 10 GeV``, ``|η| < 2.5``
  (``ElectronEfficiency``/``PhotonEfficiency``); angles from the ECal towers
  ``Δη × Δφ = 0.0174 × 1°`` with the tower centre smeared uniformly, ``σ = Δ/√12``.
- muons: the constant part of ``MuonMomentumSmearing`` for ``0.5 < |η| <= 1.5``,
  ``c = 0.015`` (its sagitta term ``1.5e-4 · pT``, i.e. 0.7 % at 45 GeV, grows with ``pT`` and
  is not representable in the calorimeter form, so it is omitted); ``pT > 10 GeV``,
  ``|η| < 2.7`` (``MuonEfficiency``); Delphes does not smear track directions, we use a
  nominal 1 mrad (a density needs ``σ > 0``).
- jets: barrel HCal ``σ_E = sqrt(E² 0.0302² + E 0.5205² + 1.59²)`` (``|η| <= 1.7``), i.e.
  ``a = 0.5205 √GeV, b = 1.59 GeV, c = 0.0302``; ``pT > 20 GeV`` (``JetPTMin``),
  ``|η| < 4.9`` (HCal coverage); angles from the HCal towers ``Δη × Δφ = 0.1 × 10°``,
  ``σ = Δ/√12``.

The widths of the smooth acceptance edges (1 GeV in ``pT``, 0.05 in ``η``) are our
choice, not the card's (Delphes cuts are hard); the card's plateau efficiencies (0.85–0.95)
are not modelled (see :mod:`~diffsim.detector.acceptance`).
"""

import math
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.detector.acceptance import Acceptance
from diffsim.detector.coordinates import check_momenta
from diffsim.detector.resolution import Resolution
from diffsim.detector.response import ObjectResponse

__all__ = ["Detector", "object_type"]

OBJECT_TYPES = ("electron", "muon", "photon", "jet")
_TYPE_OF = {11: "electron", 13: "muon", 22: "photon", 21: "jet", 1: "jet", 2: "jet", 3: "jet", 4: "jet", 5: "jet"}
INVISIBLE = frozenset({12, 14, 16})

_ECAL_ETA, _ECAL_PHI = 0.0174, math.pi / 180
_HCAL_ETA, _HCAL_PHI = 0.1, math.pi / 18
_SQRT12 = math.sqrt(12.0)
PT_WIDTH = 1.0
"""Default width of the smooth ``pT`` turn-on [GeV] (our choice)."""
ETA_WIDTH = 0.05
"""Default width of the smooth ``|η|`` edge (our choice)."""


def object_type(pid: int) -> str | None:
    """``"electron"``, ``"muon"``, ``"photon"`` or ``"jet"`` for a visible PDG id, ``None``
    for a neutrino; ``ValueError`` for anything else (module docstring)."""
    if isinstance(pid, bool) or not isinstance(pid, numbers.Integral):
        raise TypeError(f"PDG ids must be Python ints (static), got {pid!r} of type {type(pid).__name__}")
    code = abs(int(pid))
    if code in INVISIBLE:
        return None
    if code not in _TYPE_OF:
        hint = " (top quarks decay before detection: decay them first)" if code == 6 else ""
        raise ValueError(
            f"no detector response for PDG id {pid}{hint}; known: ±11 electron, ±13 muon, "
            f"22 photon, ±1…±5 and 21 jet, ±12/±14/±16 invisible"
        )
    return _TYPE_OF[code]


class Detector(eqx.Module):
    """Responses for electrons, muons, photons and jets (module docstring)."""

    electron: ObjectResponse
    muon: ObjectResponse
    photon: ObjectResponse
    jet: ObjectResponse

    def __check_init__(self):
        for name in OBJECT_TYPES:
            if not isinstance(getattr(self, name), ObjectResponse):
                raise TypeError(f"Detector.{name} must be an ObjectResponse, got {type(getattr(self, name)).__name__}")

    @classmethod
    def default(cls) -> "Detector":
        """The ATLAS-like detector of the Delphes ATLAS card (module docstring)."""
        ecal = Resolution(0.101, 0.0, 0.0017)
        electron = ObjectResponse(ecal, _ECAL_ETA / _SQRT12, _ECAL_PHI / _SQRT12,
                                  Acceptance(10.0, 2.5, PT_WIDTH, ETA_WIDTH), massless=True)
        photon = ObjectResponse(ecal, _ECAL_ETA / _SQRT12, _ECAL_PHI / _SQRT12,
                                Acceptance(10.0, 2.5, PT_WIDTH, ETA_WIDTH), massless=True)
        muon = ObjectResponse(Resolution(0.0, 0.0, 0.015), 1e-3, 1e-3,
                              Acceptance(10.0, 2.7, PT_WIDTH, ETA_WIDTH), massless=True)
        jet = ObjectResponse(Resolution(0.5205, 1.59, 0.0302), _HCAL_ETA / _SQRT12, _HCAL_PHI / _SQRT12,
                             Acceptance(20.0, 4.9, PT_WIDTH, ETA_WIDTH))
        return cls(electron, muon, photon, jet)

    def response(self, pid: int) -> ObjectResponse:
        """The :class:`ObjectResponse` for PDG id ``pid`` (``ValueError`` for neutrinos and
        unknown ids)."""
        kind = object_type(pid)
        if kind is None:
            raise ValueError(f"PDG id {pid} is a neutrino: invisible, it has no detector response")
        return getattr(self, kind)

    # -- events ---------------------------------------------------------------------------
    def _visible(self, momenta, pdg_ids, n_incoming: int) -> tuple[Array, list[tuple[int, ObjectResponse]]]:
        """Validated momenta and the ``(row, response)`` of every visible final-state particle."""
        momenta = check_momenta(momenta, "momenta")
        if isinstance(pdg_ids, jax.Array) or not isinstance(pdg_ids, tuple | list):
            raise TypeError(f"pdg_ids must be a static tuple of ints, got {type(pdg_ids).__name__}")
        if momenta.ndim < 2 or momenta.shape[-2] != len(pdg_ids):
            raise ValueError(f"momenta must have shape (..., {len(pdg_ids)}, 4) for {len(pdg_ids)} PDG ids, "
                             f"got {momenta.shape}")
        if isinstance(n_incoming, bool) or not isinstance(n_incoming, int) or not 0 <= n_incoming <= len(pdg_ids):
            raise ValueError(f"n_incoming must be an int in [0, {len(pdg_ids)}], got {n_incoming!r}")
        kinds = {i: object_type(pdg_ids[i]) for i in range(n_incoming, len(pdg_ids))}  # final state only
        return momenta, [(i, getattr(self, kind)) for i, kind in kinds.items() if kind is not None]

    def smear_with_noise(
        self, momenta: Float[Array, "*batch n 4"], eps: Float[Array, "*batch n 3"], pdg_ids, *, n_incoming: int = 2
    ) -> Float[Array, "*batch n 4"]:
        """Reconstructed events from standard-normal ``eps`` ``(..., n, 3)``, one row per
        particle (rows of incoming and invisible particles are ignored): each visible
        final-state row goes through its :meth:`ObjectResponse.smear_with_noise`, the rest
        pass through unchanged."""
        momenta, rows = self._visible(momenta, pdg_ids, n_incoming)
        eps = jnp.asarray(eps, momenta.dtype)
        if eps.shape[-2:] != (momenta.shape[-2], 3):
            raise ValueError(f"eps must have shape (..., {momenta.shape[-2]}, 3), got {eps.shape}")
        batch = jnp.broadcast_shapes(momenta.shape[:-2], eps.shape[:-2])
        out = [jnp.broadcast_to(momenta[..., i, :], batch + (4,)) for i in range(momenta.shape[-2])]
        for i, response in rows:
            out[i] = response.smear_with_noise(momenta[..., i, :], eps[..., i, :])
        return jnp.stack(out, axis=-2)

    def smear(
        self, key: PRNGKeyArray, momenta: Float[Array, "*batch n 4"], pdg_ids, *, n_incoming: int = 2
    ) -> Float[Array, "*batch n 4"]:
        """Draw reconstructed events: ``eps = jax.random.normal(key, (..., n, 3))`` in the
        dtype of ``momenta``, then :meth:`smear_with_noise`."""
        momenta = check_momenta(momenta, "momenta")
        eps = jax.random.normal(key, momenta.shape[:-1] + (3,), momenta.dtype)
        return self.smear_with_noise(momenta, eps, pdg_ids, n_incoming=n_incoming)

    def log_transfer(
        self, p_reco: Float[Array, "*batch n 4"], p_hard: Float[Array, "*batch n 4"], pdg_ids, *, n_incoming: int = 2
    ) -> Float[Array, "*batch"]:
        """``Σ log W(x_reco,i | x_hard,i)`` over the visible final-state objects [density in
        ``(E, η, φ)`` of each, GeV⁻¹ per object]; batch axes broadcast."""
        p_hard, rows = self._visible(p_hard, pdg_ids, n_incoming)
        p_reco = check_momenta(p_reco, "p_reco")
        if p_reco.shape[-2:] != p_hard.shape[-2:]:
            raise ValueError(f"p_reco must have shape (..., {p_hard.shape[-2]}, 4), got {p_reco.shape}")
        batch = jnp.broadcast_shapes(p_reco.shape[:-2], p_hard.shape[:-2])
        total = jnp.zeros(batch, jnp.result_type(p_reco, p_hard))
        for i, response in rows:
            total = total + response.log_transfer(p_reco[..., i, :], p_hard[..., i, :])
        return total

    def log_efficiency(
        self, p_hard: Float[Array, "*batch n 4"], pdg_ids, *, n_incoming: int = 2
    ) -> Float[Array, "*batch"]:
        """``Σ log ε_i(p_hard,i)`` over the visible final-state objects: the log of the
        probability that the whole event is accepted."""
        p_hard, rows = self._visible(p_hard, pdg_ids, n_incoming)
        total = jnp.zeros(p_hard.shape[:-2], p_hard.dtype)
        for i, response in rows:
            total = total + response.log_efficiency(p_hard[..., i, :])
        return total

    def efficiency(self, p_hard: Float[Array, "*batch n 4"], pdg_ids, *, n_incoming: int = 2) -> Float[Array, "*batch"]:
        """The event acceptance ``Π ε_i`` = ``exp(log_efficiency)``."""
        return jnp.exp(self.log_efficiency(p_hard, pdg_ids, n_incoming=n_incoming))
