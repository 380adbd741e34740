"""Matrix-element-method (MEM) likelihoods from a differentiable integrand on the unit cube.

The per-event likelihood of reconstructed events ``x_reco`` given parameters ``θ``
(e.g. arXiv:2210.00019, eq. 1; MoMEMta, arXiv:1805.08555, eq. 1):

    L(x_reco | θ) = (1/σ_fid(θ)) ∫ dx_hard  PDFs · |M(x_hard; θ)|² · dΦ · W(x_reco | x_hard)
                  = (1/σ_fid(θ)) ∫_{[0,1]^d} f(r, x_reco, θ) dr,

where ``x_hard(r)`` is any fixed bijection from the unit hypercube (its Jacobian is part of
``f``) and ``σ_fid(θ) = ∫ dx_hard PDFs·|M|²·dΦ·ε(x_hard)`` is the fiducial cross section of
the same chain with the acceptance ``ε`` of the selection the events passed. The user
supplies both, differentiable in ``θ``:

- ``integrand(r, x_reco, θ) -> (N,)``: ``r (N, d)`` points of the cube, ``x_reco`` *one*
  event (any pytree; the library maps over events), ``θ`` any pytree of parameters;
- ``sigma_fid(θ) -> ()`` in the same units as ``∫ f dr`` (units cancel in ``L``).

The integrals are importance-sampled from a proposal ``g(r | x_reco)``: per-event VEGAS
grids (:mod:`~diffsim.inference.mem_vegas`) or one amortised conditional flow
(:mod:`~diffsim.inference.mem_flow`). Both produce a :class:`ProposalSample` — ``K`` points
per event and their log densities — which is then held fixed, so

    Î_i(θ) = (1/K) Σ_k f(r_ik, x_i, θ) / g(r_ik | x_i)

is a smooth function of ``θ`` with the pathwise gradient ``∇_θ Î_i`` (the proposal was
drawn at a reference ``θ₀`` and is not differentiated). This is what the gradient fits
(:mod:`~diffsim.inference.fit`) and NUTS (:mod:`~diffsim.inference.posterior`) use.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .result import IntegrationResult

__all__ = [
    "MEMIntegrand",
    "ProposalSample",
    "event_integrals",
    "event_weights",
    "integrate_events",
    "map_events",
    "mem_log_likelihood",
    "n_events",
]

MEMIntegrand = Callable[[Float[Array, "N d"], PyTree, PyTree], Float[Array, " N"]]
"""``f(r, x_reco, θ)``: weights of points ``r (N, d)`` for one event (module docstring)."""


def map_events(fn: Callable, args: PyTree, batch_size: int | None = None) -> PyTree:
    """``fn`` over the leading (event) axis of every leaf of ``args``.

    ``batch_size=None`` vectorises over all events at once (``jax.vmap``); an int maps in
    chunks of that many events (``jax.lax.map``), bounding memory for large samples.
    """
    if batch_size is None:
        return jax.vmap(fn)(args)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be None or a positive int, got {batch_size!r}")
    return jax.lax.map(fn, args, batch_size=batch_size)


def n_events(events: PyTree) -> int:
    """Number of events: the common leading axis of the leaves of ``events`` (static)."""
    sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in jax.tree_util.tree_leaves(events)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"events must be a pytree of arrays with one common leading axis, got sizes {sizes}")
    return sizes.pop()


class ProposalSample(eqx.Module):
    """``K`` points per event drawn from a proposal ``g(r | x_reco)``, held fixed.

    Attributes:
        r: ``(E, K, d)`` points of the unit hypercube.
        log_q: ``(E, K)`` ``log g(r | x_reco)`` of each point (no gradient flows through it).
    """

    r: Float[Array, "E K d"]
    log_q: Float[Array, "E K"]

    def __check_init__(self):
        if jnp.ndim(self.r) != 3 or jnp.shape(self.log_q) != jnp.shape(self.r)[:2]:
            raise ValueError(
                f"need r (E, K, d) and log_q (E, K), got {jnp.shape(self.r)}, {jnp.shape(self.log_q)}"
            )

    @property
    def n_points(self) -> int:
        """``K``, the points (integrand calls) per event."""
        return self.r.shape[1]


def event_weights(
    integrand: MEMIntegrand,
    events: PyTree,
    sample: ProposalSample,
    theta: PyTree,
    *,
    batch_size: int | None = None,
) -> Float[Array, "E K"]:
    """Importance weights ``f(r_ik, x_i, θ) / g(r_ik | x_i)`` of a fixed sample, ``(E, K)``.

    Differentiable in ``θ`` (pathwise, module docstring); ``sample.log_q`` is stopped.
    ``batch_size``: events per chunk (:func:`map_events`).
    """
    if n_events(events) != sample.r.shape[0]:
        raise ValueError(f"{n_events(events)} events but a sample for {sample.r.shape[0]}")
    log_q = jax.lax.stop_gradient(sample.log_q)

    def one(args):
        event, r, log_q_event = args
        return integrand(r, event, theta) * jnp.exp(-log_q_event)

    return map_events(one, (events, jax.lax.stop_gradient(sample.r), log_q), batch_size)


def event_integrals(
    integrand: MEMIntegrand,
    events: PyTree,
    sample: ProposalSample,
    theta: PyTree,
    *,
    batch_size: int | None = None,
) -> IntegrationResult:
    """Per-event ``∫ f(r, x_i, θ) dr`` with errors: an :class:`IntegrationResult` whose
    array fields have a leading event axis ``(E,)`` (``calls`` is ``K`` per event)."""
    weights = event_weights(integrand, events, sample, theta, batch_size=batch_size)
    return eqx.filter_vmap(IntegrationResult.from_weights)(weights)


def mem_log_likelihood(
    integrand: MEMIntegrand,
    sigma_fid: Callable[[PyTree], Float[Array, ""]],
    events: PyTree,
    sample: ProposalSample,
    theta: PyTree,
    *,
    batch_size: int | None = None,
) -> tuple[Float[Array, " E"], Float[Array, " E"]]:
    """Per-event ``log L(x_i | θ) = log Î_i(θ) − log σ_fid(θ)`` and its Monte Carlo error.

    The error is ``δÎ_i / Î_i`` (first order; the error of ``σ_fid``, common to all events,
    is the caller's). Differentiable in ``θ`` with the sample held fixed; sum over events
    for the log-likelihood of a data set.
    """
    result = event_integrals(integrand, events, sample, theta, batch_size=batch_size)
    value = eqx.error_if(result.value, ~(result.value > 0), "MEM integral must be positive for every event")
    return jnp.log(value) - jnp.log(sigma_fid(theta)), result.error / value


def integrate_events(
    key: PRNGKeyArray,
    integrand: MEMIntegrand,
    events: PyTree,
    theta: PyTree,
    proposal: Any,
    n_points: int,
    *,
    batch_size: int | None = None,
) -> IntegrationResult:
    """Per-event integrals from ``n_points`` fresh points of ``proposal`` per event.

    ``proposal``: a :class:`~diffsim.inference.mem_vegas.VegasProposal` or
    :class:`~diffsim.inference.mem_flow.FlowProposal` (anything with
    ``sample(key, events, n) -> ProposalSample``). Returns the batched
    :class:`IntegrationResult` of :func:`event_integrals`.
    """
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    sample = proposal.sample(key, events, n_points)
    return event_integrals(integrand, events, sample, theta, batch_size=batch_size)

