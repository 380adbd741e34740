"""The detector's measured coordinates ``(E, η, φ)`` of a four-momentum, and back.

A calorimeter or tracker measures an energy and a direction. The detector response
(:mod:`diffsim.detector.response`) and the learned transfer functions
(:mod:`diffsim.detector.transfer_flow`) therefore work in the coordinates
``x = (E, η, φ)``: energy (GeV), pseudorapidity and azimuth (radians), taken from
:mod:`diffsim.kinematics` (finite gradients at their boundaries). The inverse map,
:func:`momentum_from_coordinates`, rebuilds ``(E, px, py, pz)`` with a given mass:

    |p⃗| = sqrt(E² − m²),  pT = |p⃗| / cosh η,  (px, py, pz) = (pT cos φ, pT sin φ, |p⃗| tanh η).

For ``E² <= m²`` (a smeared energy below the mass, in the far Gaussian tail) the
three-momentum is zero, with zero gradient (:func:`~diffsim.kinematics.safe_sqrt`).
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.kinematics import phi, pseudorapidity, safe_sqrt

__all__ = ["check_momenta", "coordinates", "momentum_from_coordinates"]


def check_momenta(p, name: str) -> Array:
    """``p`` as a floating-point array with last axis 4 (``ValueError``/``TypeError`` otherwise)."""
    p = jnp.asarray(p)
    if p.ndim < 1 or p.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (..., 4) = (E, px, py, pz), got {p.shape}")
    if not jnp.issubdtype(p.dtype, jnp.floating):
        raise TypeError(f"{name} must be floating point, got {p.dtype}")
    return p


def coordinates(p: Float[Array, "*batch 4"]) -> tuple[Float[Array, "*batch"], ...]:
    """The measured coordinates ``(E [GeV], η, φ [rad] in (−π, π])`` of ``p``."""
    return p[..., 0], pseudorapidity(p), phi(p)


def momentum_from_coordinates(
    energy: Float[Array, "*batch"],
    eta: Float[Array, "*batch"],
    azimuth: Float[Array, "*batch"],
    mass_squared: Float[Array, "*batch"],
) -> Float[Array, "*batch 4"]:
    """The four-momentum ``(E, px, py, pz)`` (GeV) with energy ``energy``, direction
    ``(eta, azimuth)`` and invariant mass squared ``mass_squared`` (GeV²); see the module
    docstring for the formula and the ``E² <= m²`` case."""
    energy, eta, azimuth, mass_squared = jnp.broadcast_arrays(energy, eta, azimuth, mass_squared)
    momentum = safe_sqrt(energy**2 - mass_squared)
    transverse = momentum / jnp.cosh(eta)
    return jnp.stack(
        [energy, transverse * jnp.cos(azimuth), transverse * jnp.sin(azimuth), momentum * jnp.tanh(eta)],
        axis=-1,
    )
