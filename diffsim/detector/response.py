"""The parametric response of the detector to one type of object, and its transfer density.

A hard (parton-level) object of energy ``E``, pseudorapidity ``η`` and azimuth ``φ`` is
measured as (reparametrised sampling, ``ε ~ N(0, 1³)``):

    E_reco = E + σ_E(E) ε₀,   η_reco = η + σ_η ε₁,   φ_reco = φ + σ_φ ε₂  (mod 2π),

with ``σ_E`` from :class:`~diffsim.detector.resolution.Resolution`; the reconstructed
four-momentum keeps the hard mass (zero for ``massless`` objects such as leptons and
photons) and is rebuilt by :func:`~diffsim.detector.coordinates.momentum_from_coordinates`.
So ``x_reco = g(x_hard, ε; detector parameters)`` is differentiable in all three.

The matching transfer function is the density of ``x = (E, η, φ)_reco`` given the hard
object, a product of Gaussians [GeV⁻¹]:

    W(x_reco | x_hard) = N(E_reco; E, σ_E(E)) · N(η_reco; η, σ_η) · N(Δφ; 0, σ_φ),

with ``Δφ = φ_reco − φ`` wrapped into ``[−π, π)``. It is normalised over
``E ∈ ℝ, η ∈ ℝ, φ ∈ (−π, π]`` up to two documented approximations: the wrapped normal is
replaced by its nearest image (exact up to ``exp(−π²/(2σ_φ²))``, i.e. nothing for
``σ_φ ≲ 0.5``), and the Gaussian tail of ``E_reco`` below the mass (``E_reco ≤ m``, where
the rebuilt three-momentum is zero and ``η, φ`` are lost) is kept in the density although
such a momentum has no direction, a probability ``Φ(−(E − m)/σ_E)`` that is negligible for
any physical object (below 1e-20 for a 10 GeV electron with the default resolution).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.detector.acceptance import Acceptance
from diffsim.detector.coordinates import (
    check_momenta,
    coordinates,
    momentum_from_coordinates,
)
from diffsim.detector.parameters import as_parameter, checked, validate_parameter
from diffsim.detector.resolution import Resolution
from diffsim.kinematics import delta_phi, mass_squared

__all__ = ["ObjectResponse", "gaussian_log_density"]


def gaussian_log_density(x: Array, sigma: Array) -> Array:
    """``log N(x; 0, σ)`` = ``−x²/(2σ²) − log σ − ½ log 2π``."""
    return -0.5 * (x / sigma) ** 2 - jnp.log(sigma) - 0.5 * math.log(2 * math.pi)


class ObjectResponse(eqx.Module):
    """Smearing and transfer density of one object type (module docstring).

    Attributes:
        resolution: the energy resolution ``σ_E(E)``.
        sigma_eta: pseudorapidity resolution ``σ_η`` (positive).
        sigma_phi: azimuthal resolution ``σ_φ`` [rad] (positive).
        acceptance: the smooth efficiency in ``pT`` and ``η``.
        massless: static; if true the reconstructed object is massless (``|p⃗| = E_reco``),
            otherwise it keeps the hard invariant mass.
    """

    resolution: Resolution
    sigma_eta: Array = eqx.field(converter=as_parameter)
    sigma_phi: Array = eqx.field(converter=as_parameter)
    acceptance: Acceptance
    massless: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        if not isinstance(self.resolution, Resolution):
            raise TypeError(f"resolution must be a Resolution, got {type(self.resolution).__name__}")
        if not isinstance(self.acceptance, Acceptance):
            raise TypeError(f"acceptance must be an Acceptance, got {type(self.acceptance).__name__}")
        validate_parameter(self.sigma_eta, "ObjectResponse.sigma_eta", positive=True)
        validate_parameter(self.sigma_phi, "ObjectResponse.sigma_phi", positive=True)

    def sigmas(self, energy: Float[Array, "*batch"]) -> tuple[Array, Array, Array]:
        """``(σ_E(E) [GeV], σ_η, σ_φ [rad])`` at the hard ``energy`` (in its dtype)."""
        return (
            self.resolution.sigma(energy),
            checked(self.sigma_eta, "ObjectResponse.sigma_eta", positive=True, dtype=energy.dtype),
            checked(self.sigma_phi, "ObjectResponse.sigma_phi", positive=True, dtype=energy.dtype),
        )

    def _reco_mass_squared(self, p_hard: Array) -> Array:
        return jnp.zeros_like(p_hard[..., 0]) if self.massless else mass_squared(p_hard)

    def smear_with_noise(
        self, p_hard: Float[Array, "*batch 4"], eps: Float[Array, "*batch 3"]
    ) -> Float[Array, "*batch 4"]:
        """Reconstructed momenta ``g(p_hard, eps)`` [GeV] from standard-normal ``eps``
        ``(..., 3)`` = ``(ε_E, ε_η, ε_φ)`` (module docstring); batch axes broadcast.
        Differentiable w.r.t. ``p_hard``, ``eps`` and every detector parameter."""
        p_hard = check_momenta(p_hard, "p_hard")
        eps = jnp.asarray(eps, p_hard.dtype)
        if eps.ndim < 1 or eps.shape[-1] != 3:
            raise ValueError(f"eps must have shape (..., 3) = (ε_E, ε_η, ε_φ), got {eps.shape}")
        energy, eta, azimuth = coordinates(p_hard)
        sigma_e, sigma_eta, sigma_phi = self.sigmas(energy)
        return momentum_from_coordinates(
            energy + sigma_e * eps[..., 0],
            eta + sigma_eta * eps[..., 1],
            azimuth + sigma_phi * eps[..., 2],
            self._reco_mass_squared(p_hard),
        )

    def smear(self, key: PRNGKeyArray, p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch 4"]:
        """Draw reconstructed momenta for ``p_hard`` ``(..., 4)``: ``eps`` is
        ``jax.random.normal(key, (..., 3))`` in the dtype of ``p_hard``, then
        :meth:`smear_with_noise`."""
        p_hard = check_momenta(p_hard, "p_hard")
        eps = jax.random.normal(key, p_hard.shape[:-1] + (3,), p_hard.dtype)
        return self.smear_with_noise(p_hard, eps)

    def log_transfer(
        self, p_reco: Float[Array, "*batch 4"], p_hard: Float[Array, "*batch 4"]
    ) -> Float[Array, "*batch"]:
        """``log W(x_reco | x_hard)``, the density of the reconstructed ``(E, η, φ)``
        [GeV⁻¹] (module docstring for the formula and normalisation); batch axes broadcast."""
        p_reco = check_momenta(p_reco, "p_reco")
        p_hard = check_momenta(p_hard, "p_hard")
        energy = p_hard[..., 0]
        sigma_e, sigma_eta, sigma_phi = self.sigmas(energy)
        reco_energy, reco_eta, _ = coordinates(p_reco)
        _, hard_eta, _ = coordinates(p_hard)
        return (
            gaussian_log_density(reco_energy - energy, sigma_e)
            + gaussian_log_density(reco_eta - hard_eta, sigma_eta)
            + gaussian_log_density(delta_phi(p_reco, p_hard), sigma_phi)
        )

    def efficiency(self, p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch"]:
        """The acceptance × efficiency ``ε(p_hard)`` (:class:`~diffsim.detector.acceptance.Acceptance`)."""
        return self.acceptance.efficiency(p_hard)

    def log_efficiency(self, p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch"]:
        """``log ε(p_hard)``."""
        return self.acceptance.log_efficiency(p_hard)
