"""Input checks shared by the PDF and αs objects.

Concrete inputs (numbers, numpy or JAX arrays outside ``jit``) are checked and rejected with
``ValueError``/``TypeError`` naming what was expected; traced inputs cannot be inspected,
and the callers document what they return for invalid points instead (NaN).
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["check_scale", "check_x", "is_traced"]


def is_traced(*values) -> bool:
    """Whether any argument is a JAX tracer (inside ``jit``/``vmap``/``grad``)."""
    return any(isinstance(v, jax.core.Tracer) for v in values)


def _real(value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    if np.any(np.isnan(array)):
        raise ValueError(f"{name} contains NaN")
    return array


def check_scale(value, name: str, unit: str) -> None:
    """Reject a concrete scale that is not positive and finite (``name`` in ``unit``)."""
    if is_traced(value):
        return
    array = _real(value, name)
    bad = (array <= 0) | ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(f"{name} must be positive and finite ({unit}), "
                         f"got {array[bad].ravel()[0]}")


def check_x(value, x_max: float, set_name: str) -> None:
    """Reject a concrete x outside ``(0, 1]`` or above the set's last x knot ``x_max``."""
    if is_traced(value):
        return
    array = _real(value, "x")
    bad = (array <= 0) | (array > 1)
    if np.any(bad):
        raise ValueError(f"x must lie in (0, 1], got {array[bad].ravel()[0]}")
    if np.any(array > x_max):
        raise ValueError(f"x must not exceed the last x knot {x_max} of {set_name} "
                         f"(LHAPDF cannot extrapolate there), got {array.max()}")
