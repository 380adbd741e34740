"""An amortised MEM proposal: one conditional flow ``q(r | x_reco)`` for all events.

Instead of adapting a VEGAS grid to every event (:mod:`~diffsim.inference.mem_vegas`),
a single conditional normalizing flow on the unit hypercube, conditioned on features of
the reconstructed event, is trained once across many events and then proposes points for
any new event at no further training cost (neural importance sampling for the MEM,
"two invertible networks", arXiv:2210.00019, sec. 3; arXiv:2310.07752).

Training is pathwise (reparametrisation through the differentiable integrand, the mode
``"pathwise"`` of :mod:`~diffsim.inference.training`): with ``z`` uniform,
``r = T(z | c(x_i))`` and ``w = f(r, x_i, θ₀)·|det ∂T/∂z|``, the loss per event is one of
two scale-free objectives, so that events whose integrals differ by orders of magnitude
weigh alike in the mean over events:

- ``"reverse_kl"``: ``E_z[−log w] = KL(q‖p_i) − log I_i``
  (:func:`~diffsim.inference.losses.pathwise_reverse_kl_loss`; the ``−log I_i`` offsets
  carry no gradient). Mode-seeking: it lets ``q`` die off where ``f`` is still sizeable, and
  the rare points sampled there carry weights tens of times the mean;
- ``"log_chi2"``: ``log E_z[w²] − 2 log E_z[w] ≈ log(1 + χ²(p_i‖q))``
  (:func:`~diffsim.inference.losses.pathwise_log_chi2_loss`), the weight variance itself,
  which is what the integration error depends on. On the Breit–Wigner ⊗ Gaussian toy
  (:mod:`~diffsim.inference.mem_toy`, 3.1 × 10⁵ training calls, three seeds) the median
  per-event relative spread of the weights was 0.03 with it against 0.07 with the reverse
  KL. (The plain relative variance ``E_z[w²]/I_i²`` diverged there: its gradient grows with
  the square of the largest weight, the logarithm's does not.) On p p → Z′ → e⁺e⁻ with the
  detector (``examples/mem_zprime_fit.py``) its peaked map leaves 0.0083 per call to flat
  sampling; a brief log χ² fine-tuning keeps the flow near that (0.0115), while the reverse
  KL drifted away from it (0.044–0.097, ``benchmarks/results/mem.md``).

Each step draws ``events_per_step`` events (uniformly, with replacement) from a training
set and ``points_per_event`` base points for each, so a step costs
``events_per_step · points_per_event`` integrand calls.

**Defensive component.** A flow trained pathwise only sees where its own points land: an
integrand with a second, narrow mode that the flow has lost gives no gradient that would
bring it back. A :class:`FlowProposal` can therefore mix in a fixed per-event density
``q_d``, ``q = (1 − a) q_flow + a q_d`` ("defensive importance sampling", Hesterberg,
Technometrics 37 (1995) 185; MadNIS's multi-channel mixture with fixed channels), e.g. one
that follows each factor of the integrand alone, the resonance and the detector resolution
(:class:`~diffsim.inference.BreitWignerOrResolution`). Training then also draws
``round(a n)`` points per event from ``q_d`` and weighs the two strata by ``a`` and
``1 − a`` (``probabilities`` of :func:`~diffsim.inference.losses.pathwise_log_chi2_loss`);
at those points the loss depends on the flow through ``q`` in ``w = f/q``, which pulls the
flow's density towards every mode that ``q_d`` reaches. On the Breit–Wigner ⊗ Gaussian toy
(``benchmarks/mem.py``, seeds 0–3, ``a = 0.02``) this took the amortised flow from an RMS
relative spread per call of 0.17–2.6, with tail events failing in three seeds, to
0.057–0.098.
"""

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from diffsim.flows import Flow

from .losses import pathwise_log_chi2_loss, pathwise_reverse_kl_loss
from .mem import MEMIntegrand, ProposalSample, map_events, n_events

__all__ = ["FlowProposal", "ProposalTraining", "train_flow_proposal"]

EVENT_LOSSES = {"reverse_kl": pathwise_reverse_kl_loss, "log_chi2": pathwise_log_chi2_loss}
"""The scale-free pathwise losses a proposal can be trained with, by name."""


class FlowProposal(eqx.Module):
    """``q(r | x_reco)``: a conditional unit-hypercube flow and the event features it sees.

    Attributes:
        flow: a :class:`~diffsim.flows.Flow` with a uniform base on ``[0, 1]^d`` and
            ``context_dim = c`` (e.g. :func:`~diffsim.flows.unit_hypercube_flow`).
        context: ``x_reco ↦ (c,)`` features of *one* event (standardise them to O(1)).
        batch_size: events processed at once when sampling (``None``: all).
        defensive: an optional fixed per-event density mixed into the proposal (module
            docstring): anything with ``sample(key, event, n) -> r (n, d)`` and
            ``log_prob(r, event) -> (n,)``, e.g. :class:`~diffsim.inference.BreitWignerOrResolution`.
        defensive_fraction: its share ``a`` in ``q = (1 − a) q_flow + a q_d``, in ``(0, 1)``
            with ``defensive`` (0 without).
    """

    flow: Flow
    context: Callable[[PyTree], Float[Array, " c"]]
    batch_size: int | None = eqx.field(static=True, default=None)
    defensive: Any = None
    defensive_fraction: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        if self.flow.base != "uniform" or self.flow.context_dim < 1:
            raise ValueError("FlowProposal needs a conditional flow with a uniform base on [0, 1]^d")
        if self.defensive is None and self.defensive_fraction != 0:
            raise ValueError("defensive_fraction needs a defensive density")
        if self.defensive is not None and not 0 < self.defensive_fraction < 1:
            raise ValueError(f"defensive_fraction must lie in (0, 1), got {self.defensive_fraction}")

    def _mixture(self, log_q_flow: Float[Array, " N"], r: Float[Array, "N d"], event: PyTree) -> Float[Array, " N"]:
        """``log q(r)`` from the flow's ``log q_flow(r)`` (itself when there is no defensive part)."""
        if self.defensive is None:
            return log_q_flow
        a = self.defensive_fraction
        return jnp.logaddexp(math.log1p(-a) + log_q_flow, math.log(a) + self.defensive.log_prob(r, event))

    def _rows(self, event: PyTree, n: int) -> Float[Array, "n c"]:
        features = jnp.asarray(self.context(event))
        if features.shape != (self.flow.context_dim,):
            raise ValueError(f"context must return ({self.flow.context_dim},) features, got {features.shape}")
        return jnp.broadcast_to(features, (n, self.flow.context_dim))

    def log_prob(self, r: Float[Array, "N d"], event: PyTree) -> Float[Array, " N"]:
        """``log q(r | x_reco)`` of points ``r (N, d)`` for one event."""
        return self._mixture(self.flow.log_prob(r, self._rows(event, r.shape[0])), r, event)

    def sample(self, key: PRNGKeyArray, events: PyTree, n: int) -> ProposalSample:
        """``n`` points per event from ``q(· | x_i)`` with their ``log q`` (no gradients).
        With a defensive part each point comes from it with probability ``a``, else from the
        flow, so the points are independent draws of the mixture."""

        def one(args):
            event_key, event = args
            if self.defensive is None:
                return self.flow.sample_and_log_prob(event_key, n, self._rows(event, n))
            flow_key, defensive_key, pick_key = jax.random.split(event_key, 3)
            from_flow = self.flow.sample(flow_key, n, self._rows(event, n))
            pick = jax.random.uniform(pick_key, (n, 1)) < self.defensive_fraction
            r = jnp.where(pick, self.defensive.sample(defensive_key, event, n).astype(from_flow.dtype), from_flow)
            return r, self.log_prob(r, event)

        keys = jax.random.split(key, n_events(events))
        r, log_q = map_events(one, (keys, events), self.batch_size)
        return jax.lax.stop_gradient(ProposalSample(r, log_q))


class ProposalTraining(eqx.Module):
    """The trained proposal, the loss of every step and the integrand calls spent."""

    proposal: FlowProposal
    losses: Float[Array, " n_steps"]
    calls: Int[Array, ""] | int


def train_flow_proposal(
    key: PRNGKeyArray,
    proposal: FlowProposal,
    integrand: MEMIntegrand,
    events: PyTree,
    theta: PyTree,
    *,
    n_steps: int,
    events_per_step: int,
    points_per_event: int,
    optimizer: optax.GradientTransformation | None = None,
    loss: str = "reverse_kl",
) -> ProposalTraining:
    """Train ``proposal`` across the training ``events`` at the reference ``theta`` with the
    per-event ``loss`` ``"reverse_kl"`` or ``"log_chi2"`` (module docstring). The flow's
    coupling layers are trained (a fixed ``outer`` pre-map, the ``context`` and a defensive
    density are not; with one, ``round(a · points_per_event)`` of each event's points, at
    least one and at most all but one, come from it, the rest from the flow);
    ``optimizer`` defaults to Adam with learning rate 1e-3. All steps run in one compiled
    ``lax.scan``; ``calls = n_steps · events_per_step · points_per_event``.
    """
    if loss not in EVENT_LOSSES:
        raise ValueError(f"loss must be one of {tuple(EVENT_LOSSES)}, got {loss!r}")
    for name, value, low in (("n_steps", n_steps, 1), ("events_per_step", events_per_step, 1),
                             ("points_per_event", points_per_event, 2)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    optimizer = optax.adam(1e-3) if optimizer is None else optimizer
    trained, losses = _train(key, proposal, integrand, events, theta, optimizer, EVENT_LOSSES[loss],
                             n_steps, events_per_step, points_per_event)
    return ProposalTraining(trained, losses, n_steps * events_per_step * points_per_event)


@eqx.filter_jit
def _train(key, proposal, integrand, events, theta, optimizer, event_loss, n_steps, n_ev, n_pts):
    params, static = eqx.partition(proposal.flow.layers, eqx.is_inexact_array)
    n_defensive = 0 if proposal.defensive is None else min(max(1, round(proposal.defensive_fraction * n_pts)), n_pts - 1)
    count = n_events(events)
    dim = proposal.flow.dim
    dtype = jnp.result_type(float)

    def loss_fn(params, step_key):
        flow = eqx.tree_at(lambda f: f.layers, proposal.flow, eqx.combine(params, static))
        pick_key, z_key = jax.random.split(step_key)
        index = jax.random.randint(pick_key, (n_ev,), 0, count)
        batch = jax.tree_util.tree_map(lambda leaf: leaf[index], events)

        def one(args):
            event_key, event = args
            # Without a defensive part the event's key draws the flow's points directly.
            z_key, defensive_key = jax.random.split(event_key) if n_defensive else (event_key, None)
            n_flow = n_pts - n_defensive
            z = jax.random.uniform(z_key, (n_flow, dim), dtype=dtype)
            r, log_det = flow.forward_and_log_det(z, proposal._rows(event, n_flow))
            if not n_defensive:
                return event_loss(integrand(r, event, theta) * jnp.exp(log_det))
            r_defensive = proposal.defensive.sample(defensive_key, event, n_defensive).astype(r.dtype)
            log_q_flow = jnp.concatenate([-log_det, flow.log_prob(r_defensive, proposal._rows(event, n_defensive))])
            r = jnp.concatenate([r, r_defensive])
            log_q = proposal._mixture(log_q_flow, r, event)
            a = proposal.defensive_fraction
            probabilities = jnp.concatenate([jnp.full(n_flow, (1 - a) / n_flow), jnp.full(n_defensive, a / n_defensive)])
            return event_loss(integrand(r, event, theta) * jnp.exp(-log_q), probabilities)

        return jnp.mean(map_events(one, (jax.random.split(z_key, n_ev), batch), proposal.batch_size))

    def step(carry, step_key):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss_fn)(params, step_key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), value

    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(key, n_steps))
    layers = eqx.combine(params, static)
    return eqx.tree_at(lambda p: p.flow.layers, proposal, layers), losses
