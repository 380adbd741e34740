"""Broadcasting of leading batch axes shared by the phase-space mappings."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

__all__ = ["broadcast_batch"]


def broadcast_batch(*pairs: tuple[ArrayLike, int]) -> list[Array]:
    """Broadcast arrays to a common batch shape, keeping each one's trailing core axes.

    Each argument is ``(array, n_core_axes)``; e.g. ``((r, 1), (p, 1), (mass, 0))``
    broadcasts ``r (..., k)``, ``p (..., 4)`` and a scalar ``mass`` to one batch shape.
    """
    arrays = [(jnp.asarray(a), core) for a, core in pairs]
    batch = jnp.broadcast_shapes(*(a.shape[: a.ndim - core] for a, core in arrays))
    return [jnp.broadcast_to(a, batch + a.shape[a.ndim - core :]) for a, core in arrays]
