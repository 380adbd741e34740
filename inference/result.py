"""The result object every Monte Carlo estimate returns: value, error, calls, diagnostics.

Three constructors cover the ways estimates arise:

- :meth:`IntegrationResult.from_weights` — a plain Monte Carlo mean of weights,
- :meth:`IntegrationResult.combine` — independent iterations combined by inverse-variance
  weighting with Lepage's χ²/dof (G. P. Lepage, J. Comput. Phys. 27 (1978) 192, and the
  weighted average of the ``vegas`` package),
- :meth:`IntegrationResult.stratified` — a sum of independent per-stratum (or per-channel)
  estimates.

For the composite results (combined or stratified) the weights themselves are no longer
at hand; their ``rel_std`` is the *effective* relative standard deviation per call,
``rel_std = √calls · error / |value|`` — the relative spread of the weights of a single
unstratified sample that would reach the same error with the same number of calls — and
``ess = calls / (1 + rel_std²)``, the identity that holds exactly for a plain sample.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

__all__ = ["IntegrationResult"]


class IntegrationResult(eqx.Module):
    """A Monte Carlo estimate with its error and diagnostics (all scalars).

    Attributes:
        value: the estimate of the integral (units of the integrand times the volume).
        error: its standard error (one σ).
        calls: number of integrand evaluations behind the estimate (int or integer array).
        rel_std: ``std(w) / mean(w)`` of the weights (effective value for composites, see
            the module docstring).
        chi2_dof: χ²/dof of the iterations about their weighted mean; NaN for one iteration.
        ess: effective sample size ``(Σ w)² / Σ w²``.
        unweighting_efficiency: ``mean(w) / w_max`` where computed, else NaN.
        n_iterations: number of independent iterations combined (int or integer array).
    """

    value: Array
    error: Array
    calls: int | Array
    rel_std: Array
    chi2_dof: Array
    ess: Array
    unweighting_efficiency: Array
    n_iterations: int | Array

    @classmethod
    def from_weights(
        cls, weights: ArrayLike, *, calls: int | None = None
    ) -> "IntegrationResult":
        """Plain Monte Carlo estimate from ``N`` independent weights ``w`` of shape ``(N,)``.

        ``value = mean(w)``, ``error = std(w, ddof=1) / √N``, ``rel_std = std(w) / mean(w)``
        (ddof=0, the benchmark metric), ``ess = (Σ w)² / Σ w²``. ``calls`` defaults to ``N``;
        pass it when more integrand evaluations stand behind the weights.
        """
        w = jnp.asarray(weights)
        if w.ndim != 1 or w.shape[0] < 2:
            raise ValueError(f"weights must have shape (N,) with N >= 2, got {w.shape}")
        if not jnp.issubdtype(w.dtype, jnp.floating):
            raise TypeError(f"weights must be floating point, got {w.dtype}")
        n = w.shape[0]
        mean = jnp.mean(w)
        nan = jnp.full((), jnp.nan, w.dtype)
        return cls(
            value=mean,
            error=jnp.std(w, ddof=1) / math.sqrt(n),
            calls=n if calls is None else calls,
            rel_std=jnp.std(w) / mean,
            chi2_dof=nan,
            ess=jnp.sum(w) ** 2 / jnp.sum(w**2),
            unweighting_efficiency=nan,
            n_iterations=1,
        )

    @classmethod
    def from_estimate(
        cls,
        value: ArrayLike,
        error: ArrayLike,
        calls: int | Array,
        *,
        chi2_dof: ArrayLike = jnp.nan,
        n_iterations: int | Array = 1,
    ) -> "IntegrationResult":
        """A result from an estimate and its error when the weights are not at hand.

        ``rel_std = √calls · error / |value|`` and ``ess = calls / (1 + rel_std²)`` are the
        effective per-call diagnostics (module docstring); ``unweighting_efficiency`` is NaN.
        """
        value = jnp.asarray(value)
        error = jnp.asarray(error, value.dtype)
        if value.ndim != 0 or error.ndim != 0:
            raise ValueError(
                f"value and error must be scalars, got shapes {value.shape}, {error.shape}"
            )
        rel_std = jnp.sqrt(jnp.asarray(calls, value.dtype)) * error / jnp.abs(value)
        return cls(
            value=value,
            error=error,
            calls=calls,
            rel_std=rel_std,
            chi2_dof=jnp.asarray(chi2_dof, value.dtype),
            ess=calls / (1 + rel_std**2),
            unweighting_efficiency=jnp.full((), jnp.nan, value.dtype),
            n_iterations=n_iterations,
        )

    @classmethod
    def combine(cls, results: Sequence["IntegrationResult"]) -> "IntegrationResult":
        """Inverse-variance weighted average of independent iterations (Lepage 1978).

        With estimates ``I_i ± σ_i`` (i = 1…n):
        ``Ī = Σ (I_i/σ_i²) / Σ (1/σ_i²)``, ``σ = (Σ 1/σ_i²)^(-1/2)``,
        ``χ²/dof = Σ (I_i − Ī)²/σ_i² / (n − 1)`` (NaN for n = 1). Calls and iterations add
        up. Every ``σ_i`` must be positive (checked with ``eqx.error_if``).
        """
        results = _non_empty(results, "combine")
        values = jnp.stack([r.value for r in results])
        errors = jnp.stack([r.error for r in results])
        errors = eqx.error_if(
            errors, ~(errors > 0), "IntegrationResult.combine needs positive errors"
        )
        inv_var = 1 / errors**2
        mean = jnp.sum(inv_var * values) / jnp.sum(inv_var)
        n = len(results)
        chi2_dof = jnp.sum(inv_var * (values - mean) ** 2) / (n - 1) if n > 1 else jnp.nan
        return cls.from_estimate(
            mean,
            1 / jnp.sqrt(jnp.sum(inv_var)),
            sum(r.calls for r in results),
            chi2_dof=chi2_dof,
            n_iterations=sum(r.n_iterations for r in results),
        )

    @classmethod
    def stratified(cls, results: Sequence["IntegrationResult"]) -> "IntegrationResult":
        """Sum of independent estimates of disjoint parts (strata, channels) of an integral.

        ``I = Σ_h I_h``, ``σ² = Σ_h σ_h²``, ``calls = Σ_h calls_h``; ``rel_std`` and
        ``ess`` are the effective per-call values of the total (module docstring), so they
        measure the gain of stratification over one unstratified sample of the same size.
        The iteration count is the largest of the parts' (the parts are sampled side by
        side); ``chi2_dof`` is NaN.
        """
        results = _non_empty(results, "stratified")
        values = jnp.stack([r.value for r in results])
        errors = jnp.stack([r.error for r in results])
        return cls.from_estimate(
            jnp.sum(values),
            jnp.sqrt(jnp.sum(errors**2)),
            sum(r.calls for r in results),
            n_iterations=max(r.n_iterations for r in results),
        )

    def __format__(self, spec: str) -> str:
        """``667.13 ± 0.21 (χ²/dof 0.9, 3 iterations, 1.0e6 calls)``.

        An empty ``spec`` rounds to two significant digits of the error; otherwise ``spec``
        (e.g. ``".4f"``) formats value and error.
        """
        value, error = float(self.value), float(self.error)
        if not spec:
            digits = 1 - math.floor(math.log10(error)) if math.isfinite(error) and error > 0 else 6
            spec = f".{max(digits, 0)}f"
        mantissa, exponent = f"{float(self.calls):.1e}".split("e")
        chi2 = float(self.chi2_dof)
        n_it = int(self.n_iterations)
        parts = ([] if math.isnan(chi2) else [f"χ²/dof {chi2:.2g}"]) + [
            f"{n_it} iteration{'s' if n_it != 1 else ''}",
            f"{mantissa}e{int(exponent)} calls",
        ]
        return f"{value:{spec}} ± {error:{spec}} ({', '.join(parts)})"

    def __str__(self) -> str:
        return format(self, "")


def _non_empty(results, name: str) -> list[IntegrationResult]:
    results = list(results)
    if not results or not all(isinstance(r, IntegrationResult) for r in results):
        raise TypeError(f"IntegrationResult.{name} needs a non-empty sequence of IntegrationResult")
    return results
