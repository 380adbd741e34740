"""Normalizing flows from spline couplings: importance samplers and conditional densities.

A :class:`Flow` maps base points ``z`` to data ``x = outer(f_L ∘ … ∘ f_1(z))`` with
spline coupling layers ``f_l`` (:mod:`diffsim.flows.coupling`) and an optional fixed
pre-bijection ``outer`` (e.g. a VEGAS grid map). The density is the change of variables

    log q(x | c) = log p_base(z) − log|det ∂x/∂z|,

with ``p_base`` uniform on ``[0, 1]^d`` (hypercube flows, the neural importance samplers
of MadNIS, arXiv:2212.06172) or standard normal on ``ℝ^d`` (e.g. the conditional transfer
functions of the matrix-element method, arXiv:2210.00019, with the context ``c`` the
reconstructed event).

Shapes: points are ``(N, d)``; a context is ``(N, c)``, one row per point (to condition
many points on one event, broadcast the row yourself). With a context,
``sample(key, context=context)`` draws one point per context row (``n`` may be omitted;
if given it must equal ``N``).

Precision: the networks run in the flow's ``dtype`` (float32 by default); data keep their
own dtype (see :mod:`diffsim.flows.coupling`), so float64 points get float64 splines and
exact inverses. :meth:`Flow.sample` draws base points in JAX's default float dtype (float64
under :func:`diffsim.enable_x64`) unless ``dtype=`` is given.
"""

import math
import numbers
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.flows.coupling import SplineCoupling
from diffsim.flows.masks import coupling_masks

__all__ = ["Flow", "real_flow", "unit_hypercube_flow"]

BASES = ("uniform", "normal")


class Flow(eqx.Module):
    """A normalizing flow on ``(N, dim)`` points (module docstring).

    Attributes:
        layers: the coupling layers, applied in order from base to data.
        dim: number of dimensions ``d``; context_dim: context length ``c`` (0: none).
        base: ``"uniform"`` on ``[0, 1]^d`` or ``"normal"`` (standard normal on ``ℝ^d``).
        dtype: the networks' parameter dtype (not that of the data).
        outer: ``None`` or a fixed bijection applied after the layers, ``x = outer(y)``: any
            object with ``forward(y) -> (x, log|det ∂x/∂y|)`` and
            ``inverse(x) -> (y, log|det ∂y/∂x|)`` on ``(N, d)`` arrays (e.g.
            ``diffsim.inference.vegas.VegasMap``). For a uniform base it must map
            ``[0, 1]^d`` onto the support of ``x``. Its array leaves are part of the pytree;
            exclude them with a filter spec if they should not be trained.
    """

    layers: tuple[SplineCoupling, ...]
    dim: int = eqx.field(static=True)
    context_dim: int = eqx.field(static=True)
    base: str = eqx.field(static=True)
    dtype: Any = eqx.field(static=True)
    outer: Any = None

    def __check_init__(self):
        if self.base not in BASES:
            raise ValueError(f"base must be one of {BASES}, got {self.base!r}")
        if self.outer is not None and not all(
            callable(getattr(self.outer, name, None)) for name in ("forward", "inverse")
        ):
            raise TypeError(f"outer needs forward(y) and inverse(x) methods, got {type(self.outer).__name__}")

    def with_outer(self, outer) -> "Flow":
        """A copy with the fixed pre-bijection ``outer`` (``None`` removes it)."""
        return Flow(self.layers, self.dim, self.context_dim, self.base, self.dtype, outer)

    # -- validation ---------------------------------------------------------------------
    def _check_points(self, points, name: str) -> Array:
        points = jnp.asarray(points)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (N, {self.dim}), got {points.shape}")
        if not jnp.issubdtype(points.dtype, jnp.floating):
            raise TypeError(f"{name} must be floating point, got {points.dtype}")
        return points

    def _check_context(self, context, n: int) -> Array | None:
        if self.context_dim == 0:
            if context is not None:
                raise ValueError("this flow takes no context (context_dim=0), got one")
            return None
        if context is None:
            raise ValueError(f"this flow needs a context of shape (N, {self.context_dim})")
        context = jnp.asarray(context)
        if context.shape != (n, self.context_dim):
            raise ValueError(f"context must have shape ({n}, {self.context_dim}), got {context.shape}")
        return context

    # -- the bijection -----------------------------------------------------------------
    def forward_and_log_det(
        self, z: Float[Array, "N dim"], context: Float[Array, "N c"] | None = None
    ) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """Base → data: ``x`` and ``log|det ∂x/∂z|`` per point (``outer`` included)."""
        z = self._check_points(z, "z")
        context = self._check_context(context, z.shape[0])
        log_det = jnp.zeros(z.shape[0], z.dtype)
        for layer in self.layers:
            z, step = layer.forward_and_log_det(z, context)
            log_det = log_det + step
        if self.outer is not None:
            z, step = self.outer.forward(z)
            log_det = log_det + step
        return z, log_det

    def _inverse_layers(self, y: Array, context: Array | None) -> tuple[Array, Array]:
        log_det = jnp.zeros(y.shape[0], y.dtype)
        for layer in reversed(self.layers):
            y, step = layer.inverse_and_log_det(y, context)
            log_det = log_det + step
        return y, log_det

    def inverse_and_log_det(
        self, x: Float[Array, "N dim"], context: Float[Array, "N c"] | None = None
    ) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """Data → base, the exact inverse: ``z`` and ``log|det ∂z/∂x|`` per point."""
        x = self._check_points(x, "x")
        context = self._check_context(context, x.shape[0])
        log_det = jnp.zeros(x.shape[0], x.dtype)
        if self.outer is not None:
            x, log_det = self.outer.inverse(x)
        z, step = self._inverse_layers(x, context)
        return z, log_det + step

    # -- the density -------------------------------------------------------------------
    def base_log_prob(self, z: Float[Array, "N dim"]) -> Float[Array, " N"]:
        """``log p_base(z)`` per point: 0 (uniform, for ``z`` in the cube) or standard normal."""
        if self.base == "uniform":
            return jnp.zeros(z.shape[0], z.dtype)
        return -0.5 * jnp.sum(z**2, axis=1) - 0.5 * self.dim * math.log(2 * math.pi)

    def log_prob(
        self, x: Float[Array, "N dim"], context: Float[Array, "N c"] | None = None
    ) -> Float[Array, " N"]:
        """``log q(x | context)`` per point; ``−inf`` outside the support of a uniform-base
        flow (points whose pre-image under ``outer`` leaves ``[0, 1]^d``; those are replaced
        by the cube centre before the layers, the double-where pattern, so gradients stay
        finite)."""
        x = self._check_points(x, "x")
        context = self._check_context(context, x.shape[0])
        log_det = jnp.zeros(x.shape[0], x.dtype)
        if self.outer is not None:
            x, log_det = self.outer.inverse(x)
        inside = None
        if self.base == "uniform":
            inside = jnp.all((x >= 0) & (x <= 1), axis=1)
            x = jnp.where(inside[:, None], x, 0.5)
        z, step = self._inverse_layers(x, context)
        log_q = self.base_log_prob(z) + log_det + step
        return log_q if inside is None else jnp.where(inside, log_q, -jnp.inf)

    def sample_and_log_prob(
        self, key: PRNGKeyArray, n: int | None = None, context: Float[Array, "N c"] | None = None, *, dtype=None
    ) -> tuple[Float[Array, "n dim"], Float[Array, " n"]]:
        """``n`` points ``x ~ q`` and their ``log q(x)`` from one forward pass.

        The base points are ``jax.random.uniform(key, (n, dim), dtype)`` (uniform base) or
        ``jax.random.normal(key, (n, dim), dtype)`` (normal base), ``dtype`` defaulting to
        JAX's default float dtype. With a context, one point per context row (``n`` defaults to
        ``N``; if given it must equal ``N``).
        """
        if context is not None and self.context_dim > 0:
            rows = jnp.shape(context)[0]
            if n is not None and n != rows:
                raise ValueError(f"n={n} but the context has {rows} rows (one point per row)")
            n = rows
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive int (or given by the context rows), got {n!r}")
        dtype = jnp.result_type(float) if dtype is None else dtype
        shape = (int(n), self.dim)
        if self.base == "uniform":
            z = jax.random.uniform(key, shape, dtype=dtype)
        else:
            z = jax.random.normal(key, shape, dtype=dtype)
        x, log_det = self.forward_and_log_det(z, context)
        return x, self.base_log_prob(z) - log_det

    def sample(
        self, key: PRNGKeyArray, n: int | None = None, context: Float[Array, "N c"] | None = None, *, dtype=None
    ) -> Float[Array, "n dim"]:
        """``n`` points ``x ~ q`` (see :meth:`sample_and_log_prob` for ``n``, ``context``, ``dtype``)."""
        return self.sample_and_log_prob(key, n, context, dtype=dtype)[0]


def _build(key, dim, base, bound, *, n_layers, n_bins, hidden, depth, context_dim, dtype, outer) -> Flow:
    for name, value, minimum in (
        ("dim", dim, 1), ("n_layers", n_layers, 1), ("n_bins", n_bins, 1),
        ("hidden", hidden, 1), ("depth", depth, 0), ("context_dim", context_dim, 0),
    ):
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if dim > 1 and n_layers < 2:
        raise ValueError(f"dim={dim} needs n_layers >= 2 so that every dimension is transformed")
    layers = tuple(
        SplineCoupling(
            k, dim, active, n_bins=n_bins, hidden=hidden, depth=depth, bound=bound,
            context_dim=context_dim, dtype=dtype,
        )
        for k, active in zip(jax.random.split(key, n_layers), coupling_masks(dim, n_layers))
    )
    return Flow(layers, dim, context_dim, base, jnp.dtype(dtype), outer)


def unit_hypercube_flow(
    key: PRNGKeyArray,
    dim: int,
    *,
    n_layers: int = 4,
    n_bins: int = 10,
    hidden: int = 32,
    depth: int = 2,
    context_dim: int = 0,
    dtype=jnp.float32,
    outer=None,
) -> Flow:
    """A fresh (identity) flow on ``[0, 1]^dim`` with a uniform base.

    ``n_layers`` spline couplings (at least 2 for ``dim > 1``; masks from
    :func:`~diffsim.flows.masks.coupling_masks`) of ``n_bins`` bins, conditioners with
    ``depth`` hidden layers of ``hidden`` units and parameters of ``dtype``, an optional
    context of length ``context_dim`` and an optional pre-bijection ``outer`` (see
    :class:`Flow`). The masks depend on ``dim`` and ``n_layers`` only, so flows built from
    different keys share their static structure (and compiled programs).
    """
    return _build(key, dim, "uniform", None, n_layers=n_layers, n_bins=n_bins, hidden=hidden,
                  depth=depth, context_dim=context_dim, dtype=dtype, outer=outer)


def real_flow(
    key: PRNGKeyArray,
    dim: int,
    *,
    n_layers: int = 4,
    n_bins: int = 10,
    hidden: int = 32,
    depth: int = 2,
    context_dim: int = 0,
    dtype=jnp.float32,
    outer=None,
    bound: float = 5.0,
) -> Flow:
    """A fresh (identity) flow on ``ℝ^dim`` with a standard-normal base: splines on
    ``[−bound, bound]`` with identity tails; other keywords as :func:`unit_hypercube_flow`."""
    return _build(key, dim, "normal", bound, n_layers=n_layers, n_bins=n_bins, hidden=hidden,
                  depth=depth, context_dim=context_dim, dtype=dtype, outer=outer)
