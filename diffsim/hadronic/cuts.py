"""Cuts on final-state observables: hard (for event generation) or smooth (for gradients).

``Cut(observable, minimum, maximum, width)`` returns an acceptance in ``[0, 1]`` per event.
Hard (``width=None``): the indicator of ``minimum ≤ observable ≤ maximum``; its gradient is
zero almost everywhere, so the derivative of a cross section w.r.t. a parameter that moves
events across the boundary is missed. Smooth (``width > 0``, in the observable's units):
each bound becomes a logistic step, ``σ((observable − minimum)/width)`` and
``σ((maximum − observable)/width)``, which is differentiable everywhere and tends to the hard
cut as ``width → 0``; the bias it introduces is of order ``width`` times the observable's
density at the boundary.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.hadronic.observables import Observable

__all__ = ["Cut"]


class Cut(eqx.Module):
    """Acceptance of ``minimum ≤ observable ≤ maximum`` (either bound optional)."""

    observable: Observable
    minimum: float | None = None
    maximum: float | None = None
    width: float | None = None

    def __check_init__(self):
        if self.minimum is None and self.maximum is None:
            raise ValueError("a Cut needs a minimum, a maximum or both")
        if self.width is not None and not self.width > 0:
            raise ValueError(f"Cut width must be positive (or None for a hard cut), got {self.width}")

    def __call__(self, momenta: Float[Array, "*batch n 4"]) -> Float[Array, "*batch"]:
        value = self.observable(momenta)
        acceptance = jnp.ones_like(value)
        for bound, sign in ((self.minimum, 1.0), (self.maximum, -1.0)):
            if bound is None:
                continue
            distance = sign * (value - bound)
            if self.width is None:
                acceptance = acceptance * (distance >= 0).astype(value.dtype)
            else:
                acceptance = acceptance * jax.nn.sigmoid(distance / self.width)
        return acceptance
