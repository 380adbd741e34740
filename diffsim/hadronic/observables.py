"""Observables of final-state momenta, for scales and cuts.

Each observable is an ``equinox.Module`` called on lab-frame momenta ``(..., n, 4)`` (GeV,
process order) and returning ``(...)``; ``legs`` are positions in that order. They are
built on :mod:`diffsim.kinematics`, so they are differentiable (with finite gradients at
the kinematic boundaries documented there).
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim import kinematics

__all__ = ["AbsRapidity", "InvariantMass", "Observable", "ScalarSumTransverseMass", "TransverseMomentum"]

Momenta = Float[Array, "*batch n 4"]


class Observable(eqx.Module):
    """Interface: ``observable(momenta (..., n, 4)) -> (...)``."""

    def __call__(self, momenta: Momenta) -> Float[Array, "*batch"]:
        raise NotImplementedError


class InvariantMass(Observable):
    """Invariant mass of the summed momenta of ``legs`` (GeV), e.g. m_ℓℓ or √ŝ."""

    legs: tuple[int, ...] = eqx.field(static=True)

    def __call__(self, momenta):
        return kinematics.invariant_mass(momenta[..., list(self.legs), :])


class TransverseMomentum(Observable):
    """Transverse momentum of one leg (GeV)."""

    leg: int = eqx.field(static=True)

    def __call__(self, momenta):
        return kinematics.pt(momenta[..., self.leg, :])


class AbsRapidity(Observable):
    """``|y|`` of one leg (rapidity; pseudorapidity with ``pseudo=True``)."""

    leg: int = eqx.field(static=True)
    pseudo: bool = eqx.field(static=True, default=False)

    def __call__(self, momenta):
        function = kinematics.pseudorapidity if self.pseudo else kinematics.rapidity
        return jnp.abs(function(momenta[..., self.leg, :]))


class ScalarSumTransverseMass(Observable):
    """``H_T = Σ_legs sqrt(m² + pT²)`` (GeV); ``H_T/2`` is a common dynamic scale."""

    legs: tuple[int, ...] = eqx.field(static=True)

    def __call__(self, momenta):
        selected = momenta[..., list(self.legs), :]
        return jnp.sum(kinematics.safe_sqrt(kinematics.mass_squared(selected) + kinematics.pt(selected) ** 2), axis=-1)
