"""Flat (plain) Monte Carlo integration over the unit hypercube, evaluated in batches.

The integrand convention shared by all integrators of :mod:`diffsim.inference`: a callable
``f(x)`` taking points ``x`` of shape ``(N, dim)`` in ``[0, 1]^dim`` and returning the
weights ``f(x)`` of shape ``(N,)``. The estimate of ``∫_{[0,1]^dim} f(x) dx`` is
``mean(f(x_k))`` with ``x_k`` uniform, error ``std / √N``.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.kernel_compilation import kernel_jit

from .result import IntegrationResult

__all__ = ["evaluate_in_batches", "integrate_flat"]

Integrand = Callable[[Float[Array, "n dim"]], Float[Array, " n"]]


def evaluate_in_batches(
    integrand: Integrand, x: Float[Array, "n dim"], batch_size: int
) -> Float[Array, " n"]:
    """Evaluate ``integrand`` on ``x`` of shape ``(N, dim)`` in batches of ``batch_size``.

    The points are split into ``N // batch_size`` full batches, evaluated one after the other
    by :func:`jax.lax.map` (each a whole-batch call of the vectorised integrand, so batched
    layouts inside it stay efficient), and one smaller call for the remainder: at most
    ``batch_size`` points are in flight at once, with static shapes. The integrand must be
    a vectorised JAX function ``(M, dim) -> (M,)``; its output shape is checked at trace
    time.
    """
    if x.ndim != 2:
        raise ValueError(f"points must have shape (N, dim), got {x.shape}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    probe = jax.eval_shape(integrand, jax.ShapeDtypeStruct((3, x.shape[1]), x.dtype))
    if getattr(probe, "shape", None) != (3,):
        raise ValueError(
            "integrand must map points (N, dim) to weights (N,); for N=3 it returned "
            f"{getattr(probe, 'shape', type(probe).__name__)}"
        )
    n_full, remainder = divmod(x.shape[0], batch_size)
    parts = []
    if n_full:
        batches = x[: n_full * batch_size].reshape(n_full, batch_size, x.shape[1])
        parts.append(jax.lax.map(integrand, batches).reshape(-1))
    if remainder:
        parts.append(integrand(x[n_full * batch_size:]))
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)


@kernel_jit
def _flat_weights(key, integrand, dim: int, n_points: int, batch_size: int):
    x = jax.random.uniform(key, (n_points, dim), dtype=jnp.result_type(float))
    return evaluate_in_batches(integrand, x, batch_size)


def integrate_flat(
    key: PRNGKeyArray,
    integrand: Integrand,
    dim: int,
    n_points: int,
    *,
    batch_size: int = 65536,
) -> IntegrationResult:
    """Plain Monte Carlo estimate of ``∫_{[0,1]^dim} f(x) dx`` from ``n_points`` points.

    Args:
        key: typed JAX key (``jax.random.key``).
        integrand: ``(N, dim) -> (N,)`` weights, see the module docstring.
        dim: dimension of the hypercube.
        n_points: number of uniform points (and integrand calls), ``>= 2``.
        batch_size: points evaluated at once (memory bound; static).

    Returns:
        :class:`IntegrationResult` from the ``n_points`` weights (the float dtype follows
        JAX's default: float64 under ``diffsim.enable_x64()``).
    """
    for name, value, low in (("dim", dim, 1), ("n_points", n_points, 2)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    weights = _flat_weights(key, integrand, dim, n_points, batch_size)
    return IntegrationResult.from_weights(weights)
