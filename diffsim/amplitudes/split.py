"""Complex numbers as a (real, imaginary) pair of real arrays, for the amplitude kernels.

XLA's CPU backend vectorises real arithmetic about twice as well as interleaved complex
arithmetic, and the helicity kernels are arithmetic-bound, so inside diffsim the
wavefunction components, currents and amplitudes are :class:`SplitComplex` values: two real
arrays that broadcast like ordinary arrays. Either part may be ``None``, meaning an exact
zero known at trace time (``i·x`` of a real ``x``, a real coupling, a massless spinor
component), so that no multiplication by a literal zero is ever traced. Complex arrays only
appear at the public API boundary (:func:`to_complex`, :func:`from_complex`).

Python numbers are folded at trace time: multiplying by ``1j`` swaps the parts, by a real
number scales both, so constants such as colour coefficients cost nothing when they are
``±1`` or ``±i``. Results keep the dtype of the arrays involved (Python scalars are weakly
typed), so float32 inputs stay float32.
"""

import numbers

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

__all__ = ["SplitComplex", "abs2", "as_split", "from_complex", "i_times", "to_complex", "where"]


def _add(x, y):
    if x is None:
        return y
    if y is None:
        return x
    return x + y


def _sub(x, y):
    if y is None:
        return x
    if x is None:
        return -y
    return x - y


def _mul(x, y):
    if x is None or y is None:
        return None
    return x * y


def _neg(x):
    return None if x is None else -x


def _scale(x, factor):
    """``x * factor`` for a Python real ``factor``, folding ±1 and 0."""
    if x is None or factor == 0:
        return None
    if factor == 1:
        return x
    if factor == -1:
        return -x
    return x * factor


@jax.tree_util.register_pytree_node_class
class SplitComplex:
    """A complex array stored as ``re + i·im`` (either part ``None`` for an exact zero)."""

    __slots__ = ("im", "re")

    def __init__(self, re: Array | None, im: Array | None):
        self.re = re
        self.im = im

    def tree_flatten(self):
        return (self.re, self.im), None

    @classmethod
    def tree_unflatten(cls, _, children):
        return cls(*children)

    def __repr__(self) -> str:
        return f"SplitComplex(re={self.re!r}, im={self.im!r})"

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, SplitComplex):
            return SplitComplex(_add(self.re, other.re), _add(self.im, other.im))
        if isinstance(other, complex):
            return self + _python_complex(other)
        return SplitComplex(_add(self.re, other), self.im)

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, SplitComplex):
            return SplitComplex(_sub(self.re, other.re), _sub(self.im, other.im))
        if isinstance(other, complex):
            return self - _python_complex(other)
        return SplitComplex(_sub(self.re, other), self.im)

    def __rsub__(self, other):
        return (-self) + other

    def __neg__(self):
        return SplitComplex(_neg(self.re), _neg(self.im))

    def __mul__(self, other):
        if isinstance(other, SplitComplex):
            return SplitComplex(
                _sub(_mul(self.re, other.re), _mul(self.im, other.im)),
                _add(_mul(self.re, other.im), _mul(self.im, other.re)),
            )
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            other = complex(other)
            return SplitComplex(
                _add(_scale(self.re, other.real), _scale(self.im, -other.imag)),
                _add(_scale(self.re, other.imag), _scale(self.im, other.real)),
            )
        return SplitComplex(_mul(self.re, other), _mul(self.im, other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        """Division by a real array or number (complex divisors: multiply by a reciprocal)."""
        if isinstance(other, SplitComplex):
            return self * other.reciprocal()
        if isinstance(other, numbers.Number):
            return self * (1 / other)
        return SplitComplex(None if self.re is None else self.re / other,
                            None if self.im is None else self.im / other)

    def conj(self) -> "SplitComplex":
        return SplitComplex(self.re, _neg(self.im))

    def reciprocal(self) -> "SplitComplex":
        """``1/z = z̄/|z|²``."""
        return self.conj() / abs2(self)

    @property
    def shape(self) -> tuple[int, ...]:
        parts = [jnp.shape(x) for x in (self.re, self.im) if x is not None]
        return jnp.broadcast_shapes(*parts) if parts else ()


def _python_complex(z: complex) -> SplitComplex:
    return SplitComplex(z.real if z.real else None, z.imag if z.imag else None)


def i_times(x: ArrayLike | None) -> SplitComplex:
    """``i·x`` for a real ``x``."""
    return SplitComplex(None, x)


def abs2(z: "SplitComplex | Array") -> Array:
    """``|z|²`` (real)."""
    if not isinstance(z, SplitComplex):
        return z * z
    if z.re is None:
        return z.im * z.im
    if z.im is None:
        return z.re * z.re
    return z.re * z.re + z.im * z.im


def as_split(z) -> SplitComplex:
    """A coupling, mass or component as :class:`SplitComplex` (Python numbers folded)."""
    if isinstance(z, SplitComplex):
        return z
    if isinstance(z, numbers.Number):
        return _python_complex(complex(z))
    z = jnp.asarray(z)
    if jnp.issubdtype(z.dtype, jnp.complexfloating):
        return SplitComplex(z.real, z.imag)
    return SplitComplex(z, None)


def from_complex(z: Array) -> SplitComplex:
    """Split a complex array into its parts."""
    return SplitComplex(z.real, z.imag)


def to_complex(z: "SplitComplex | Array", dtype=None) -> Array:
    """The complex array ``re + i·im`` (zeros where a part is ``None``)."""
    if not isinstance(z, SplitComplex):
        z = as_split(z)
    re, im = z.re, z.im
    if re is None and im is None:
        raise ValueError("cannot build a complex array from an exact zero without a shape")
    if re is None:
        re = jnp.zeros_like(im)
    if im is None:
        im = jnp.zeros_like(re)
    re, im = jnp.broadcast_arrays(jnp.asarray(re), jnp.asarray(im))
    if dtype is not None:
        real_dtype = jnp.finfo(dtype).dtype
        re, im = re.astype(real_dtype), im.astype(real_dtype)
    else:
        common = jnp.result_type(re, im)
        if not jnp.issubdtype(common, jnp.floating):
            common = jnp.result_type(float)
        re, im = re.astype(common), im.astype(common)
    return jax.lax.complex(re, im)


def where(condition: ArrayLike, a: SplitComplex, b: SplitComplex) -> SplitComplex:
    """Elementwise selection between two :class:`SplitComplex` values."""

    def pick(x, y):
        if x is None and y is None:
            return None
        reference = x if x is not None else y
        x = jnp.zeros_like(reference) if x is None else x
        y = jnp.zeros_like(reference) if y is None else y
        return jnp.where(condition, x, y)

    a, b = as_split(a), as_split(b)
    return SplitComplex(pick(a.re, b.re), pick(a.im, b.im))
