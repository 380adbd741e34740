"""Deterministic product Gauss–Legendre cubature over the unit hypercube.

Same integrand convention as :mod:`~diffsim.inference.flat`: ``f(x)`` with ``x (N, dim)`` in
``[0, 1]^dim`` returning ``(N,)``. The rule is the tensor product of ``n_d``-point
Gauss–Legendre rules, one per coordinate (Davis & Rabinowitz, *Methods of Numerical
Integration*, 2nd ed., 1984, sects. 2.7 and 5.6): exact for polynomials of degree
``2 n_d − 1`` in coordinate ``d``, and converging exponentially in ``n_d`` for integrands
analytic on the closed cube (algebraically, about as ``n^{-3}``, where the integrand has a
square-root edge such as a production threshold).

Its use here is reference values: once the phase-space maps have flattened an integrand's
peaks, ``10⁵``–``10⁶`` nodes give a hadronic cross section to a few ``10⁻⁶`` (flat Monte
Carlo, with weights spreading by 1.6–2.8 times their mean, would need about ``10¹²``
points), so the pulls of the Monte Carlo integrators can be judged against a value whose
own error is negligible. There is no error estimate from one rule: compare two node counts
(e.g. ``n`` and ``2n``).
"""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .flat import Integrand, evaluate_in_batches

__all__ = ["gauss_legendre_rule", "integrate_gauss_legendre"]


def gauss_legendre_rule(nodes_per_dim: Sequence[int], dtype=None) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
    """Nodes ``(N, dim)`` in ``[0, 1]^dim`` and weights ``(N,)`` (summing to 1) of the product
    rule, ``N = Π n_d``; the last coordinate runs fastest."""
    counts = tuple(nodes_per_dim)
    if not counts or not all(isinstance(n, int | np.integer) and n >= 1 for n in counts):
        raise ValueError(f"nodes_per_dim must be positive ints, one per dimension, got {nodes_per_dim!r}")
    rules = [np.polynomial.legendre.leggauss(int(n)) for n in counts]
    axes = [(x + 1) / 2 for x, _ in rules]
    weights = [w / 2 for _, w in rules]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=-1)
    product = np.prod(np.stack([g.ravel() for g in np.meshgrid(*weights, indexing="ij")], axis=-1), axis=-1)
    dtype = jnp.result_type(float) if dtype is None else dtype
    return jnp.asarray(grid, dtype), jnp.asarray(product, dtype)


def integrate_gauss_legendre(
    integrand: Integrand, nodes_per_dim: Sequence[int], *, batch_size: int = 100_000, dtype=None
) -> Float[Array, ""]:
    """``∫_{[0,1]^dim} f(x) dx`` by the product rule with ``nodes_per_dim[d]`` nodes along
    coordinate ``d`` (module docstring), the integrand evaluated in batches of at most
    ``batch_size`` points (:func:`~diffsim.inference.flat.evaluate_in_batches`).
    Differentiable: gradients reach parameters the integrand closes over."""
    x, w = gauss_legendre_rule(nodes_per_dim, dtype)
    return jnp.sum(w * evaluate_in_batches(integrand, x, batch_size))
