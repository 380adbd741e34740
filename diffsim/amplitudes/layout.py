"""Event batches arranged for helicity kernels: ``(blocks, *helicity_axes, lanes)``.

A helicity-summed matrix element evaluates every helicity configuration of every event.
The kernels broadcast: an external wavefunction carries only its own helicity axis, an
off-shell current the axes of the legs it joins, and the full table appears only in the
final amplitudes. :class:`EventLayout` fixes where those axes go. The events of a batch
(any leading shape) are flattened and split into ``blocks`` of ``lanes`` events, and the
helicity axes sit between the two:

    event quantity           (blocks, 1, …, 1, lanes)
    wavefunction of leg a    (blocks, 1, …, n_a, …, 1, lanes)
    amplitude                (blocks, n_1, …, n_k, lanes)

The innermost (contiguous) axis is a short run of events, which XLA vectorises, and the
loops over the helicity axes revisit the same few cache lines of every event quantity, which
stays in the L1 cache however large the batch is. (With events innermost and no blocking,
each helicity would stream the whole batch through memory again.) The last block is padded
by repeating the last event; padded lanes are dropped on the way out, so they receive zero
cotangents. Everything is static: shapes depend only on the batch shape.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

__all__ = ["DEFAULT_LANES", "EventLayout", "static_helicities"]

DEFAULT_LANES = 32
"""Events per block: a multiple of the SIMD width that keeps a block's inputs in L1."""


class EventLayout:
    """The arrangement of one batch shape with helicity axes of sizes ``axis_sizes``."""

    def __init__(self, batch_shape: tuple[int, ...], axis_sizes: tuple[int, ...], lanes: int = DEFAULT_LANES):
        self.batch_shape = tuple(batch_shape)
        self.axis_sizes = tuple(axis_sizes)
        self.n_axes = len(self.axis_sizes)
        self.size = math.prod(self.batch_shape)
        self.lanes = max(1, min(lanes, self.size))
        self.blocks = -(-self.size // self.lanes) if self.size else 0
        self.padding = self.blocks * self.lanes - self.size

    def pack(self, x: ArrayLike) -> Array:
        """An event quantity of the batch shape (or broadcasting to it) as
        ``(blocks, 1, …, 1, lanes)``."""
        x = jnp.asarray(x)
        try:
            x = jnp.broadcast_to(x, self.batch_shape)
        except ValueError as error:
            raise ValueError(
                f"an input of shape {x.shape} does not broadcast to the event batch {self.batch_shape}"
            ) from error
        flat = x.reshape(self.size)
        if self.padding:
            flat = jnp.pad(flat, (0, self.padding), mode="edge")
        return flat.reshape((self.blocks,) + (1,) * self.n_axes + (self.lanes,))

    def pack_tree(self, tree):
        """Every non-scalar array leaf of a pytree (e.g. per-event ``α_s``) packed; scalars kept."""

        def leaf(x):
            if isinstance(x, (int, float, complex)) or jnp.ndim(x) == 0:
                return x
            return self.pack(x)

        return jax.tree_util.tree_map(leaf, tree)

    def axis_shape(self, axis: int) -> tuple[int, ...]:
        """Shape of a static array that varies along helicity axis ``axis`` only."""
        shape = [1] * (self.n_axes + 2)
        shape[1 + axis] = self.axis_sizes[axis]
        return tuple(shape)

    @property
    def full_shape(self) -> tuple[int, ...]:
        """``(blocks, *axis_sizes, lanes)``."""
        return (self.blocks,) + self.axis_sizes + (self.lanes,)

    def sum_axes(self, x: Array) -> Array:
        """Sum over the helicity axes: ``(blocks, *axes, lanes) → (blocks, lanes)``.

        Written as sums of slices, so that XLA fuses the sum with the computation of ``x``
        into one loop instead of emitting a separate reduction over a materialised table.
        """
        x = jnp.broadcast_to(jnp.asarray(x), self.full_shape)
        for axis in range(self.n_axes, 0, -1):
            n = x.shape[axis]
            parts = [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in range(n)]
            x = sum(parts[1:], parts[0])
        return x

    def sum_axes_of(self, xs: "list[Array]") -> list[Array]:
        """:meth:`sum_axes` of several arrays in one variadic reduction, so that XLA computes
        them in one loop, and what they share (e.g. the helicity kernels of
        :class:`~diffsim.models.process.FactoredAmplitudes`) once: four separate sums made
        value-and-grad of ``e+ e- > mu+ mu-`` 2.1× its value, one reduction 1.4×. Derivatives
        are taken through :meth:`sum_axes` of the tangents (XLA's variadic reduction has no
        transpose rule for reverse mode)."""
        if len(xs) == 1:
            # JAX turns a one-operand add reduction into reduce_sum, whose loop over the
            # middle (helicity) axes XLA emits without vectorising the lanes: 3.7× slower
            # for u u~ > d d~ than the sum of slices.
            return [self.sum_axes(xs[0])]
        xs = tuple(jnp.broadcast_to(jnp.asarray(x), self.full_shape) for x in xs)
        return list(_summed_over_helicities(xs, self))

    def squeeze(self, x: ArrayLike) -> Array:
        """A packed event quantity ``(blocks, 1, …, 1, lanes)`` (or a scalar) as
        ``(blocks, lanes)``, the shape of :meth:`sum_axes`'s result."""
        x = jnp.asarray(x)
        return x if x.ndim == 0 else x.reshape(self.blocks, self.lanes)

    def unpack(self, x: Array) -> Array:
        """``(blocks, lanes, *rest)`` back to ``(*batch_shape, *rest)``."""
        rest = x.shape[2:]
        flat = x.reshape((self.blocks * self.lanes,) + rest)[: self.size]
        return flat.reshape(self.batch_shape + rest)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _summed_over_helicities(xs: tuple, layout: EventLayout) -> tuple:
    """Each of ``xs`` (full shape) summed over the helicity axes, as one XLA reduction."""
    zeros = tuple(jnp.zeros((), x.dtype) for x in xs)
    return jax.lax.reduce(xs, zeros, lambda a, b: tuple(u + v for u, v in zip(a, b)),
                          tuple(range(1, layout.n_axes + 1)))


@_summed_over_helicities.defjvp
def _summed_over_helicities_jvp(layout, primals, tangents):
    return _summed_over_helicities(primals[0], layout), tuple(layout.sum_axes(t) for t in tangents[0])


def static_helicities(values: np.ndarray, layout: EventLayout, axis: int, dtype) -> Array:
    """Helicity labels of one leg along helicity axis ``axis`` (a constant of ``dtype``)."""
    return jnp.asarray(np.asarray(values).reshape(layout.axis_shape(axis)), dtype=dtype)
