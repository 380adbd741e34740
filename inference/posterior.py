"""Bayesian posteriors of MEM (or any differentiable) likelihoods with NumPyro's NUTS.

The model is a plain NumPyro function: every parameter is drawn from its prior,
``θ_j ~ π_j``, and the summed per-event log-likelihood enters as
``numpyro.factor("log_likelihood", Σ_i log L(x_i | θ))``. With a MEM likelihood from a
fixed :class:`~diffsim.inference.mem.ProposalSample` (pathwise in ``θ``) the Hamiltonian
dynamics of NUTS (Hoffman & Gelman, JMLR 15 (2014) 1593) get exact gradients of the
Monte Carlo estimate. The returned ``numpyro.infer.MCMC`` converts with
``arviz.from_numpyro(mcmc)``.
"""

from collections.abc import Callable, Mapping

import jax
import numpyro
from jaxtyping import Array, Float, PRNGKeyArray
from numpyro.distributions import Distribution
from numpyro.infer import MCMC, NUTS

__all__ = ["likelihood_model", "run_nuts"]


def likelihood_model(
    log_likelihood: Callable[[dict[str, Array]], Float[Array, ""]],
    priors: Mapping[str, Distribution],
) -> Callable[[], None]:
    """A NumPyro model ``θ_j ~ priors[j]; factor(Σ log L(θ))`` (module docstring).

    ``log_likelihood`` takes the dict ``{name: value}`` of the sampled parameters (in the
    order of ``priors``) and returns the summed log-likelihood of the data set.
    """
    if not priors or not all(isinstance(p, Distribution) for p in priors.values()):
        raise TypeError("priors must be a non-empty mapping of names to numpyro distributions")
    names = tuple(priors)

    def model() -> None:
        theta = {name: numpyro.sample(name, priors[name]) for name in names}
        numpyro.factor("log_likelihood", log_likelihood(theta))

    return model


def run_nuts(
    key: PRNGKeyArray,
    model: Callable[..., None],
    *,
    num_warmup: int = 500,
    num_samples: int = 1000,
    num_chains: int = 1,
    progress: bool = False,
    **nuts_options,
) -> MCMC:
    """Sample ``model`` with NUTS (``nuts_options`` go to ``numpyro.infer.NUTS``).

    Returns the run ``MCMC`` object: ``mcmc.get_samples()`` for the draws,
    ``arviz.from_numpyro(mcmc)`` for diagnostics. Chains run one after another
    (``chain_method="sequential"``).
    """
    for name, value in (("num_warmup", num_warmup), ("num_samples", num_samples), ("num_chains", num_chains)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    mcmc = MCMC(
        NUTS(model, **nuts_options),
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="sequential",
        progress_bar=progress,
    )
    legacy_key = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    mcmc.run(legacy_key)
    return mcmc
