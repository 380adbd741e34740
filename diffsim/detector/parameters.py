"""Validation of detector parameters: resolutions and widths must be non-negative/positive.

Every detector parameter is an array leaf of an ``equinox.Module`` (so ``jax.grad``
reaches it). Two checks guard it:

- :func:`validate_parameter` at construction (``__check_init__``): a concrete value that
  is negative (or not positive, for widths), or not finite, raises ``ValueError``; traced
  values (a module built inside ``jit``/``grad``) are skipped here, and
- :func:`checked` at use: the value, cast to the computation's dtype, passed through
  ``eqx.error_if``, so a bad value reaching a jitted computation raises at run time.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

__all__ = ["as_parameter", "checked", "is_bad", "validate_parameter"]


def as_parameter(value) -> Array:
    """Field converter: a parameter as a JAX array (a Python float stays weakly typed)."""
    return jnp.asarray(value)


def is_bad(value, positive: bool):
    """Where ``value`` is negative (not positive, if ``positive``) or not finite."""
    return ((value <= 0) if positive else (value < 0)) | ~jnp.isfinite(value)


def _requirement(name: str, positive: bool) -> str:
    return f"{name} must be {'positive' if positive else 'non-negative'} and finite"


def validate_parameter(value, name: str, *, positive: bool) -> None:
    """Raise ``ValueError`` if the concrete ``value`` breaks the requirement (tracers pass)."""
    if isinstance(value, jax.core.Tracer):
        return
    array = np.asarray(value)
    if np.any(is_bad(array, positive)):
        raise ValueError(f"{_requirement(name, positive)}, got {array}")


def checked(value, name: str, *, positive: bool, dtype) -> Array:
    """``value`` cast to ``dtype``, raising (``eqx.error_if``) inside ``jit`` if it is bad."""
    value = jnp.asarray(value, dtype)
    return eqx.error_if(value, is_bad(value, positive), _requirement(name, positive))
