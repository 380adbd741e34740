"""The kernels' form of a wavefunction: a flow momentum and a tuple of split components.

The public functions exchange MadGraph's CUDACPP layout, one complex array ``(..., 6)``
(``(..., 3)`` for scalars) whose first two entries are the momentum flow
``(P⁰ + iP³, P¹ + iP²)``. Inside the amplitude kernels the same wavefunction is a
:class:`Wave`: the flow momentum ``P`` as four real arrays (it never depends on the
helicity, so it keeps the shape of the event batch) and the components as
:class:`~diffsim.amplitudes.split.SplitComplex` values whose shape may carry helicity axes.
Nothing is stacked or concatenated in between; :func:`to_array` and :func:`from_array`
convert at the boundary.
"""

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from diffsim.amplitudes.split import SplitComplex, from_complex, to_complex

__all__ = ["Wave", "checked", "from_array", "to_array"]


class Wave(NamedTuple):
    """``momentum``: ``(P⁰, P¹, P², P³)`` real (GeV); ``components``: 4 (spinor or
    polarisation) or 1 (scalar) :class:`SplitComplex` values."""

    momentum: tuple
    components: tuple


def checked(w: ArrayLike, size: int, name: str) -> Array:
    """``w`` as a complex array with last axis ``size``, or a clear error."""
    w = jnp.asarray(w)
    if w.ndim == 0 or w.shape[-1] != size:
        raise ValueError(
            f"{name} must be a wavefunction with last axis {size}, got shape {w.shape}"
        )
    if not jnp.issubdtype(w.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be complex (a wavefunction), got dtype {w.dtype}")
    return w


def from_array(w: Array) -> Wave:
    """Split a ``(..., 2 + n)`` complex wavefunction."""
    momentum = (w[..., 0].real, w[..., 1].real, w[..., 1].imag, w[..., 0].imag)
    return Wave(momentum, tuple(from_complex(w[..., k]) for k in range(2, w.shape[-1])))


def _real_dtype(wave: Wave):
    parts = list(wave.momentum) + [
        x for c in wave.components if isinstance(c, SplitComplex) for x in (c.re, c.im) if x is not None
    ]
    dtype = jnp.result_type(*parts)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)


def to_array(wave: Wave) -> Array:
    """The CUDACPP layout ``(..., 2 + n)`` of a :class:`Wave` (all parts broadcast together)."""
    real = _real_dtype(wave)
    complex_dtype = jnp.result_type(real, jnp.complex64)
    p0, p1, p2, p3 = (jnp.asarray(x, real) for x in wave.momentum)
    flows = [SplitComplex(p0, p3), SplitComplex(p1, p2)]
    parts = []
    for c in flows + list(wave.components):
        if not isinstance(c, SplitComplex):
            c = SplitComplex(c, None)
        if c.re is None and c.im is None:
            parts.append(None)
        else:
            parts.append(to_complex(c, complex_dtype))
    shape = jnp.broadcast_shapes(*(x.shape for x in parts if x is not None))
    parts = [jnp.zeros(shape, complex_dtype) if x is None else jnp.broadcast_to(x, shape) for x in parts]
    return jnp.stack(parts, axis=-1)
