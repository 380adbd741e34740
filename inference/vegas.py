"""VEGAS adaptive importance sampling (and optional adaptive stratification) in JAX.

References:
    G. P. Lepage, "A new algorithm for adaptive multidimensional integration",
    J. Comput. Phys. 27 (1978) 192 — the separable adaptive map, its bin-refinement rule
    with smoothing and damping ``((1 − r)/ln(1/r))^α``, and the χ² combination of
    iterations.
    G. P. Lepage, "Adaptive multidimensional integration: VEGAS enhanced",
    J. Comput. Phys. 439 (2021) 110386, arXiv:2009.05112 — adaptive stratified sampling:
    ``n_st`` strata per axis in ``y``-space, at least two points per hypercube and the
    remaining points allocated ``∝ σ_h^β`` (damping ``β = 0.75`` by default).

Integrand convention (as :mod:`diffsim.inference.flat`): ``f(x)`` maps points ``(N, dim)``
in ``[0,1]^dim`` to weights ``(N,)``. The integrator samples ``y`` in ``[0,1]^dim``, maps
``x = map(y)`` and averages ``f(x) · J(y)`` with ``J = |det ∂x/∂y|``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray
from tqdm.auto import tqdm

from diffsim.flows import rational_quadratic_bin
from diffsim.kernel_compilation import kernel_jit

from .flat import Integrand, evaluate_in_batches
from .result import IntegrationResult

__all__ = ["SmoothVegasMap", "Vegas", "VegasMap", "VegasState", "integrate_vegas"]


def _bin_index(y: Array, n_bins: int) -> Array:
    """Index of the equal-width ``y`` bin holding ``y`` (``y = 1`` falls in the last bin)."""
    return jnp.clip(jnp.floor(y * n_bins).astype(jnp.int32), 0, n_bins - 1)


def _damp(r: Array, alpha: float) -> Array:
    """Lepage's damping ``((1 − r)/ln(1/r))^α`` of a normalised bin share ``r`` in [0, 1].

    Continuous limits: ``r → 1`` gives 1 and ``r → 0`` gives ``0^α`` (1 for ``α = 0``,
    which leaves the map unchanged). Double ``where`` keeps gradients finite.
    """
    inside = (r > 0) & (r < 1)
    safe = jnp.where(inside, r, 0.5)
    damped = ((1 - safe) / -jnp.log(safe)) ** alpha
    return jnp.where(inside, damped, jnp.where(r >= 1, 1.0, 0.0**alpha))


class VegasMap(eqx.Module):
    """Separable piecewise-linear bijection ``y ↦ x`` of ``[0,1]^dim`` (Lepage 1978).

    Along each axis ``d`` the unit interval of ``y`` is cut into ``n_bins`` equal bins;
    bin ``i`` maps linearly onto ``[edges[d, i], edges[d, i+1]]``, so
    ``x_d = e_i + (n y_d − i) Δ_i`` and ``J = ∏_d n Δ_{d,i_d}``.

    Attributes:
        edges: ``(dim, n_bins + 1)`` increasing, from 0 to 1 along each axis (monotonicity
            is the caller's promise; :meth:`uniform` and :meth:`adapt` keep it).
    """

    edges: Float[Array, "dim n_bins_plus_1"]

    def __check_init__(self):
        if self.edges.ndim != 2 or self.edges.shape[1] < 2:
            raise ValueError(
                f"edges must have shape (dim, n_bins + 1) with n_bins >= 1, got {self.edges.shape}"
            )

    @property
    def dim(self) -> int:
        return self.edges.shape[0]

    @property
    def n_bins(self) -> int:
        return self.edges.shape[1] - 1

    @classmethod
    def uniform(cls, dim: int, n_bins: int = 1000, *, dtype=None) -> "VegasMap":
        """The identity map with ``n_bins`` equal bins per axis (``dtype``: JAX default float)."""
        if not isinstance(dim, int) or dim < 1 or not isinstance(n_bins, int) or n_bins < 1:
            raise ValueError(f"dim and n_bins must be positive ints, got {dim!r}, {n_bins!r}")
        dtype = jnp.result_type(float) if dtype is None else dtype
        return cls(jnp.broadcast_to(jnp.linspace(0, 1, n_bins + 1, dtype=dtype), (dim, n_bins + 1)))

    def _check(self, points: Array, name: str) -> Array:
        points = jnp.asarray(points)
        if points.ndim < 1 or points.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (..., {self.dim}), got {points.shape}")
        return points

    def _bins(self, index: Int[Array, "*batch dim"]) -> tuple[Array, Array]:
        axes = jnp.arange(self.dim)
        low = self.edges[axes, index]
        return low, self.edges[axes, index + 1] - low

    def forward(
        self, y: Float[Array, "*batch dim"]
    ) -> tuple[Float[Array, "*batch dim"], Float[Array, " *batch"]]:
        """``x = map(y)`` and ``log J = log|det ∂x/∂y| = Σ_d log(n_bins Δ_{d,i_d})``."""
        y = self._check(y, "y")
        index = _bin_index(y, self.n_bins)
        low, width = self._bins(index)
        x = low + (y * self.n_bins - index) * width
        return x, jnp.sum(jnp.log(self.n_bins * width), axis=-1)

    def _x_bin_index(self, x: Float[Array, "*batch dim"]) -> Int[Array, "*batch dim"]:
        """Index of the bin whose ``[edges[d, i], edges[d, i+1])`` holds ``x_d``."""
        search = jax.vmap(
            lambda e, xd: jnp.searchsorted(e, xd, side="right") - 1, in_axes=(0, -1), out_axes=-1
        )
        return jnp.clip(search(self.edges, x), 0, self.n_bins - 1)

    def inverse(
        self, x: Float[Array, "*batch dim"]
    ) -> tuple[Float[Array, "*batch dim"], Float[Array, " *batch"]]:
        """Exact inverse ``y = map⁻¹(x)`` and ``log|det ∂y/∂x| = −log J(y)``."""
        x = self._check(x, "x")
        index = self._x_bin_index(x)
        low, width = self._bins(index)
        y = (index + (x - low) / width) / self.n_bins
        return y, -jnp.sum(jnp.log(self.n_bins * width), axis=-1)

    def smooth(self) -> "SmoothVegasMap":
        """The continuously differentiable interpolant of this map (:class:`SmoothVegasMap`)."""
        return SmoothVegasMap(self)

    def adapt(
        self, y: Float[Array, "n dim"], weights: Float[Array, " n"], alpha: float = 0.5
    ) -> "VegasMap":
        """A refined map from samples ``y`` and their weights (Lepage 1978, Sect. 3).

        Per axis, ``d_i = Σ_{y_k in bin i} w_k²`` estimates (up to a common factor)
        ``∫_{bin i} (f J)² dy``; for uniformly drawn ``y`` pass ``w = f(x) J(y)`` (with
        non-uniform ``y`` density ``p``, ``w = f J / √p``). The ``d_i`` are smoothed
        (``(d_{i−1} + d_i + d_{i+1})/3``, two-point averages at the ends), normalised to
        ``r_i = d_i / Σ d``, damped to ``m_i = ((1 − r_i)/ln(1/r_i))^α`` and the new edges
        give every new bin an equal share of ``Σ m``, with ``m_i`` spread uniformly over old
        bin ``i``. ``α = 0`` leaves the map unchanged; an axis with all ``d_i = 0`` carries
        no information and keeps its edges. Jittable (segment sums, static shapes).
        """
        y = self._check(y, "y")
        weights = jnp.asarray(weights)
        if y.ndim != 2 or weights.shape != y.shape[:1]:
            raise ValueError(
                f"need y (N, {self.dim}) and weights (N,), got {y.shape}, {weights.shape}"
            )
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        n = self.n_bins
        if n < 2:
            return self
        flat = _bin_index(y, n) + n * jnp.arange(self.dim)
        w2 = jnp.broadcast_to((weights**2)[:, None], y.shape).astype(self.edges.dtype)
        d = jax.ops.segment_sum(w2.ravel(), flat.ravel(), num_segments=self.dim * n)
        d = d.reshape(self.dim, n)
        smooth = jnp.concatenate(
            [
                (d[:, :1] + d[:, 1:2]) / 2,
                (d[:, :-2] + d[:, 1:-1] + d[:, 2:]) / 3,
                (d[:, -2:-1] + d[:, -1:]) / 2,
            ],
            axis=1,
        )
        total = jnp.sum(smooth, axis=1, keepdims=True)
        informed = total > 0
        m = _damp(smooth / jnp.where(informed, total, 1), alpha)
        cumulative = jnp.concatenate([jnp.zeros((self.dim, 1), m.dtype), jnp.cumsum(m, axis=1)], 1)
        cumulative = cumulative / cumulative[:, -1:]
        targets = jnp.linspace(0, 1, n + 1, dtype=self.edges.dtype)
        new = jax.vmap(jnp.interp, in_axes=(None, 0, 0))(targets, cumulative, self.edges)
        new = new.at[:, 0].set(self.edges[:, 0]).at[:, -1].set(self.edges[:, -1])
        return VegasMap(jnp.where(informed, new, self.edges))


class SmoothVegasMap(eqx.Module):
    """A VEGAS map made continuously differentiable, for training through it.

    It goes through the same knots ``(i/n, edges[d, i])`` as ``grid``, so every bin keeps its
    probability ``1/n``. Within a bin it is a monotone rational-quadratic spline
    (Durkan et al., arXiv:1906.04032, eq. 4) instead of a straight line. The knot slopes are
    the harmonic means of the neighbouring bins' slopes ``s_i = n Δ_i`` (Fritsch & Butland,
    SIAM J. Sci. Stat. Comput. 5 (1984) 300), and the end slopes equal their bins'. So the
    Jacobian ``J(y)`` is continuous across bin edges, where the piecewise-linear map's jumps.

    Pathwise (reparametrisation) gradients of ``E_z[w²]`` differentiate each sample's weight
    and miss the contribution of those jumps, so a flow trained pathwise under a plain VEGAS
    grid follows a biased gradient; under this map it does not.

    Attributes:
        grid: the piecewise-linear :class:`VegasMap` whose knots it interpolates.
    """

    grid: VegasMap

    @property
    def dim(self) -> int:
        return self.grid.dim

    def _knots(self, index: Int[Array, "*batch dim"]):
        n = self.grid.n_bins
        slopes = n * jnp.diff(self.grid.edges, axis=1)
        inner = 2 * slopes[:, :-1] * slopes[:, 1:] / (slopes[:, :-1] + slopes[:, 1:])
        derivatives = jnp.concatenate([slopes[:, :1], inner, slopes[:, -1:]], axis=1)
        axes = jnp.arange(self.dim)
        low, width = self.grid._bins(index)
        y0 = index.astype(low.dtype) / n
        return (
            y0, y0 + 1 / n, low, low + width,
            derivatives[axes, index], derivatives[axes, index + 1],
        )

    def forward(
        self, y: Float[Array, "*batch dim"]
    ) -> tuple[Float[Array, "*batch dim"], Float[Array, " *batch"]]:
        """``x = map(y)`` and ``log J = log|det ∂x/∂y|``."""
        y = self.grid._check(y, "y")
        y0, y1, x0, x1, d0, d1 = self._knots(_bin_index(y, self.grid.n_bins))
        x, log_det = rational_quadratic_bin(y, y0, y1, x0, x1, d0, d1)
        return x, jnp.sum(log_det, axis=-1)

    def inverse(
        self, x: Float[Array, "*batch dim"]
    ) -> tuple[Float[Array, "*batch dim"], Float[Array, " *batch"]]:
        """Inverse ``y = map⁻¹(x)`` and ``log|det ∂y/∂x| = −log J(y)``."""
        x = self.grid._check(x, "x")
        y0, y1, x0, x1, d0, d1 = self._knots(self.grid._x_bin_index(x))
        y, log_det = rational_quadratic_bin(x, y0, y1, x0, x1, d0, d1, inverse=True)
        return y, jnp.sum(log_det, axis=-1)


class VegasState(eqx.Module):
    """What :meth:`Vegas.adapt` learns besides the map.

    Attributes:
        strata_scores: ``(n_strata**dim,)`` allocation scores ``σ_h^β`` of the hypercubes
            (``(1,)`` without stratification).
        training: the training iterations combined (a diagnostic; their maps differed).
    """

    strata_scores: Float[Array, " n_cubes"]
    training: IntegrationResult


def _allocate(scores: Array, n_points: int) -> Array:
    """Points per hypercube: 2 each, the rest ``∝ scores`` (largest remainders), Σ = n_points."""
    n_cubes = scores.shape[0]
    extra = n_points - 2 * n_cubes
    total = jnp.sum(scores)
    share = jnp.where(total > 0, scores / jnp.where(total > 0, total, 1), 1 / n_cubes)
    raw = extra * share
    base = jnp.floor(raw)
    leftover = extra - jnp.sum(base)
    rank = jnp.argsort(jnp.argsort(-(raw - base)))
    return 2 + base.astype(jnp.int32) + (rank < leftover).astype(jnp.int32)


class Vegas(eqx.Module):
    """VEGAS integrator over ``[0,1]^dim``: adapt a :class:`VegasMap`, then integrate.

    Attributes:
        dim: dimension.
        n_bins: map bins per axis (choose ``≲ n_per_iteration / 10``; vegas uses ≤ 1000).
        alpha: map damping exponent α ≥ 0 (0: no adaptation).
        n_strata: strata per axis for adaptive stratified sampling, ``None`` for plain
            importance sampling. Needs ``n_per_iteration >= 2 n_strata**dim``.
        beta: stratification damping, points per hypercube ``∝ σ_h^β`` (0: equal).
        batch_size: integrand points evaluated at once.

    Each iteration is independent given the map and allocation it starts from, so the
    per-iteration errors are honest; stratified errors are
    ``σ² = Σ_h V_h² s_h² / n_h`` with ``V_h = n_strata^−dim`` and ``s_h`` the sample std of
    ``f J`` in hypercube ``h`` (``n_h ≥ 2``).
    """

    dim: int = eqx.field(static=True)
    n_bins: int = eqx.field(static=True, default=1000)
    alpha: float = eqx.field(static=True, default=0.5)
    n_strata: int | None = eqx.field(static=True, default=None)
    beta: float = eqx.field(static=True, default=0.75)
    batch_size: int = eqx.field(static=True, default=65536)

    def __check_init__(self):
        for name in ("dim", "n_bins", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_strata is not None and (not isinstance(self.n_strata, int) or self.n_strata < 1):
            raise ValueError(f"n_strata must be None or a positive int, got {self.n_strata!r}")
        if self.alpha < 0 or not 0 <= self.beta <= 1:
            raise ValueError(f"need alpha >= 0 and 0 <= beta <= 1, got {self.alpha}, {self.beta}")

    @property
    def n_cubes(self) -> int:
        """Number of stratification hypercubes (1 without stratification)."""
        return 1 if self.n_strata is None else self.n_strata**self.dim

    def _check_budget(self, n_iterations: int, n_per_iteration: int) -> None:
        if not isinstance(n_iterations, int) or n_iterations < 1:
            raise ValueError(f"n_iterations must be a positive int, got {n_iterations!r}")
        if not isinstance(n_per_iteration, int) or n_per_iteration < max(2, 2 * self.n_cubes):
            raise ValueError(
                f"n_per_iteration must be an int >= {max(2, 2 * self.n_cubes)} "
                f"(2 per hypercube, {self.n_cubes} hypercubes), got {n_per_iteration!r}"
            )

    def _run(self, key, integrand, vmap_, scores, n_iterations, n_per_iteration, adapt, progress):
        self._check_budget(n_iterations, n_per_iteration)
        if not isinstance(vmap_, VegasMap) or vmap_.dim != self.dim:
            got = f"dimension {vmap_.dim}" if isinstance(vmap_, VegasMap) else type(vmap_).__name__
            raise ValueError(f"need a VegasMap of dimension {self.dim}, got {got}")
        if scores is None:
            scores = jnp.ones(self.n_cubes, vmap_.edges.dtype)
        elif scores.shape != (self.n_cubes,):
            raise ValueError(f"strata_scores must have shape ({self.n_cubes},), got {scores.shape}")
        keys = jax.random.split(key, n_iterations)
        results = []
        desc = "vegas adapt" if adapt else "vegas integrate"
        for i in tqdm(range(n_iterations), desc=desc, disable=not progress):
            result, new_map, new_scores = _iteration(
                keys[i], integrand, vmap_, scores, self, n_per_iteration
            )
            if adapt:
                vmap_, scores = new_map, new_scores
            results.append(result)
        return vmap_, scores, IntegrationResult.combine(results)

    def adapt(
        self,
        key: PRNGKeyArray,
        integrand: Integrand,
        n_iterations: int,
        n_per_iteration: int,
        *,
        map: VegasMap | None = None,
        state: VegasState | None = None,
        progress: bool = True,
    ) -> tuple[VegasMap, VegasState]:
        """Train the map (and stratification) for ``n_iterations`` of ``n_per_iteration`` calls.

        Starts from ``map`` (default: uniform) and ``state`` (default: equal allocation);
        returns the adapted map and a :class:`VegasState` whose ``training`` field holds
        the combined training iterations.
        """
        vmap_ = VegasMap.uniform(self.dim, self.n_bins) if map is None else map
        scores = None if state is None else state.strata_scores
        vmap_, scores, training = self._run(
            key, integrand, vmap_, scores, n_iterations, n_per_iteration, True, progress
        )
        return vmap_, VegasState(scores, training)

    def integrate(
        self,
        key: PRNGKeyArray,
        integrand: Integrand,
        map: VegasMap,
        n_iterations: int,
        n_per_iteration: int,
        *,
        state: VegasState | None = None,
        progress: bool = True,
    ) -> IntegrationResult:
        """Integrate with a frozen ``map`` (and frozen allocation from ``state``).

        The iterations are independent and identically distributed and are combined with
        :meth:`IntegrationResult.combine` (value, error and χ²/dof).
        """
        scores = None if state is None else state.strata_scores
        return self._run(
            key, integrand, map, scores, n_iterations, n_per_iteration, False, progress
        )[2]


@kernel_jit
def _iteration(key, integrand, vmap_: VegasMap, scores, vegas: Vegas, n_points: int):
    """One VEGAS iteration: sample, estimate, and the refined map and allocation.

    The refinement is cheap (``O(n_points · dim)``) next to the integrand, so training and
    frozen-map integration share one compiled function; the latter discards it.
    """
    dtype = vmap_.edges.dtype
    u = jax.random.uniform(key, (n_points, vegas.dim), dtype=dtype)
    if vegas.n_strata is None:
        y = u
    else:
        n_h = _allocate(scores, n_points)
        cube = jnp.searchsorted(jnp.cumsum(n_h), jnp.arange(n_points), side="right")
        corner = (cube[:, None] // vegas.n_strata ** jnp.arange(vegas.dim)) % vegas.n_strata
        y = (corner + u) / vegas.n_strata
    x, log_jac = vmap_.forward(y)
    w = evaluate_in_batches(integrand, x, vegas.batch_size) * jnp.exp(log_jac)
    if vegas.n_strata is None:
        result = IntegrationResult.from_weights(w)
        adapt_weights = w
    else:
        n_cubes = vegas.n_cubes
        mean = jax.ops.segment_sum(w, cube, num_segments=n_cubes) / n_h
        var = jax.ops.segment_sum((w - mean[cube]) ** 2, cube, num_segments=n_cubes) / (n_h - 1)
        result = IntegrationResult.from_estimate(
            jnp.sum(mean) / n_cubes, jnp.sqrt(jnp.sum(var / n_h)) / n_cubes, n_points
        )
        adapt_weights = w / jnp.sqrt(n_h[cube])
        scores = jnp.sqrt(var) ** vegas.beta
    return result, vmap_.adapt(y, adapt_weights, vegas.alpha), scores


def integrate_vegas(
    key: PRNGKeyArray,
    integrand: Integrand,
    dim: int,
    *,
    n_adapt_iterations: int,
    n_points: int,
    n_iterations: int = 5,
    n_bins: int = 1000,
    alpha: float = 0.5,
    n_strata: int | None = None,
    beta: float = 0.75,
    batch_size: int = 65536,
    progress: bool = True,
) -> IntegrationResult:
    """Adapt for ``n_adapt_iterations``, then integrate ``n_iterations`` with the frozen map.

    Every iteration uses ``n_points`` calls; the result counts only the
    ``n_iterations · n_points`` integration calls (training calls are
    ``n_adapt_iterations · n_points``). See :class:`Vegas` for the other arguments.
    """
    vegas = Vegas(
        dim, n_bins=n_bins, alpha=alpha, n_strata=n_strata, beta=beta, batch_size=batch_size
    )
    adapt_key, integrate_key = jax.random.split(key)
    vmap_, state = vegas.adapt(
        adapt_key, integrand, n_adapt_iterations, n_points, progress=progress
    )
    return vegas.integrate(
        integrate_key, integrand, vmap_, n_iterations, n_points, state=state, progress=progress
    )
