"""Rational-quadratic spline coupling layer (Durkan et al., arXiv:1906.04032, Sect. 3).

The ``dim`` inputs are split by a mask into active axes ``A`` and passive axes ``P``. The
passive values (and an optional context vector) feed an MLP conditioner whose outputs are
the widths, heights and derivatives of one monotone rational-quadratic spline per active
axis; ``y_A = g(x_A; θ(x_P, c))``, ``y_P = x_P``. The Jacobian is triangular, so
``log|det| = Σ_{a∈A} log g'(x_a)``.

Two domains:

- unit hypercube (``bound=None``): the spline lives on ``[0, 1]`` with free boundary
  derivatives and maps the cube onto itself (all mass stays inside);
- real line (``bound=B``): the spline lives on ``[−B, B]`` with boundary derivatives 1 and
  the identity outside (linear tails).

The last layer of the conditioner starts at zero, so a fresh layer is the identity
(as in MadNIS, arXiv:2212.06172). Precision: the conditioner runs in its own ``dtype``
(float32 by default; passive values and context are cast to it), the knots are built in
that dtype and cast to the dtype of the data, and the spline is evaluated in the data's dtype, so float64 data
stay float64 and the inverse is exact to float64 rounding whatever the network dtype.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.flows.spline import (
    rational_quadratic_spline,
    spline_knots,
    spline_parameter_count,
)

__all__ = ["SplineCoupling"]


def _columns(x: Array, axes: tuple[int, ...]) -> Array:
    """The static columns ``axes`` of ``x (N, dim)`` as ``(N, len(axes))`` (slices, no gather)."""
    return jnp.stack([x[:, i] for i in axes], axis=1) if axes else x[:, :0]


class SplineCoupling(eqx.Module):
    """One spline coupling layer on ``(N, dim)`` points (module docstring).

    Attributes:
        conditioner: MLP ``(|P| + context_dim) → |A|·n_params`` (input size 1, fed a
            constant 1, when there are neither passive axes nor context, e.g. ``dim = 1``).
        active, passive: the transformed and the conditioning axes (static).
        n_bins: spline bins ``K``; bound: ``None`` for ``[0, 1]``, else ``B`` of ``[−B, B]``.
        context_dim: length ``c`` of the context vector (0: none).
    """

    conditioner: eqx.nn.MLP
    active: tuple[int, ...] = eqx.field(static=True)
    passive: tuple[int, ...] = eqx.field(static=True)
    n_bins: int = eqx.field(static=True)
    bound: float | None = eqx.field(static=True)
    context_dim: int = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        dim: int,
        active: tuple[int, ...],
        *,
        n_bins: int,
        hidden: int,
        depth: int,
        bound: float | None,
        context_dim: int = 0,
        dtype=jnp.float32,
    ):
        if not active or len(set(active)) != len(active) or not all(0 <= a < dim for a in active):
            raise ValueError(f"active must be distinct axes in [0, {dim}), got {active}")
        if bound is not None and not bound > 0:
            raise ValueError(f"bound must be positive or None, got {bound}")
        self.active = tuple(int(a) for a in active)
        self.passive = tuple(i for i in range(dim) if i not in self.active)
        self.n_bins = int(n_bins)
        self.bound = None if bound is None else float(bound)
        self.context_dim = int(context_dim)
        n_out = len(self.active) * spline_parameter_count(self.n_bins, bound is not None)
        mlp = eqx.nn.MLP(
            max(len(self.passive) + self.context_dim, 1), n_out, hidden, depth,
            activation=jax.nn.gelu, dtype=dtype, key=key,
        )
        last = mlp.layers[-1]
        self.conditioner = eqx.tree_at(
            lambda m: (m.layers[-1].weight, m.layers[-1].bias),
            mlp,
            (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
        )

    def _knots(self, x: Array, context: Array | None):
        """Spline knots ``(N, |A|, K + 1)`` each, in the dtype of ``x``."""
        net_dtype = self.conditioner.layers[-1].bias.dtype
        parts = [_columns(x, self.passive)] + ([] if context is None else [context])
        features = jnp.concatenate([p.astype(net_dtype) for p in parts], axis=1)
        if features.shape[1] == 0:
            features = jnp.ones((x.shape[0], 1), net_dtype)
        raw = jax.vmap(self.conditioner)(features).reshape(x.shape[0], len(self.active), -1)
        # The knots are computed in the network's dtype (their softmax/softplus dominate the
        # cost, and float32 transcendentals are twice as fast) and then cast: forward and
        # inverse see the same knots, so the map stays an exact bijection in x's dtype.
        if self.bound is None:
            knots = spline_knots(raw, lower=0.0, upper=1.0, linear_tails=False)
        else:
            knots = spline_knots(raw, lower=-self.bound, upper=self.bound, linear_tails=True)
        return tuple(k.astype(x.dtype) for k in knots)

    def _transform(self, x: Array, context: Array | None, inverse: bool):
        knots = self._knots(x, context)
        values = _columns(x, self.active)
        if self.bound is None:
            out, log_det = rational_quadratic_spline(values, *knots, inverse=inverse)
        else:
            inside = jnp.abs(values) < self.bound
            safe = jnp.where(inside, values, 0.0)  # double-where: no NaN gradients from the tails
            spline, spline_log_det = rational_quadratic_spline(safe, *knots, inverse=inverse)
            out = jnp.where(inside, spline, values)
            log_det = jnp.where(inside, spline_log_det, 0.0)
        columns = {a: out[:, i] for i, a in enumerate(self.active)}
        y = jnp.stack([columns.get(i, x[:, i]) for i in range(x.shape[1])], axis=1)
        return y, jnp.sum(log_det, axis=1)

    def forward_and_log_det(
        self, x: Float[Array, "N dim"], context: Float[Array, "N c"] | None = None
    ) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """``y = layer(x)`` and ``log|det ∂y/∂x|`` per point (inputs already validated)."""
        return self._transform(x, context, inverse=False)

    def inverse_and_log_det(
        self, y: Float[Array, "N dim"], context: Float[Array, "N c"] | None = None
    ) -> tuple[Float[Array, "N dim"], Float[Array, " N"]]:
        """The exact inverse ``x = layer⁻¹(y)`` and ``log|det ∂x/∂y|`` per point."""
        return self._transform(y, context, inverse=True)
