"""Factorisation and renormalisation scales: fixed, or dynamic functions of the momenta.

A scale is called on lab-frame momenta ``(..., n, 4)`` and returns ``μ (...)`` in GeV.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.hadronic.observables import Observable

__all__ = ["DynamicScale", "FixedScale", "Scale"]


class Scale(eqx.Module):
    """Interface: ``scale(momenta (..., n, 4)) -> μ (...)`` in GeV."""

    def __call__(self, momenta: Float[Array, "*batch n 4"]) -> Float[Array, "*batch"]:
        raise NotImplementedError


class FixedScale(Scale):
    """The same ``value`` (GeV, a differentiable leaf) for every event."""

    value: Float[Array, ""] | float

    def __call__(self, momenta):
        return jnp.broadcast_to(jnp.asarray(self.value, momenta.dtype), momenta.shape[:-2])


class DynamicScale(Scale):
    """``factor × observable(momenta)``, e.g. ``DynamicScale(InvariantMass((2, 3)))`` for
    m_ℓℓ or ``DynamicScale(ScalarSumTransverseMass((2, 3)), 0.5)`` for H_T/2."""

    observable: Observable
    factor: float = 1.0

    def __call__(self, momenta):
        return self.factor * self.observable(momenta)
