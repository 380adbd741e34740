"""Training losses of neural importance sampling (one channel; the sampler sums channels).

Notation: the target integral ``I = ∫ f(x) dx`` over ``[0, 1]^d``, the trainable density
``q_θ(x)``, and points ``x_i`` drawn from a sampling density ``g`` that is held fixed
(``g = q_θ`` at the time of drawing in online training, an older ``q`` for buffered
training). All estimators divide by ``g``, so reusing stored samples is unbiased
(importance-weight correction: MadNIS, arXiv:2311.01548, sec. 3.2).

*Score-function losses* (``x`` carries no gradient; the integrand is only evaluated):

- variance: ``L = E_g[f² / (q_θ g)] = Var_q(f/q) + I²`` (arXiv:2212.06172, eq. 8);
- forward KL ``KL(p‖q_θ)`` with ``p = |f|/I``: ``L = −E_g[(|f|/g) log q_θ] / Î``, up to a
  θ-independent constant (Müller et al., arXiv:1808.03856, eq. 10);
- reverse KL ``KL(q_θ‖p)``: the score-function gradient
  ``E_q[(log q − log p − b) ∇ log q]`` with the batch baseline ``b``, written as a
  surrogate whose gradient is that estimator.

*Pathwise losses* (``x = T_θ(z)`` with gradients through the sample *and* through the
integrand — our integrands are differentiable, which the peers' are not): with a uniform
base density, ``w(z) = f(T_θ(z)) |det ∂T_θ/∂z|``, and

- pathwise variance ``L = E_z[w(z)²]``;
- pathwise ``p``-spread ``S_p = (E_z|w|^p)^{2/p} − (E_z w)²`` (``p ≥ 2``; ``S_2`` is the
  variance): with larger ``p`` the largest weights weigh more, which trades spread for
  unweighting efficiency (the mean weight over the largest);
- pathwise reverse KL ``L = E_z[−log w(z)]`` (``= KL(q‖p) − log I``);
- pathwise log χ² ``L = log E_z[w²] − 2 log E_z[w]``, the batch estimate of
  ``log(1 + χ²(p‖q_θ))`` with ``p = |f|/I``: the variance loss made scale-free (the same for
  ``f`` and ``c·f``, so it can be averaged over integrands of very different size) and with
  its gradient divided by ``E_z[w²]``, which tempers the pull of single huge weights.

Every loss takes log densities and returns a scalar; the channel weights ``α`` of a
multi-channel sampler enter through ``f`` (``f → α_c f``).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = [
    "LOSSES",
    "PATHWISE_LOSSES",
    "forward_kl_loss",
    "pathwise_log_chi2_loss",
    "pathwise_moment_spread",
    "pathwise_reverse_kl_loss",
    "pathwise_variance_loss",
    "reverse_kl_loss",
    "variance_loss",
]


def variance_loss(f: Float[Array, " N"], log_q: Float[Array, " N"], log_g: Float[Array, " N"]) -> Float[Array, ""]:
    """Second moment ``E_g[f²/(q_θ g)]`` of the weight ``f/q_θ``; its θ-gradient is that of ``Var_q``."""
    return jnp.mean(f**2 * jnp.exp(-log_q - log_g))


def forward_kl_loss(f: Float[Array, " N"], log_q: Float[Array, " N"], log_g: Float[Array, " N"]) -> Float[Array, ""]:
    """``−E_g[(|f|/g) log q_θ] / Î``: the θ-dependent part of ``KL(|f|/I ‖ q_θ)``."""
    ratio = jnp.abs(f) * jnp.exp(-log_g)
    return -jnp.mean(ratio * log_q) / jax.lax.stop_gradient(jnp.mean(ratio))


def reverse_kl_loss(
    f: Float[Array, " N"], log_q: Float[Array, " N"], log_g: Float[Array, " N"], *, log_f_floor: float = -700.0
) -> Float[Array, ""]:
    """Surrogate of ``KL(q_θ ‖ |f|/I)`` whose gradient is the score-function estimator.

    ``log_f_floor``: ``log|f|`` is clipped from below at this value where ``f = 0`` (outside
    cuts ``KL(q‖p)`` is infinite; the floor makes it a large finite penalty).
    """
    ratio = jax.lax.stop_gradient(jnp.exp(log_q - log_g))
    log_f = jnp.maximum(jnp.log(jnp.abs(f)), log_f_floor)
    gap = jax.lax.stop_gradient(log_q - log_f)
    baseline = jnp.sum(ratio * gap) / jnp.sum(ratio)
    return jnp.mean(ratio * (gap - baseline) * log_q)


def pathwise_variance_loss(w: Float[Array, " N"]) -> Float[Array, ""]:
    """``E_z[w²]`` for ``w = f(T_θ(z))·|det ∂T_θ/∂z|`` (gradients through ``T`` and ``f``)."""
    return jnp.mean(w**2)


def pathwise_moment_spread(w: Float[Array, " N"], p: float) -> Float[Array, ""]:
    """``(E_z|w|^p)^{2/p} − (E_z w)²`` for ``w = f(T_θ(z))·|det ∂T_θ/∂z|``, ``p ≥ 2`` (the
    variance at ``p = 2``; non-negative by the power-mean inequality). The ``p``-norm is
    taken in logarithms relative to the batch mean of ``|w|``, so float32 weights do not
    overflow at large ``p``. A batch whose weights all vanish gives 0."""
    if not p >= 2:
        raise ValueError(f"the moment p must be at least 2, got {p}")
    magnitude = jnp.abs(w)
    scale = jax.lax.stop_gradient(jnp.mean(magnitude))
    scale = jnp.where(scale > 0, scale, 1.0)
    ratio = magnitude / scale
    positive = ratio > 0
    log_ratio = jnp.where(positive, jnp.log(jnp.where(positive, ratio, 1.0)), -jnp.inf)
    # With any weight non-zero, the largest ratio is ≥ 1 and the log-moment finite.
    some = jnp.any(positive)
    log_moment = jnp.where(some, jax.nn.logsumexp(p * log_ratio) - jnp.log(w.shape[0]), 0.0)
    norm = jnp.where(some, jnp.exp(2.0 / p * log_moment), 0.0)
    return scale**2 * (norm - jnp.mean(w / scale) ** 2)


def _expectation(values: Float[Array, " N"], probabilities: Float[Array, " N"] | None) -> Float[Array, ""]:
    """``Σ_k p_k values_k`` (the plain mean when ``probabilities`` is ``None``)."""
    return jnp.mean(values) if probabilities is None else jnp.sum(probabilities * values)


def pathwise_reverse_kl_loss(
    w: Float[Array, " N"], probabilities: Float[Array, " N"] | None = None, *, log_f_floor: float = -700.0
) -> Float[Array, ""]:
    """``E_z[−log|w|]`` (``log|w|`` clipped from below at ``log_f_floor``, see :func:`reverse_kl_loss`).
    ``probabilities`` as in :func:`pathwise_log_chi2_loss`."""
    safe = jnp.where(w == 0, 1.0, jnp.abs(w))
    return -_expectation(jnp.where(w == 0, log_f_floor, jnp.maximum(jnp.log(safe), log_f_floor)), probabilities)


def pathwise_log_chi2_loss(w: Float[Array, " N"], probabilities: Float[Array, " N"] | None = None) -> Float[Array, ""]:
    """``log E_z[w²] − 2 log E_z[|w|]`` (gradients through ``T`` and ``f``): the estimate of
    ``log(1 + χ²(|f|/I ‖ q_θ))``, zero for a perfect proposal. A batch whose weights all
    vanish gives a finite value and no gradient. The per-event loss of the amortised MEM
    proposal (:func:`~diffsim.inference.train_flow_proposal`); multi-channel training does
    not offer it, as on the Drell–Yan toy it matched the stratified variance loss (weight
    rel. std 0.0542 against 0.0541, one seed, 10⁶ calls).

    ``probabilities (N,)`` (summing to 1) weigh the points in the expectations, for a
    stratified sample of a mixture ``q = Σ_j a_j q_j``: ``a_j / n_j`` for each of the ``n_j``
    points drawn from component ``j``, whose weights are ``w = f/q``. ``None``: i.i.d.
    points, each ``1/N``."""
    tiny = jnp.finfo(jnp.result_type(w)).tiny
    second = _expectation(w**2, probabilities)
    first = _expectation(jnp.abs(w), probabilities)
    return jnp.log(jnp.maximum(second, tiny)) - 2 * jnp.log(jnp.maximum(first, tiny))


LOSSES = {"variance": variance_loss, "kl": forward_kl_loss, "reverse_kl": reverse_kl_loss}
"""Score-function losses by name (online and buffered training)."""

PATHWISE_LOSSES = {"variance": pathwise_variance_loss, "reverse_kl": pathwise_reverse_kl_loss}
"""Pathwise losses by name (training through the differentiable integrand)."""
