"""MEM fit of the Z′ mass and lepton coupling in p p → Z′ → e⁺e⁻ at 13 TeV (issue 6, study (c)).

Pseudo-data: hard events of ``p p > e+ e-`` (γ + Z + Z′, :mod:`diffsim.models.zprime`,
NNPDF31_lo, μ_F = 400 GeV) in the hard mass window 300 < m_ee < 500 GeV, unweighted
(hit-or-miss, :func:`diffsim.inference.unweight`) with the electron acceptance ε of
``Detector.default()`` folded in, then smeared with its electron response (ECal
σ_E/E = 10.1 %/√E ⊕ 0.17 %, σ_η = σ_φ = 0.005). Parameters ``θ = {"mzp", "kappa"}``:
the Z′ mass (GeV) and one scale factor of its lepton couplings,
``κ_V^ℓ = κ_A^ℓ = kappa`` (the width stays Γ_Z′ = 0.5 GeV, so ``kappa`` moves the Z′
peak against the γ/Z continuum in the window).

MEM likelihood (:mod:`diffsim.inference.mem`) of a reconstructed event x = (e⁺, e⁻):

    L(x | θ) = (1/σ_fid(θ)) ∫ ds dη₊ dη₋ dφ  dσ/(ds dη₊ dη₋ dφ) · W(e⁺_reco | e⁺) W(e⁻_reco | e⁻),

over hard events with the two electrons back to back in the transverse plane. With
``S = 13 TeV²`` and the lab pseudorapidities η± (massless: rapidities),
``dx₁ dx₂ dΦ₂ = ds dη₊ dη₋ dφ / (32π² S (1 + cosh Δη))`` (from
``dσ/dy₁dy₂dp_T² = x₁f₁ x₂f₂ |M|² / (16π ŝ²)``), ``p_T² = s / (2 (1 + cosh Δη))`` and
``x₁,₂ = (E ± p_z)/√S`` of the pair, so

    dσ/(ds dη₊ dη₋ dφ) = Σ_ab f_a(x₁) f_b(x₂) |M_ab|² / (2s) / (32π² S (1 + cosh Δη))  [pb/GeV²].

The unit cube maps to these variables around the event, as in MoMEMta (arXiv:1805.08555):
``m = √s = m_reco + w Φ⁻¹(r)`` with ``w`` = 1.5 × the event's mass resolution
(``σ_m/m = ½ √((σ_E/E)₊² + (σ_E/E)₋²)`` at the reco energies), ``η± = η±_reco + σ_η Φ⁻¹(r)``
and ``φ = φ̄_reco + (σ_φ/√2) Φ⁻¹(r)`` around the combined azimuth of the e⁻ and the
back-to-back e⁺; points outside the window carry zero. The map depends on the event only,
so the hard momenta of a fixed sample do not move with θ and the θ-gradient runs through
the couplings and propagators alone. The fit's sample is uniform in these variables
(``--points`` per event, default 512): the points do not concentrate on the Z′ peak at any
one mass, so ``Î(MZ′)`` is smooth (about 70 points per event lie within ±Γ of the peak,
0.015 GeV apart, for Γ = 0.5 GeV) and has no pull towards a mass it was adapted at. (A
per-event VEGAS grid adapted at θ_a concentrates on the peak at θ_a; the log of a Monte
Carlo integral is biased low by about half its relative variance, which grows away from
θ_a, and the fits were pulled towards θ_a by ≈ σ_m²/(KΓ²) of the distance, with a
curvature at the minimum ~30 % above that of the scan. Per-event VEGAS and flow proposals
for this integrand are compared in ``benchmarks/mem.py``, in a second, *peaked* map of
the cube (``ZPrimeMEM.peaked_integrand``): ``s`` from the estimated marginal density of
the integrand, the line shape at M₀ = 400 GeV times the transfer density, tabulated per
event, ``η±`` from the linearised detector response given ``m``; flat sampling of the same
events needs about 10⁵× fewer points there, about one per event for 1 %.) ``σ_fid(θ) = ∫ dσ ε`` over
the window is the hadronic integrand (:class:`~diffsim.hadronic.HadronicIntegrand`) on
fixed midpoint grids in two ŝ channels (:meth:`ZPrimeMEM.sigma_fid`). ``W`` is the analytic electron response or a learned
:class:`~diffsim.detector.TransferFlow` (both densities in (E, η, φ) per object).

The study: a fixed uniform sample, a damped-Newton fit of (MZ′, κ) with Hessian errors
(forward-mode derivatives), and a grid scan of MZ′ at the fitted κ.
Writes ``mem_zprime_fit.png`` (−2ΔlnL vs MZ′: the scan and the fit's parabola).

    python examples/mem_zprime_fit.py [--events 200] [--points 512] [--grid 11] [--out mem_zprime_fit.png]

The defaults run in about 2 minutes on two CPU cores; ``--events 1000``, the size of the
issue's study, takes several minutes.
"""

import argparse
import functools
import math
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from matplotlib.figure import Figure

import diffsim
from diffsim import pdf as pdfs
from diffsim.detector import Detector, ObjectResponse, TransferFlow, coordinates
from diffsim.hadronic import FixedScale, HadronicIntegrand
from diffsim.inference import (
    ProposalSample,
    fit_max_likelihood,
    mem_log_likelihood,
    unweight,
)
from diffsim.kinematics import invariant_mass
from diffsim.models import zprime
from diffsim.phasespace import (
    BreitWignerInvariant,
    FlatInvariant,
    TabulatedInvariant,
)
from diffsim.units import PB_PER_INVERSE_GEV2

SQRT_S = 13000.0
WINDOW = (300.0, 500.0)
TRUTH = {"mzp": 400.0, "kappa": 1.0}
MASS_RESOLUTION = 2.5
"""Typical m_ee resolution at the Z′ (GeV), only to standardise the proposal features."""
PEAK_SHARE_RANGE = (0.001, 0.999)
"""Bounds of the estimated Z′ peak share (:meth:`ZPrimeMEM.peak_share`), which keep its logit,
a proposal feature, finite."""
MARGINAL_FLOOR = 1e-12
"""Floor of the peaked mass map's density, relative to its maximum, so that no ``s`` in the
window is unreachable. It sends about ``250 × floor`` of the points (the window spans 250
times the Breit–Wigner's ``π M₀Γ`` in ``s``) where the integrand is nil: flat sampling of 100 of the study's events,
RMS relative spread per call 0.017 at a floor of 10⁻⁶, 0.0086 at 10⁻⁹ and below."""
PEAK_PROBE = 10.0
"""Distance, in Z′ widths ``M₀Γ`` in ``s``, of the two off-peak probes of :meth:`ZPrimeMEM.line_shape`."""
PEAK_HALF_WIDTHS = 5.0
"""Half-width, in Z′ widths Γ, of the mass range that :meth:`ZPrimeMEM.peak_share` calls the peak."""
GAUSS_NEWTON_STEPS = 3


class ZPrimeMEM(eqx.Module):
    """The MEM integrand, fiducial cross section, pseudo-data and proposal features of study (c).

    Attributes:
        hadronic: ``p p > e+ e-`` at 13 TeV in the hard window (its process, PDFs and scale;
            ``σ_fid`` integrates it).
        electron: the detector's electron response (acceptance, smearing of pseudo-data and
            the widths of the angular maps).
        transfer: what ``W`` is: ``electron`` (analytic) or a learned :class:`TransferFlow`.
        fid_nodes: static midpoint nodes ``(n_s, n_y, n_cos)`` of each channel of the
            ``σ_fid`` grid.
    """

    hadronic: HadronicIntegrand
    electron: ObjectResponse
    transfer: ObjectResponse | TransferFlow
    fid_nodes: tuple[int, int, int] = eqx.field(static=True, default=(48, 24, 24))

    dim = 4
    """Dimension of the MEM integration (s, η₊, η₋, φ)."""

    @classmethod
    def build(cls, transfer: TransferFlow | None = None, **kwargs) -> "ZPrimeMEM":
        """The study with NNPDF31_lo and ``Detector.default()`` (analytic ``W`` unless given)."""
        peak = BreitWignerInvariant(TRUTH["mzp"], zprime.ZPrimeModel().wzp)
        hadronic = HadronicIntegrand(zprime.hadronic_process("p p > e+ e-"), pdfs.load(), SQRT_S,
                                     mu_f=FixedScale(400.0), s_hat_min=WINDOW[0] ** 2,
                                     s_hat_max=WINDOW[1] ** 2, s_hat_map=peak, alpha_s="model")
        electron = Detector.default().electron
        return cls(hadronic, electron, electron if transfer is None else transfer, **kwargs)

    @staticmethod
    def params(theta: dict) -> zprime.ZPrimeModel:
        """The Z′ model at ``θ`` (module docstring)."""
        return zprime.ZPrimeModel(mzp=theta["mzp"], kappa_vector_lepton=theta["kappa"],
                                  kappa_axial_lepton=theta["kappa"])

    def efficiency(self, momenta):
        """``ε(e⁺) ε(e⁻)`` of hard momenta ``(..., 4, 4)`` (beam order)."""
        return self.electron.efficiency(momenta[..., 2, :]) * self.electron.efficiency(momenta[..., 3, :])

    def hard_momenta(self, s, eta_plus, eta_minus, phi_minus):
        """Lab momenta ``(N, 4, 4)`` (partons, e⁺, e⁻) and ``x (N, 2)`` of back-to-back
        massless electrons with pair mass² ``s`` (GeV²) and the given η± and e⁻ azimuth."""
        pt = jnp.sqrt(s / (2 * (1 + jnp.cosh(eta_plus - eta_minus))))

        def electron(eta, azimuth):
            return jnp.stack([pt * jnp.cosh(eta), pt * jnp.cos(azimuth), pt * jnp.sin(azimuth),
                              pt * jnp.sinh(eta)], -1)

        plus, minus = electron(eta_plus, phi_minus + math.pi), electron(eta_minus, phi_minus)
        pair = plus + minus
        x = jnp.stack([pair[:, 0] + pair[:, 3], pair[:, 0] - pair[:, 3]], -1) / SQRT_S
        beam = 0.5 * SQRT_S * x[..., None] * jnp.array([1.0, 0.0, 0.0, 1.0], s.dtype)
        beam = beam * jnp.array([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, -1.0]], s.dtype)
        return jnp.concatenate([beam, plus[:, None], minus[:, None]], 1), x

    def differential(self, momenta, x, s, theta):
        """``dσ/(ds dη₊ dη₋ dφ)`` [pb/GeV²] (module docstring); zero where ``x ≥ 1``."""
        inside = jnp.all(x < 1, -1)
        x = jnp.where(inside[:, None], x, 0.5)  # double-where: no PDF call outside (0, 1)
        densities = self.hadronic.parton_densities(x, self.hadronic.mu_f(momenta))
        me = jnp.sum(self.hadronic.process.weights(momenta, densities, self.params(theta)), -1)
        eta = coordinates(momenta[:, 2])[1], coordinates(momenta[:, 3])[1]
        jacobian = 1 / (32 * math.pi**2 * SQRT_S**2 * (1 + jnp.cosh(eta[0] - eta[1])))
        return jnp.where(inside, me / (2 * s) * PB_PER_INVERSE_GEV2 * jacobian, 0.0)

    def integrand(self, r, reco, theta):
        """``f(r, x_reco, θ)`` for one event ``reco (2, 4)`` (e⁺, e⁻) at points ``r (N, 4)``
        [pb/GeV²]: ``dσ · W · |∂(s, η₊, η₋, φ)/∂r|`` in the resolution map (module
        docstring). Rematerialised under reverse-mode differentiation
        (``jax.checkpoint``): gradients of many points keep only the inputs, not the
        matrix-element intermediates."""
        return eqx.filter_checkpoint(ZPrimeMEM._integrand)(self, r, reco, theta, peaked=False)

    def peaked_integrand(self, r, reco, theta):
        """:meth:`integrand` in the peaked map (:meth:`peaked_variables`): the same
        integral, with a variance that no longer hinges on the Z′ peak (flat sampling of
        100 of the study's events, RMS relative spread per call 3.6 → 0.0083). What the proposal
        benchmarks integrate; its points gather at ``M₀``, so a fit of MZ′ with a fixed
        sample in this map is pulled towards ``M₀`` (module docstring)."""
        return eqx.filter_checkpoint(ZPrimeMEM._integrand)(self, r, reco, theta, peaked=True)

    def mass_map_width(self, reco):
        """``w`` of the mass map (GeV): 1.5 × the resolution of ``m_reco`` of ``reco (2, 4)``."""
        relative = [self.electron.sigmas(p[0])[0] / p[0] for p in reco]
        return 1.5 * 0.5 * invariant_mass(reco) * jnp.hypot(*relative)

    def linearised_hard_variables(self, reco):
        """Gaussian approximation of ``W(x_reco | m, η₊, η₋)`` as a density of the hard
        ``v = (m [GeV], η₊, η₋)`` of one event ``reco (2, 4)``: ``(v̂ (3,), Σ (3, 3))``.

        The hard electrons' energies ``E± = p_T cosh η±`` with ``p_T = m/√(2(1 + cosh Δη))``
        and their pseudorapidities are measured with the resolutions at the reco energies;
        :data:`GAUSS_NEWTON_STEPS` Gauss–Newton steps from ``(m_reco, η±_reco)`` find the
        best-fitting ``v̂`` and ``Σ = (JᵀJ)⁻¹`` of the resolution-scaled Jacobian ``J`` there
        (Laplace's approximation; the energies and angles are correlated, since moving an
        η at fixed ``m`` changes both energies)."""
        energies, etas = [coordinates(p)[0] for p in reco], [coordinates(p)[1] for p in reco]
        measured = jnp.stack([*energies, *etas])
        sigma = jnp.stack([self.electron.sigmas(e)[0] for e in energies] + [self.electron.sigma_eta] * 2)

        def predicted(v):
            momenta, _ = self.hard_momenta(v[:1] ** 2, v[1:2], v[2:3], jnp.zeros(1, v.dtype))
            return jnp.concatenate([momenta[0, 2:, 0], v[1:]]) / sigma

        v = jnp.stack([invariant_mass(reco), *etas])
        for _ in range(GAUSS_NEWTON_STEPS):
            jacobian = jax.jacfwd(predicted)(v)
            v = v + jnp.linalg.solve(jacobian.T @ jacobian, jacobian.T @ (measured / sigma - predicted(v)))
        jacobian = jax.jacfwd(predicted)(v)
        return v, jnp.linalg.inv(jacobian.T @ jacobian)

    def peaked_mass_map(self, reco):
        """The ``s`` map of :meth:`peaked_variables` for one event ``reco (2, 4)``: a
        :class:`~diffsim.phasespace.TabulatedInvariant` of the estimated marginal density
        of the integrand in ``s`` (:meth:`marginal_log_density`), which carries the Z′
        peak and the mass measurement together."""
        return self._mass_table(reco, *self.linearised_hard_variables(reco))

    def marginal_log_density(self, reco, v, cov, s):
        """Estimated ``log ∫ dη₊ dη₋ dφ f`` (up to a constant) at ``s (K,)`` [GeV²] for one
        event ``reco (2, 4)`` with the linearisation ``(v̂, Σ)`` of
        :meth:`linearised_hard_variables`: ``log h(s) + log W(x_reco | ridge(s))``.

        ``h`` is :meth:`line_shape`; the ridge is the hard event at ``m = √s`` with η± at
        their mean given ``m`` (``_conditional_eta_mean``) and the reco e⁻ azimuth. In the
        Laplace approximation the integral of ``W`` over η± at fixed ``m`` is ``W`` on the
        ridge times a constant, and ``dσ`` varies little across the η± resolution."""
        momenta, _ = self._ridge(reco, v, cov, s)
        log_w = self.transfer.log_transfer(reco[0], momenta[:, 2]) + self.transfer.log_transfer(reco[1], momenta[:, 3])
        continuum, peak, interference = self.line_shape(reco, v, cov)
        mass, width = self.hadronic.s_hat_map.mass, self.hadronic.s_hat_map.width
        x = (s - mass**2) / (mass * width)
        h = continuum + (peak + interference * x) / (1 + x**2)
        return jnp.log(jnp.maximum(h, 0.0)) + log_w  # -inf where the estimate is not positive

    def line_shape(self, reco, v, cov):
        """``(c, P, I)`` [pb/GeV²] of ``h(s) = c + (P + I x)/(1 + x²)``, ``x = (s − M₀²)/(M₀Γ)``:
        the differential ``dσ`` at the reference θ₀ (the truth) on the ridge of
        :meth:`marginal_log_density` as a continuum ``c``, the Z′ Breit–Wigner ``P`` and its
        interference with γ/Z ``I`` (odd about the peak), from three evaluations of ``dσ``:
        at ``x = 0`` and ``x = ∓k`` (``k`` = :data:`PEAK_PROBE`), where ``h = c + P`` and
        ``c + (P ∓ I k)/(1 + k²)``. ``c`` is clipped at zero: at the Z′ it is below 10⁻⁶ of
        ``P``, which the probes do not resolve against the slope of the PDFs (zero for 81 % of
        the study's events, at most 1.4 × 10⁻⁶ ``P`` in 200); ``|I|/P`` is up to 0.004."""
        mass, width = self.hadronic.s_hat_map.mass, self.hadronic.s_hat_map.width
        s = mass**2 + mass * width * PEAK_PROBE * jnp.array([0.0, -1.0, 1.0])
        momenta, x = self._ridge(reco, v, cov, s)
        h = self.differential(momenta, x, s, {k: jnp.asarray(t, s.dtype) for k, t in TRUTH.items()})
        tails = 1 + PEAK_PROBE**2
        peak = (h[0] - 0.5 * (h[1] + h[2])) * tails / PEAK_PROBE**2
        interference = (h[2] - h[1]) * tails / (2 * PEAK_PROBE)
        return jnp.maximum(h[0] - peak, 0.0), peak, interference

    def peak_share(self, reco, v, cov):
        """Share of the Z′ peak in the integral over ``s`` of one event ``reco (2, 4)``, a
        proposal feature (:meth:`context`): the mass of the peaked map's density
        (:meth:`_mass_table`) within ``M₀ ± PEAK_HALF_WIDTHS Γ``, clipped to
        :data:`PEAK_SHARE_RANGE`."""
        mass, width = self.hadronic.s_hat_map.mass, self.hadronic.s_hat_map.width
        edges = (mass + PEAK_HALF_WIDTHS * width * jnp.array([-1.0, 1.0])) ** 2
        cdf, _ = self._mass_table(reco, v, cov).inverse(edges, WINDOW[0] ** 2, WINDOW[1] ** 2)
        return jnp.clip(cdf[1] - cdf[0], *PEAK_SHARE_RANGE)

    def _ridge(self, reco, v, cov, s):
        """Hard momenta ``(K, 4, 4)`` and ``x (K, 2)`` at ``s (K,)`` with η± at their mean
        given ``m = √s`` and the reco e⁻ azimuth."""
        etas = _conditional_eta_mean(v, cov, jnp.sqrt(s))
        return self.hard_momenta(s, etas[:, 0], etas[:, 1], coordinates(reco[1])[2] * jnp.ones_like(s))

    def _mass_table(self, reco, v, cov):
        """Nodes: the mass measurement every half ``σ_m`` out to ±7 ``σ_m``, the Breit–Wigner
        at equal steps of ``arctan x`` and the window every 5 GeV (all in ``m``, clipped to
        the window); the floor :data:`MARGINAL_FLOOR` keeps every ``s`` reachable."""
        mass, width = self.hadronic.s_hat_map.mass, self.hadronic.s_hat_map.width
        masses = jnp.concatenate([v[0] + jnp.sqrt(cov[0, 0]) * jnp.linspace(-7.0, 7.0, 29),
                                  jnp.linspace(*WINDOW, 41)])
        s = jnp.concatenate([masses**2, mass**2 + mass * width * jnp.tan(jnp.linspace(-1.55, 1.55, 41))])
        s = jnp.sort(jnp.clip(s, WINDOW[0] ** 2, WINDOW[1] ** 2))
        log_q = self.marginal_log_density(reco, v, cov, s)
        log_q = jnp.logaddexp(log_q, jnp.max(log_q) + math.log(MARGINAL_FLOOR))
        return TabulatedInvariant(*jax.lax.stop_gradient((s, log_q)))

    def peaked_variables(self, r, reco):
        """``(s, η₊, η₋, φ, log|∂(s, η₊, η₋, φ)/∂r|, inside)`` at points ``r (N, 4)`` of the
        peaked map (``s`` [GeV²] always inside the window here).

        A change of variables in the spirit of MoMEMta's blocks (arXiv:1805.08555): ``s``
        from :meth:`peaked_mass_map` over the window (the estimated marginal density in
        ``s``: the Z′ line shape times the transfer density), then ``(η₊, η₋)`` from the normal
        density of :meth:`linearised_hard_variables` conditional on ``m = √s``, and ``φ``
        as in the resolution map. Continuous in ``r``, so pathwise flow training sees
        every point move smoothly."""
        v, cov = self.linearised_hard_variables(reco)
        s, log_ds = self._mass_table(reco, v, cov).forward(r[:, 0], WINDOW[0] ** 2, WINDOW[1] ** 2)
        conditional = cov[1:, 1:] - jnp.outer(cov[1:, 0], cov[0, 1:]) / cov[0, 0]
        scale = jnp.linalg.cholesky(conditional)
        z = ndtri(r[:, 1:])
        etas = _conditional_eta_mean(v, cov, jnp.sqrt(s)) + z[:, :2] @ scale.T
        phi, log_dphi = self._azimuth(z[:, 2], reco)
        log_gauss = -0.5 * jnp.sum(z[:, :2] ** 2, -1) - math.log(2 * math.pi)
        log_jacobian = log_ds + jnp.linalg.slogdet(scale)[1] - log_gauss + log_dphi
        return s, etas[:, 0], etas[:, 1], phi, log_jacobian, jnp.ones(s.shape, bool)

    def resolution_variables(self, r, reco):
        """``(s, η₊, η₋, φ, log|∂(s, η₊, η₋, φ)/∂r|, inside)`` at points ``r (N, 4)`` of the
        resolution map (module docstring); ``s`` [GeV²] outside the window is set to ``M₀²``
        and ``inside`` false (the integrand is zero there)."""
        z = ndtri(r)
        width = self.mass_map_width(reco)
        mass = invariant_mass(reco) + width * z[:, 0]
        inside = (mass > WINDOW[0]) & (mass < WINDOW[1])
        mass = jnp.where(inside, mass, TRUTH["mzp"])  # double-where: finite values outside
        _, eta_plus_reco, _ = coordinates(reco[0])
        _, eta_minus_reco, _ = coordinates(reco[1])
        sigma_eta = self.electron.sigma_eta
        phi, log_dphi = self._azimuth(z[:, 3], reco)
        log_gauss = -0.5 * jnp.sum(z[:, :3] ** 2, -1) - 1.5 * math.log(2 * math.pi)
        log_jacobian = jnp.log(2 * mass * width) + 2 * jnp.log(sigma_eta) - log_gauss + log_dphi
        etas = eta_plus_reco + sigma_eta * z[:, 1], eta_minus_reco + sigma_eta * z[:, 2]
        return mass**2, *etas, phi, log_jacobian, inside

    def _azimuth(self, z, reco):
        """The e⁻ azimuth ``φ = φ̄_reco + (σ_φ/√2) z`` and ``log|dφ/dΦ(z)|`` (module docstring)."""
        _, _, phi_plus_reco = coordinates(reco[0])
        _, _, phi_minus_reco = coordinates(reco[1])
        shift = jnp.remainder(phi_plus_reco - math.pi - phi_minus_reco + math.pi, 2 * math.pi) - math.pi
        sigma_phi = self.electron.sigma_phi / math.sqrt(2)
        return phi_minus_reco + 0.5 * shift + sigma_phi * z, jnp.log(sigma_phi) + 0.5 * z**2 + 0.5 * math.log(2 * math.pi)

    def _integrand(self, r, reco, theta, *, peaked):
        variables = self.peaked_variables if peaked else self.resolution_variables
        s, eta_plus, eta_minus, phi, log_jacobian, inside = variables(r, reco)
        momenta, x = self.hard_momenta(s, eta_plus, eta_minus, phi)
        log_w = self.transfer.log_transfer(reco[0], momenta[:, 2]) + self.transfer.log_transfer(reco[1], momenta[:, 3])
        value = self.differential(momenta, x, s, theta) * jnp.exp(log_w + log_jacobian)
        return jnp.where(inside, value, 0.0)

    def sigma_fid(self, theta):
        """``∫ dσ ε`` over the window [pb] on fixed midpoint grids of ``fid_nodes`` (the
        azimuth is irrelevant), with ŝ sampled by two channels: the hadronic integrand's
        Breit–Wigner map at ``M₀`` and a flat map, combined with the multi-channel weights
        ``q_c(ŝ)/Σ q`` (each channel integrates ``f/Σ q``, bounded everywhere: the peak and
        the γ/Z continuum with the Breit–Wigner tails are both resolved, at any κ). Evaluated
        in rematerialised chunks of ``n_y · n_cos`` points (bounded memory under
        differentiation)."""
        axes = [(jnp.arange(n) + 0.5) / n for n in self.fid_nodes]
        grid = jnp.stack([g.ravel() for g in jnp.meshgrid(*axes, indexing="ij")], -1)
        r = jnp.concatenate([grid, jnp.full_like(grid[:, :1], 0.5)], -1).reshape(self.fid_nodes[0], -1, 4)
        params = self.params(theta)
        total = 0.0
        for channel, s_map in enumerate(self.fiducial_maps):
            hadronic = eqx.tree_at(lambda h: h.s_hat_map, self.hadronic, s_map)
            chunk_sum = functools.partial(_fiducial_sum, self, hadronic, params, channel)
            total = total + jnp.sum(jax.lax.map(chunk_sum, r))
        return total / (r.shape[0] * r.shape[1])

    @property
    def fiducial_maps(self):
        """The ŝ maps of the ``σ_fid`` channels: Breit–Wigner at ``M₀`` and flat."""
        return self.hadronic.s_hat_map, FlatInvariant()

    def channel_weight(self, s, channel):
        """``q_c(ŝ) / Σ_c' q_c'(ŝ)`` of channel ``c`` (an index into :attr:`fiducial_maps`)."""
        limits = WINDOW[0] ** 2, WINDOW[1] ** 2
        log_q = jnp.stack([-m.inverse(s, *limits)[1] for m in self.fiducial_maps])
        return jnp.exp(log_q[channel] - jax.nn.logsumexp(log_q, 0))

    def context(self, reco):
        """Proposal features of one event ``reco (2, 4)``, from
        :meth:`linearised_hard_variables` and :meth:`peak_share`:
        ``((m̂ − M₀)/σ_m, σ_m/2.5 GeV − 1, (η̂₊ − η̂₋)/2, logit a)``, where the Z′ peak sits
        against the measured mass, how sharp that measurement is, and the share ``a`` of
        the Breit–Wigner in the integral over ``s``."""
        v, cov = self.linearised_hard_variables(reco)
        width = jnp.sqrt(cov[0, 0])
        share = self.peak_share(reco, v, cov)
        return jnp.stack([(v[0] - TRUTH["mzp"]) / width, width / MASS_RESOLUTION - 1, 0.5 * (v[1] - v[2]),
                          jnp.log(share / (1 - share))])

    def generate(self, key, theta, n, n_draw=None):
        """``n`` accepted events at ``θ``: hard momenta ``(n, 4, 4)`` (unweighted from
        ``dσ ε``, ``w_max`` the largest of ``n_draw`` weights) and reco ``(n, 2, 4)``."""
        n_draw = 8 * n + 1000 if n_draw is None else n_draw
        r_key, unweight_key, smear_key = jax.random.split(key, 3)
        r = jax.random.uniform(r_key, (n_draw, self.hadronic.n_dims))
        point = self.hadronic(r, self.params(theta))
        weights = point.weight * self.efficiency(point.momenta)
        (index,) = jnp.nonzero(unweight(unweight_key, weights, jnp.max(weights)).accepted, size=n)
        hard = eqx.error_if(point.momenta[index], index[-1] == 0, "too few events accepted: raise n_draw")
        return hard, self.electron.smear(smear_key, hard[:, 2:])


def _conditional_eta_mean(v, cov, mass):
    """Mean ``(N, 2)`` of ``(η₊, η₋)`` given ``m = mass (N,)`` [GeV] under the normal density
    ``(v̂, Σ)`` of :meth:`ZPrimeMEM.linearised_hard_variables`."""
    return v[1:] + cov[1:, 0] / cov[0, 0] * (mass - v[0])[:, None]


@eqx.filter_checkpoint
def _fiducial_sum(study, hadronic, params, channel, r):
    """``Σ dσ ε α_c`` over points ``r (N, 4)`` of the hadronic integrand of ``σ_fid`` channel
    ``c`` (``hadronic`` with that channel's ŝ map; rematerialised)."""
    point = hadronic(r, params)
    weight = study.channel_weight(invariant_mass(point.momenta[:, 2:]) ** 2, channel)
    return jnp.sum(point.weight * study.efficiency(point.momenta) * weight)


def negative_log_likelihood(study, events, sample, theta):
    """``−Σ_i log L(x_i | θ)`` of reconstructed ``events (E, 2, 4)`` with a fixed sample
    (events in chunks of 50, bounding memory)."""
    return -jnp.sum(mem_log_likelihood(study.integrand, study.sigma_fid, events, sample, theta, batch_size=50)[0])


@diffsim.kernel_jit
def fit(study, events, sample, theta0):
    """Damped-Newton fit of θ (:func:`~diffsim.inference.fit_max_likelihood`) with a fixed
    sample, derivatives in forward mode (two parameters: no reverse tape of the matrix
    elements, and one compiled copy of the likelihood with its exact Hessian)."""
    return fit_max_likelihood(lambda theta: negative_log_likelihood(study, events, sample, theta), theta0,
                              gtol=1e-4, derivatives="forward", method="newton")


def uniform_sample(key, events, n_points):
    """``n_points`` uniform points per event (``ProposalSample``, ``log q = 0``)."""
    r = jax.random.uniform(key, (events.shape[0], n_points, ZPrimeMEM.dim), dtype=events.dtype)
    return ProposalSample(r, jnp.zeros(r.shape[:2], events.dtype))


generate = eqx.filter_jit(ZPrimeMEM.generate)
"""Jitted :meth:`ZPrimeMEM.generate` (the study is an argument, not a baked-in constant)."""
nll = diffsim.kernel_jit(negative_log_likelihood)
"""Jitted :func:`negative_log_likelihood`, compiled with the amplitude-kernel settings as it is
mostly matrix elements (so is :func:`fit`)."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="pseudo-data events")
    parser.add_argument("--points", type=int, default=512, help="MEM points per event")
    parser.add_argument("--grid", type=int, default=11, help="MZ′ grid points of the scan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="mem_zprime_fit.png")
    args = parser.parse_args(argv)
    diffsim.enable_x64()
    key = jax.random.key(args.seed)
    study = ZPrimeMEM.build()
    _, events = generate(study, jax.random.fold_in(key, 0), TRUTH, args.events)
    start = {"mzp": jnp.asarray(401.0), "kappa": jnp.asarray(0.9)}
    clock = time.perf_counter()
    sample = uniform_sample(jax.random.fold_in(key, 1), events, args.points)
    result = fit(study, events, sample, start)
    fit_seconds = time.perf_counter() - clock
    mass, kappa = float(result.theta["mzp"]), float(result.theta["kappa"])
    errors = {name: float(value) for name, value in result.errors.items()}
    conditional = 1 / math.sqrt(float(jnp.linalg.inv(result.covariance)[1, 1]))  # ravel order: kappa, mzp
    grid = mass + conditional * np.linspace(-3, 3, args.grid)
    clock = time.perf_counter()
    scan = np.array([float(nll(study, events, sample, {"mzp": jnp.asarray(m), "kappa": jnp.asarray(kappa)}))
                     for m in grid])
    scan_seconds = time.perf_counter() - clock
    delta = 2 * (scan - float(result.nll))
    print(f"MZ′ = {mass:.3f} ± {errors['mzp']:.3f} GeV, κ = {kappa:.4f} ± {errors['kappa']:.4f} "
          f"(truth {TRUTH['mzp']:g}, {TRUTH['kappa']:g}); {args.events} events, {args.points} points/event; "
          f"fit ({int(result.n_steps)} Newton steps) in {fit_seconds:.1f} s, scan of {args.grid} in {scan_seconds:.1f} s")
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    axis.plot(grid, delta, "o", label="grid scan (κ at its fit)")
    fine = np.linspace(grid[0], grid[-1], 200)
    axis.plot(fine, ((fine - mass) / conditional) ** 2, "-", label="gradient fit: Hessian parabola")
    axis.axvspan(mass - errors["mzp"], mass + errors["mzp"], alpha=0.2,
                 label=rf"$M_{{Z'}} = {mass:.2f} \pm {errors['mzp']:.2f}$ GeV")
    axis.axvline(TRUTH["mzp"], color="k", ls=":", label="truth")
    axis.set_xlabel(r"$M_{Z'}$ [GeV]")
    axis.set_ylabel(r"$-2\Delta\ln L$")
    axis.set_title(rf"MEM, $pp\to Z'\to e^+e^-$, {args.events} events")
    axis.legend(fontsize=8)
    figure.tight_layout()
    out = pathlib.Path(args.out)
    figure.savefig(out, dpi=120)
    return {"theta": {"mzp": mass, "kappa": kappa}, "errors": errors, "converged": bool(result.converged),
            "conditional_error": conditional, "grid": grid, "delta_nll2": delta, "plot": out}


if __name__ == "__main__":
    main()
