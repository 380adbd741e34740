"""Gradient-based maximum-likelihood fits with optax, jittable and vmappable.

Minimises a negative log-likelihood ``nll(θ)`` over a pytree ``θ`` with optax's L-BFGS
(Liu & Nocedal, Math. Program. 45 (1989) 503, with a zoom line search) inside one
``lax.while_loop``, so many fits (pseudo-experiments) run under ``jax.vmap`` in one
compiled function. The covariance is the inverse Hessian of ``nll`` at the minimum (the
Cramér–Rao / MINUIT HESSE estimate), and the estimated distance to the minimum
``EDM = ½ gᵀ H⁻¹ g`` (MINUIT's convergence measure) is reported.

Two methods. ``"lbfgs"`` (default) suits many parameters. ``"newton"`` is a damped Newton
method for the few parameters of a physics fit: every step evaluates value, gradient and
exact Hessian at one point (one call site of ``nll``, so the compiled program holds one
copy of it, where the L-BFGS line search inlines several) and proposes
``Δθ = −V diag(1/(|λ| + μ max|λ|)) Vᵀ g`` from the Hessian's eigen-decomposition
``H = V diag(λ) Vᵀ`` (absolute eigenvalues: a descent direction away from a minimum, too).
The damping ``μ`` follows Levenberg–Marquardt: a step that lowers ``nll`` is accepted and
``μ`` divided by 10, otherwise the point is kept and ``μ`` multiplied by 10. Near the
minimum the steps are Newton steps and converge quadratically, and the final Hessian is
the one of the accepted minimum (no extra evaluation).

Derivatives are taken in reverse mode (``jax.grad``, ``jax.hessian``) or, with
``derivatives="forward"``, in forward mode only: the gradient as ``P`` Jacobian-vector
products sharing one primal evaluation, the Hessian as ``jacfwd(jacfwd)``. Forward mode
stores no reverse tape, so its memory is a few times that of one ``nll`` evaluation; for
the few parameters of a physics fit (``P`` ≲ 5) it is also the cheaper mode on the CPU for
likelihoods built on :mod:`diffsim.models` matrix elements, whose parameter derivatives
are forward-mode columns (``models/process.py``).
"""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Bool, Float, Int, PyTree

__all__ = ["FitResult", "fit_max_likelihood"]


class FitResult(eqx.Module):
    """A fitted minimum.

    Attributes:
        theta: the parameters at the minimum (the pytree structure of the start point).
        errors: ``√diag(covariance)``, same structure as ``theta``.
        covariance: ``(P, P)`` inverse Hessian in the flattened parameter order
            (``jax.flatten_util.ravel_pytree``).
        nll: the negative log-likelihood at the minimum.
        edm: ``½ gᵀ H⁻¹ g`` at the minimum (in units of ``nll``).
        n_steps: optimiser steps taken.
        converged: whether ``|g|∞ ≤ gtol`` was reached within ``max_steps``.
    """

    theta: PyTree
    errors: PyTree
    covariance: Float[Array, "P P"]
    nll: Float[Array, ""]
    edm: Float[Array, ""]
    n_steps: Int[Array, ""]
    converged: Bool[Array, ""]


def fit_max_likelihood(
    nll: Callable[[PyTree], Float[Array, ""]],
    theta0: PyTree,
    *,
    max_steps: int = 100,
    gtol: float = 1e-6,
    optimizer: optax.GradientTransformationExtraArgs | None = None,
    derivatives: Literal["reverse", "forward"] = "reverse",
    method: Literal["lbfgs", "newton"] = "lbfgs",
) -> FitResult:
    """Minimise ``nll`` from ``theta0``; jittable and vmappable (module docstring).

    Args:
        nll: scalar negative log-likelihood of a parameter pytree (differentiable).
        theta0: start point (pytree of float scalars/arrays).
        max_steps: most optimiser steps.
        gtol: stop once the largest gradient component is ``≤ gtol`` (units of ``nll`` per
            unit of the parameter; choose it for the parameters' scale).
        optimizer: an optax transformation whose ``update`` accepts ``value``, ``grad`` and
            ``value_fn`` keywords (default ``optax.lbfgs()``; wrap others with
            ``optax.with_extra_args_support``).
        derivatives: ``"reverse"`` or ``"forward"`` (module docstring).
        method: ``"lbfgs"`` or ``"newton"`` (module docstring; ``optimizer`` applies to
            ``"lbfgs"`` only).
    """
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    if not gtol > 0:
        raise ValueError(f"gtol must be positive, got {gtol}")
    if derivatives not in ("reverse", "forward"):
        raise ValueError(f"derivatives must be 'reverse' or 'forward', got {derivatives!r}")
    if method not in ("lbfgs", "newton"):
        raise ValueError(f"method must be 'lbfgs' or 'newton', got {method!r}")
    optimizer = optax.lbfgs() if optimizer is None else optimizer
    flat0, unravel = ravel_pytree(theta0)
    if not jnp.issubdtype(flat0.dtype, jnp.floating):
        raise TypeError(f"theta0 must hold floating-point values, got {flat0.dtype}")

    def objective(flat):
        return nll(unravel(flat))

    if derivatives == "reverse":
        value_and_grad = jax.value_and_grad(objective)
    else:
        basis = jnp.eye(flat0.size, dtype=flat0.dtype)

        def value_and_grad(flat):
            return jax.vmap(lambda t: jax.jvp(objective, (flat,), (t,)), out_axes=(None, 0))(basis)

    if method == "newton":
        def gradient_and_value(flat):
            value, grad = value_and_grad(flat)
            return grad, (value, grad)

        def value_grad_hessian(flat):
            hessian, (value, grad) = jax.jacfwd(gradient_and_value, has_aux=True)(flat)
            return value, grad, 0.5 * (hessian + hessian.T)

        flat, value, grad, hessian, steps = _damped_newton(value_grad_hessian, flat0, max_steps, gtol)
    else:
        flat, value, grad, steps = _lbfgs(objective, value_and_grad, optimizer, flat0, max_steps, gtol)
        hessian_of = jax.hessian(objective) if derivatives == "reverse" else jax.jacfwd(jax.jacfwd(objective))
        hessian = hessian_of(flat)
    covariance = jnp.linalg.inv(hessian)
    return FitResult(
        theta=unravel(flat),
        errors=unravel(jnp.sqrt(jnp.diag(covariance))),
        covariance=covariance,
        nll=value,
        edm=0.5 * grad @ covariance @ grad,
        n_steps=steps,
        converged=jnp.max(jnp.abs(grad)) <= gtol,
    )


def _lbfgs(objective, value_and_grad, optimizer, flat0, max_steps, gtol):
    """Minimise with ``optimizer`` (optax L-BFGS): the point, value, gradient and steps."""

    def cond(carry):
        _, _, _, grad, step = carry
        return (step < max_steps) & (jnp.max(jnp.abs(grad)) > gtol)

    def body(carry):
        flat, state, value, grad, step = carry
        updates, state = optimizer.update(grad, state, flat, value=value, grad=grad, value_fn=objective)
        flat = optax.apply_updates(flat, updates)
        return (flat, state, *value_and_grad(flat), step + 1)

    flat, _, value, grad, steps = jax.lax.while_loop(
        cond, body, (flat0, optimizer.init(flat0), *value_and_grad(flat0), jnp.asarray(0))
    )
    return flat, value, grad, steps


def _damped_newton(value_grad_hessian, flat0, max_steps, gtol):
    """Levenberg–Marquardt-damped Newton steps (module docstring): the accepted point, its
    value, gradient and Hessian, and the steps taken. The first evaluation (at ``flat0``)
    is always accepted."""

    def propose(flat, grad, hessian, damping):
        eigenvalues, vectors = jnp.linalg.eigh(hessian)
        scale = jnp.abs(eigenvalues) + damping * jnp.max(jnp.abs(eigenvalues))
        return flat - vectors @ ((vectors.T @ grad) / scale)

    def cond(carry):
        _, _, grad, _, _, _, step = carry
        return (step < max_steps) & ~(jnp.max(jnp.abs(grad)) <= gtol)

    def body(carry):
        flat, value, grad, hessian, trial, damping, step = carry
        trial_value, trial_grad, trial_hessian = value_grad_hessian(trial)
        accept = (step == 0) | (trial_value <= value)
        flat, value, grad, hessian = jax.tree.map(
            lambda new, old: jnp.where(accept, new, old), (trial, trial_value, trial_grad, trial_hessian),
            (flat, value, grad, hessian),
        )
        damping = jnp.clip(jnp.where(accept, damping / 10, damping * 10), 1e-12, 1e12)
        return flat, value, grad, hessian, propose(flat, grad, hessian, damping), damping, step + 1

    size = flat0.size
    start = (flat0, jnp.asarray(jnp.inf, flat0.dtype), jnp.full(size, jnp.inf, flat0.dtype),
             jnp.eye(size, dtype=flat0.dtype), flat0, jnp.asarray(1e-3, flat0.dtype), jnp.asarray(0))
    flat, value, grad, hessian, _, _, steps = jax.lax.while_loop(cond, body, start)
    return flat, value, grad, hessian, steps - 1
