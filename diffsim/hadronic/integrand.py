"""A differentiable hadronic cross-section integrand on the unit hypercube.

    σ = Σ_ab ∫ dx₁ dx₂ f_a(x₁, μ_F) f_b(x₂, μ_F) (1/2ŝ) |M_ab|² dΦ_n × acceptance,

with ``r[..., :2]`` mapped to the momentum fractions by
:class:`~diffsim.phasespace.PartonFractions` (``τ`` through an invariant map — logarithmic
by default, Breit–Wigner to sit on a resonance — and ``y`` flat) and ``r[..., 2:]`` to the
final state by :class:`~diffsim.phasespace.RamboOnDiet` in the lab frame (the partonic
centre-of-mass momenta boosted by ``y``). The masses of the final state are those of the
parameters, so gradients w.r.t. masses flow through phase space and matrix element alike.
``E_r[weight] = σ`` in pb.

αs: ``alpha_s="pdf"`` takes ``α_s(μ_R)`` from the PDF set for every event (through the
parameter set's ``with_alpha_s``); ``alpha_s="model"`` keeps the parameter set's own
(fixed) value.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.hadronic.cuts import Cut
from diffsim.hadronic.process import HadronicProcess
from diffsim.hadronic.scales import Scale
from diffsim.phasespace import (
    InvariantMap,
    PartonFractions,
    PowerLawInvariant,
    RamboOnDiet,
    parton_momenta,
)
from diffsim.units import PB_PER_INVERSE_GEV2

__all__ = ["HadronicIntegrand", "IntegrandPoint", "Kinematics"]


class IntegrandPoint(eqx.Module):
    """What the integrand returns for a batch of points ``r (N, d)``.

    ``weight (N,)`` in pb; ``subprocess_weights (N, k)`` its split over the (channel,
    flavour pair) terms of the process (for choosing flavours of unweighted events);
    ``momenta (N, n, 4)`` lab frame, beam order; ``x (N, 2)``; ``mu_f (N,)`` GeV;
    ``diagram_weights (N, n_diagrams)`` the luminosity-weighted single-diagram squares
    ``Σ_ab f_a f_b |M_i|²`` (GeV-based, not in pb: multi-channel priors), when asked for.
    """

    weight: Float[Array, " N"]
    subprocess_weights: Float[Array, "N k"]
    momenta: Float[Array, "N n 4"]
    x: Float[Array, "N 2"]
    mu_f: Float[Array, " N"]
    diagram_weights: Float[Array, "N n_diagrams"] | None = None


class Kinematics(eqx.Module):
    """Phase-space points of a hadronic integrand: ``x (N, 2)`` momentum fractions,
    ``momenta (N, n, 4)`` in the lab (GeV, beam order) and ``log_w (N,)`` the log of the
    phase-space weight (ŝ and rapidity map times ``dΦ_n``)."""

    x: Float[Array, "N 2"]
    momenta: Float[Array, "N n 4"]
    log_w: Float[Array, " N"]


class HadronicIntegrand(eqx.Module):
    """``integrand(r) -> IntegrandPoint`` for a :class:`HadronicProcess` (module docstring).

    ``sqrt_s`` hadronic energy (GeV); ``pdf`` a :mod:`diffsim.pdf` set; ``mu_f``/``mu_r``
    scales (``mu_r=None``: same as ``mu_f``); ``cuts`` on the lab momenta; ``s_hat_min``
    and ``s_hat_max`` (GeV²) the range of ŝ (a lower bound is required when the final state
    is massless, e.g. from an m_ℓℓ cut; ``None`` for the upper means ``S``; disjoint ranges
    of several integrands add up); ``s_hat_map`` the invariant map of ŝ.
    """

    process: HadronicProcess
    pdf: eqx.Module
    sqrt_s: Float[Array, ""] | float
    mu_f: Scale
    mu_r: Scale | None = None
    cuts: tuple[Cut, ...] = ()
    s_hat_min: float = 0.0
    s_hat_max: float | None = None
    s_hat_map: InvariantMap = PowerLawInvariant(nu=1.0)
    alpha_s: str = eqx.field(static=True, default="pdf")

    def __check_init__(self):
        if self.alpha_s not in ("pdf", "model"):
            raise ValueError(f"alpha_s must be 'pdf' or 'model', got {self.alpha_s!r}")
        masses = self.process.final_masses()
        concrete = not isinstance(masses, jax.core.Tracer)  # masses may be traced under grad
        if self.s_hat_min <= 0 and concrete and float(jnp.sum(masses)) == 0.0:
            raise ValueError(
                f"{self.process.name}: a massless final state needs s_hat_min > 0 GeV² "
                "(e.g. the square of an invariant-mass cut)"
            )

    @property
    def n_dims(self) -> int:
        """Dimension of the unit hypercube: 2 momentum fractions + ``3n − 4`` for ``n`` final particles."""
        return 2 + 3 * len(self.process.channels[0].process.externals[2:]) - 4

    @property
    def amplitude_kernels(self) -> bool:
        """True: the matrix elements dominate an evaluation, so programs around it compile
        with :func:`diffsim.kernel_jit`'s settings (:func:`~diffsim.kernel_compilation.uses_amplitude_kernels`)."""
        return True

    @property
    def channels(self):
        """The diagram topologies of each partonic channel (for multi-channel mappings)."""
        return tuple(channel.process.diagrams for channel in self.process.channels)

    def parton_densities(self, x, mu_f):
        """Number densities ``f(x_i, μ_F)`` per beam and parton id (one PDF call for both)."""
        flavours = self.pdf.flavours
        values = self.pdf.xfxQ_all(jnp.moveaxis(x, -1, 0), mu_f) / jnp.moveaxis(x, -1, 0)[..., None]
        result = []
        for beam_values, beam, needed in zip(values, self.process.beams, self.process.partons()):
            conjugate = beam < 0
            result.append(
                {pid: beam_values[..., flavours.index(-pid if conjugate and pid != 21 else pid)] for pid in needed}
            )
        return result

    def __call__(
        self, r: Float[Array, "N d"], params: eqx.Module | None = None, *, diagram_weights: bool = False
    ) -> IntegrandPoint:
        """The weights at points ``r``; with ``diagram_weights`` also the single-diagram
        weights, from the same evaluation of the amplitudes (:class:`IntegrandPoint`)."""
        return self.evaluate(self.kinematics(r, params), params, diagram_weights=diagram_weights)

    def kinematics(self, r: Float[Array, "N d"], params: eqx.Module | None = None) -> "Kinematics":
        """The momentum fractions and lab momenta at ``r`` and their phase-space weight."""
        r = jnp.asarray(r)
        if r.shape[-1] != self.n_dims:
            raise ValueError(f"{self.process.name}: the integrand needs r[..., {self.n_dims}], got {r.shape}")
        params = self.process.params if params is None else params
        masses = self.process.final_masses(params)
        threshold = jnp.maximum(jnp.asarray(self.s_hat_min, r.dtype), jnp.sum(masses) ** 2)
        s_hadronic = jnp.asarray(self.sqrt_s, r.dtype) ** 2
        x, log_w = PartonFractions(self.s_hat_map).forward(r[..., :2], s_hadronic, threshold, self.s_hat_max)
        incoming = parton_momenta(x, s_hadronic)
        final, log_w_final = RamboOnDiet(masses).forward(r[..., 2:], jnp.sum(incoming, axis=-2))
        return Kinematics(x, jnp.concatenate([incoming, final], axis=-2), log_w + log_w_final)

    def evaluate(
        self, kinematics: "Kinematics", params: eqx.Module | None = None, *, diagram_weights: bool = False
    ) -> IntegrandPoint:
        """The weights at given kinematics (from :meth:`kinematics`, possibly of several
        ŝ maps joined: the amplitudes and PDFs then run once for all of them)."""
        params = self.process.params if params is None else params
        x, momenta = kinematics.x, kinematics.momenta
        mu_f = self.mu_f(momenta)
        if self.alpha_s == "pdf":
            mu_r = mu_f if self.mu_r is None else self.mu_r(momenta)
            params = params.with_alpha_s(self.pdf.alphasQ(mu_r))
        s_hat = x[..., 0] * x[..., 1] * jnp.asarray(self.sqrt_s, x.dtype) ** 2
        factor = jnp.exp(kinematics.log_w) / (2.0 * s_hat) * PB_PER_INVERSE_GEV2
        for cut in self.cuts:
            factor = factor * cut(momenta)
        densities = self.parton_densities(x, mu_f)
        squares = None
        if diagram_weights:
            terms, squares = self.process.weights_and_diagram_weights(momenta, densities, params)
        else:
            terms = self.process.weights(momenta, densities, params)
        terms = terms * factor[..., None]
        return IntegrandPoint(jnp.sum(terms, axis=-1), terms, momenta, x, mu_f, squares)
