"""Learned transfer functions: a conditional normalizing flow for ``p(x_reco | x_hard)``.

When the detector is not a product of Gaussians (or not known in closed form), the
transfer function of the matrix-element method is learned from simulated ``(hard, reco)``
pairs, as in "two invertible networks" (Heimel et al., arXiv:2210.00019, sec. 3.1) and
the MEM transfer flows of arXiv:2310.07752. :class:`TransferFlow` is a drop-in for
:meth:`ObjectResponse.log_transfer <diffsim.detector.response.ObjectResponse.log_transfer>`:
the same density in the reconstructed ``(E, η, φ)`` [GeV⁻¹].

Features. The flow (a :func:`~diffsim.flows.real_flow` on ℝ³, standard-normal base) sees
the standardised residuals and is conditioned on standardised hard features,

    r = (E_reco/E − 1, η_reco − η, Δφ),  u = (r − shift) / scale,
    c = ((log E, η) − context_shift) / context_scale,

with ``Δφ = φ_reco − φ`` wrapped into ``[−π, π)`` and the shifts and scales (means and
standard deviations over the training sample) fixed, not trained. The change of
variables from ``u`` to ``(E, η, φ)_reco`` has ``|∂u/∂x| = 1 / (E · Π scale)``, so

    log W_flow(x_reco | x_hard) = log q(u | c) − log E − Σ log scale.

Sampling runs the flow forward and rebuilds the four-momentum with the hard mass (zero
for ``massless`` objects), as :class:`~diffsim.detector.response.ObjectResponse` does.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim.detector.coordinates import (
    check_momenta,
    coordinates,
    momentum_from_coordinates,
)
from diffsim.detector.response import ObjectResponse
from diffsim.flows import Flow, real_flow
from diffsim.kinematics import delta_phi, mass_squared

__all__ = ["TransferFlow", "fit_transfer_flow"]


def residuals(p_reco: Float[Array, "*batch 4"], p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch 3"]:
    """``r = (E_reco/E − 1, η_reco − η, Δφ)`` (module docstring)."""
    reco_energy, reco_eta, _ = coordinates(p_reco)
    energy, eta, _ = coordinates(p_hard)
    return jnp.stack([reco_energy / energy - 1, reco_eta - eta, delta_phi(p_reco, p_hard)], axis=-1)


def hard_features(p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch 2"]:
    """``(log E, η)`` of the hard object, before standardisation."""
    energy, eta, _ = coordinates(p_hard)
    return jnp.stack([jnp.log(energy), eta], axis=-1)


class TransferFlow(eqx.Module):
    """A learned transfer density ``W(x_reco | x_hard)`` of one object type (module docstring).

    Attributes:
        flow: conditional flow on ℝ³ with ``context_dim = 2``.
        shift, scale: ``(3,)`` standardisation of the residuals ``r``.
        context_shift, context_scale: ``(2,)`` standardisation of ``(log E, η)``.
        massless: static; reconstructed objects are massless (else they keep the hard mass).
    """

    flow: Flow
    shift: Float[Array, "3"]
    scale: Float[Array, "3"]
    context_shift: Float[Array, "2"]
    context_scale: Float[Array, "2"]
    massless: bool = eqx.field(default=False, static=True)

    def __check_init__(self):
        if self.flow.dim != 3 or self.flow.context_dim != 2 or self.flow.base != "normal":
            raise ValueError(
                f"TransferFlow needs a normal-base flow with dim=3 and context_dim=2, got dim={self.flow.dim}, "
                f"context_dim={self.flow.context_dim}, base={self.flow.base!r}"
            )

    def _standardisation(self, dtype) -> tuple[Array, Array, Array, Array]:
        """``(shift, scale, context_shift, context_scale)`` in the dtype of the momenta."""
        return tuple(jnp.asarray(x, dtype) for x in (self.shift, self.scale, self.context_shift, self.context_scale))

    def _context(self, p_hard: Array) -> Array:
        _, _, shift, scale = self._standardisation(p_hard.dtype)
        return ((hard_features(p_hard) - shift) / scale).reshape(-1, 2)

    def log_transfer(
        self, p_reco: Float[Array, "*batch 4"], p_hard: Float[Array, "*batch 4"]
    ) -> Float[Array, "*batch"]:
        """``log W_flow(x_reco | x_hard)``, a density in the reconstructed ``(E, η, φ)``
        [GeV⁻¹], Jacobian of the standardisation included; batch axes broadcast."""
        p_reco, p_hard = check_momenta(p_reco, "p_reco"), check_momenta(p_hard, "p_hard")
        dtype = jnp.result_type(p_reco, p_hard)
        p_reco, p_hard = jnp.broadcast_arrays(p_reco.astype(dtype), p_hard.astype(dtype))
        batch = p_hard.shape[:-1]
        shift, scale, _, _ = self._standardisation(p_hard.dtype)
        u = ((residuals(p_reco, p_hard) - shift) / scale).reshape(-1, 3)
        log_q = self.flow.log_prob(u, self._context(p_hard)).reshape(batch)
        return log_q - jnp.log(p_hard[..., 0]) - jnp.sum(jnp.log(scale))

    def sample(self, key: PRNGKeyArray, p_hard: Float[Array, "*batch 4"]) -> Float[Array, "*batch 4"]:
        """One reconstructed momentum ``(..., 4)`` [GeV] per hard momentum, drawn from the flow
        (base points in the dtype of ``p_hard``)."""
        p_hard = check_momenta(p_hard, "p_hard")
        batch = p_hard.shape[:-1]
        u = self.flow.sample(key, context=self._context(p_hard), dtype=p_hard.dtype).reshape(batch + (3,))
        shift, scale, _, _ = self._standardisation(p_hard.dtype)
        r = shift + scale * u
        energy, eta, azimuth = coordinates(p_hard)
        m2 = jnp.zeros_like(energy) if self.massless else mass_squared(p_hard)
        return momentum_from_coordinates(energy * (1 + r[..., 0]), eta + r[..., 1], azimuth + r[..., 2], m2)


def _training_pairs(key, response_or_pairs, p_hard) -> tuple[ObjectResponse | None, Array, Array]:
    """Validated ``(response or None, hard (N, 4), reco (N, 4))``; from a response, ``reco``
    is one smearing of the pool with ``key`` (used for the standardisation only)."""
    if isinstance(response_or_pairs, ObjectResponse):
        if p_hard is None:
            raise ValueError("training from an ObjectResponse needs p_hard, a pool of hard momenta (N, 4)")
        response, hard = response_or_pairs, check_momenta(p_hard, "p_hard")
        reco = response.smear(key, hard)
    elif isinstance(response_or_pairs, tuple) and len(response_or_pairs) == 2:
        if p_hard is not None:
            raise ValueError("give p_hard only with an ObjectResponse; pairs already contain it")
        response = None
        hard, reco = (check_momenta(p, name) for p, name in zip(response_or_pairs, ("hard", "reco")))
        if reco.shape != hard.shape:
            raise ValueError(f"hard and reco must have the same shape (N, 4), got {hard.shape} and {reco.shape}")
    else:
        raise TypeError("response_or_pairs must be an ObjectResponse or a tuple (p_hard, p_reco) of (N, 4) arrays, "
                        f"got {type(response_or_pairs).__name__}")
    if hard.ndim != 2 or hard.shape[0] < 2:
        raise ValueError(f"the hard momenta must have shape (N, 4) with N >= 2, got {hard.shape}")
    return response, hard, reco


def fit_transfer_flow(
    key: PRNGKeyArray,
    response_or_pairs,
    p_hard: Float[Array, "N 4"] | None = None,
    *,
    n_steps: int = 500,
    batch_size: int = 256,
    learning_rate=1e-2,
    n_layers: int = 4,
    n_bins: int = 8,
    hidden: int = 32,
    depth: int = 2,
    dtype=jnp.float32,
    massless: bool | None = None,
) -> TransferFlow:
    """Train a :class:`TransferFlow` by maximum likelihood on simulated ``(hard, reco)`` pairs.

    Args:
        key: PRNG key (network initialisation, simulation of the pairs, minibatches).
        response_or_pairs: either an :class:`ObjectResponse`, which smears hard momenta
            drawn from the pool ``p_hard`` (N, 4) afresh at every step (unlimited pairs), or
            a tuple ``(p_hard, p_reco)`` of ``(N, 4)`` pairs simulated elsewhere.
        p_hard: the pool of hard momenta [GeV] (only with a response).
        n_steps, batch_size: Adam steps and pairs per step (minibatches drawn with replacement).
        learning_rate: the peak Adam step size, decayed to zero over ``n_steps`` with a
            cosine schedule (the decay removes most of the minibatch noise from the final
            parameters), or any optax schedule ``step -> step size``.
        n_layers, n_bins, hidden, depth, dtype: the flow (:func:`~diffsim.flows.real_flow`).
        massless: whether sampled objects are massless; default: the response's flag, or
            ``False`` for pairs.

    The standardisation (module docstring) is fixed from the pairs (for a response: one
    smearing of the pool). The loss is
    ``−mean log W_flow`` per minibatch. Repeated calls with the same shapes and settings
    reuse the compiled training loop.
    """
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    flow_key, pairs_key, train_key = jax.random.split(key, 3)
    response, hard, reco = _training_pairs(pairs_key, response_or_pairs, p_hard)
    if massless is None:
        massless = response is not None and response.massless
    r, c = residuals(reco, hard), hard_features(hard)
    flow = real_flow(flow_key, 3, n_layers=n_layers, n_bins=n_bins, hidden=hidden, depth=depth,
                     context_dim=2, dtype=dtype)
    model = TransferFlow(flow, r.mean(0), r.std(0), c.mean(0), c.std(0), massless=bool(massless))
    trainable = eqx.tree_at(lambda m: m.flow, jax.tree.map(lambda _: False, model),
                            jax.tree.map(eqx.is_inexact_array, model.flow))
    params, static = eqx.partition(model, trainable)
    if callable(learning_rate):
        schedule, peak = learning_rate, None
    else:
        schedule, peak = None, jnp.asarray(learning_rate, dtype)  # the networks' dtype: updates keep it
    online = response is not None
    params = _train(params, static, schedule, peak, response, hard, None if online else reco, train_key,
                    n_steps, batch_size)
    return eqx.combine(params, static)


@eqx.filter_jit
def _train(params, static, schedule, peak, response, hard, reco, key, n_steps, batch_size):
    """``n_steps`` Adam steps on ``−mean log W_flow``; returns the trained parameters.

    ``schedule`` is a user's optax schedule, or ``None`` for the cosine decay from the
    (traced) ``peak``, so that calls differing only in the step size share one compilation.
    With ``reco=None`` each minibatch of hard momenta is smeared afresh by ``response``.
    """
    optimizer = optax.adam(optax.cosine_decay_schedule(peak, n_steps) if schedule is None else schedule)

    def loss(params, hard_batch, reco_batch):
        return -jnp.mean(eqx.combine(params, static).log_transfer(reco_batch, hard_batch))

    def step(carry, step_key):
        params, opt_state = carry
        index_key, smear_key = jax.random.split(step_key)
        index = jax.random.randint(index_key, (batch_size,), 0, hard.shape[0])
        reco_batch = response.smear(smear_key, hard[index]) if reco is None else reco[index]
        grads = eqx.filter_grad(loss)(params, hard[index], reco_batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), None

    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(key, n_steps))
    return params
