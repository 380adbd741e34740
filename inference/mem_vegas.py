"""Per-event VEGAS proposals for the matrix element method (the MoMEMta baseline).

Classic MEM tools (MoMEMta, arXiv:1805.08555; MadWeight, arXiv:1010.2263) integrate every
event separately with VEGAS (Lepage, J. Comput. Phys. 27 (1978) 192): a fresh adaptive grid
per event, trained for a few iterations on that event's integrand ``r ↦ f(r, x_reco, θ₀)``,
then frozen. Here the grids of all events are adapted side by side (vectorised over
events) by the iteration of :class:`~diffsim.inference.vegas.Vegas` (plain importance
sampling, no stratification, so every point has the density ``1/J(y)`` and the frozen grid
is a proposal like any other, see :class:`~diffsim.inference.mem.ProposalSample`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from diffsim.kernel_compilation import kernel_jit

from .mem import MEMIntegrand, ProposalSample, map_events, n_events
from .result import IntegrationResult
from .vegas import Vegas, VegasMap, _iteration

__all__ = ["VegasProposal", "adapt_vegas_proposal"]


class _EventIntegrand(eqx.Module):
    """``r ↦ f(r, x_reco, θ)`` for one event, in the integrand convention of :mod:`.flat`."""

    integrand: MEMIntegrand
    event: PyTree
    theta: PyTree

    def __call__(self, r: Float[Array, "N d"]) -> Float[Array, " N"]:
        return self.integrand(r, self.event, self.theta)


class VegasProposal(eqx.Module):
    """One frozen VEGAS grid per event.

    Attributes:
        edges: ``(E, d, n_bins + 1)`` the grid of each event (see
            :class:`~diffsim.inference.vegas.VegasMap`).
    """

    edges: Float[Array, "E d n_bins_plus_1"]

    def __check_init__(self):
        if jnp.ndim(self.edges) != 3:
            raise ValueError(f"edges must have shape (E, d, n_bins + 1), got {jnp.shape(self.edges)}")

    def sample(self, key: PRNGKeyArray, events: PyTree, n: int) -> ProposalSample:
        """``n`` points per event: ``y`` uniform, ``r = map_i(y)``, ``log g = −log J_i(y)``.

        ``events`` only fixes the event count (it must match the grids).
        """
        count = self.edges.shape[0]
        if n_events(events) != count:
            raise ValueError(f"{n_events(events)} events but {count} VEGAS grids")
        dim = self.edges.shape[1]

        def one(args):
            event_key, edges = args
            y = jax.random.uniform(event_key, (n, dim), dtype=edges.dtype)
            r, log_jac = VegasMap(edges).forward(y)
            return r, -log_jac

        r, log_q = jax.vmap(one)((jax.random.split(key, count), self.edges))
        return ProposalSample(r, log_q)


@kernel_jit
def adapt_vegas_proposal(
    key: PRNGKeyArray,
    integrand: MEMIntegrand,
    events: PyTree,
    theta: PyTree,
    vegas: Vegas,
    n_iterations: int,
    n_per_iteration: int,
    *,
    batch_size: int | None = None,
) -> tuple[VegasProposal, IntegrationResult]:
    """Adapt one VEGAS grid per event to ``r ↦ f(r, x_i, θ)``, starting from the identity.

    Args:
        key: typed JAX key.
        integrand: ``f(r, x_reco, θ)`` (:mod:`~diffsim.inference.mem`).
        events: pytree of per-event arrays with a leading event axis ``E``.
        theta: parameters the grids are adapted at (the reference ``θ₀``).
        vegas: the grid configuration (``dim``, ``n_bins``, ``alpha``, ``batch_size``);
            stratification (``n_strata``) is not supported for per-event proposals.
        n_iterations, n_per_iteration: adaptation iterations and integrand calls in each,
            per event (so ``n_iterations · n_per_iteration`` calls per event).
        batch_size: events adapted at once (``None``: all, see
            :func:`~diffsim.inference.mem.map_events`).

    Returns:
        The frozen grids and, per event (leading axis ``E``), the training iterations
        combined by :meth:`IntegrationResult.combine` (a diagnostic: the grids changed
        between iterations).
    """
    if vegas.n_strata is not None:
        raise ValueError("per-event VEGAS proposals use plain importance sampling: n_strata must be None")
    for name, value in (("n_iterations", n_iterations), ("n_per_iteration", n_per_iteration)):
        if not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    count = n_events(events)
    dtype = jnp.result_type(float)

    def one(args):
        event_key, event = args
        f = _EventIntegrand(integrand, event, theta)
        grid = VegasMap.uniform(vegas.dim, vegas.n_bins, dtype=dtype)
        scores = jnp.ones(1, dtype)
        values, errors = [], []
        for iteration_key in jax.random.split(event_key, n_iterations):
            result, grid, scores = _iteration(iteration_key, f, grid, scores, vegas, n_per_iteration)
            values.append(result.value)
            errors.append(result.error)
        return grid.edges, jnp.stack(values), jnp.stack(errors)

    edges, values, errors = map_events(one, (jax.random.split(key, count), events), batch_size)

    def combine(v, e):
        return IntegrationResult.combine(
            [IntegrationResult.from_estimate(v[i], e[i], n_per_iteration) for i in range(n_iterations)]
        )

    return VegasProposal(edges), eqx.filter_vmap(combine)(values, errors)
