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
"""

from collections.abc import Callable

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
    """

    flow: Flow
    context: Callable[[PyTree], Float[Array, " c"]]
    batch_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.flow.base != "uniform" or self.flow.context_dim < 1:
            raise ValueError("FlowProposal needs a conditional flow with a uniform base on [0, 1]^d")

    def _rows(self, event: PyTree, n: int) -> Float[Array, "n c"]:
        features = jnp.asarray(self.context(event))
        if features.shape != (self.flow.context_dim,):
            raise ValueError(f"context must return ({self.flow.context_dim},) features, got {features.shape}")
        return jnp.broadcast_to(features, (n, self.flow.context_dim))

    def log_prob(self, r: Float[Array, "N d"], event: PyTree) -> Float[Array, " N"]:
        """``log q(r | x_reco)`` of points ``r (N, d)`` for one event."""
        return self.flow.log_prob(r, self._rows(event, r.shape[0]))

    def sample(self, key: PRNGKeyArray, events: PyTree, n: int) -> ProposalSample:
        """``n`` points per event from ``q(· | x_i)`` with their ``log q`` (no gradients)."""

        def one(args):
            event_key, event = args
            return self.flow.sample_and_log_prob(event_key, n, self._rows(event, n))

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
    coupling layers are trained (a fixed ``outer`` pre-map and the ``context`` are not);
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
            z = jax.random.uniform(event_key, (n_pts, dim), dtype=dtype)
            r, log_det = flow.forward_and_log_det(z, proposal._rows(event, n_pts))
            return event_loss(integrand(r, event, theta) * jnp.exp(log_det))

        return jnp.mean(map_events(one, (jax.random.split(z_key, n_ev), batch), proposal.batch_size))

    def step(carry, step_key):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss_fn)(params, step_key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), value

    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(key, n_steps))
    layers = eqx.combine(params, static)
    return eqx.tree_at(lambda p: p.flow.layers, proposal, layers), losses
