"""Benchmark integrands with known answers (``shared/data/benchmarks/integrands.md``).

Every toy is an :class:`equinox.Module` with ``dim``, ``exact`` (the integral over the unit
hypercube ``[0, 1]^dim``, a Python float) and ``__call__(x (N, dim)) -> (N,)``: the
integrand on the unit hypercube, Jacobians of the affine maps from the natural domains
included. These are the *one* implementation the integrators of :mod:`diffsim.inference`
and the peers (vegas, MadNIS, bridged in ``benchmarks/peers.py``) are compared on.

- :class:`Prod2x`: ``∏ 2x_i`` in four dimensions (exact 1).
- :class:`Camel4`: two narrow Gaussians on the diagonal of ``[0, 1]^4``.
- :class:`RingLine`: a ring and a thin line on ``[−6, 6]²``.
- :class:`DrellYanZPrimeToy`: ``q q̄ → γ/Z/Z′ → ℓ⁺ℓ⁻`` at 13 TeV with toy PDFs, in pb (the
  MadNIS toy, T. Heimel et al., arXiv:2212.06172, sec. 4), with three channel mappings,
  single-diagram prior channel weights and the multi-channel protocol of
  :mod:`diffsim.channels`.
"""

import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffsim.channels import ChannelPoint

__all__ = ["Camel4", "DrellYanZPrimeToy", "Prod2x", "RingLine"]


def _check_points(x, dim: int, name: str):
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[-1] != dim:
        raise ValueError(f"{name} expects points of shape (N, {dim}), got {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} expects floating-point points, got {x.dtype}")
    return x


class Prod2x(eqx.Module):
    """``f(x) = ∏_{i=1}^{4} 2 x_i`` on ``[0, 1]^4``; exact integral 1."""

    dim: ClassVar[int] = 4
    exact: ClassVar[float] = 1.0

    def __call__(self, x: Float[Array, "N 4"]) -> Float[Array, " N"]:
        """The integrand at ``x (N, 4)``."""
        x = _check_points(x, self.dim, "Prod2x")
        return jnp.prod(2.0 * x, axis=-1)


class Camel4(eqx.Module):
    """Two Gaussians on the diagonal of ``[0, 1]^4`` (the "camel").

    ``f(x) = Σ_{i=1,2} ½ (σ√(2π))^{-4} exp(−‖x − μ_i‖² / 2σ²)`` with ``μ_1 = ⅓·𝟙``,
    ``μ_2 = ⅔·𝟙`` and ``σ = 0.05``. Each Gaussian is normalised on ℝ⁴; the part outside the
    unit hypercube (tails beyond 6.7σ) is lost, so the exact integral is
    ``Π erf-factor = 0.99999999995``.
    """

    dim: ClassVar[int] = 4
    sigma: ClassVar[float] = 0.05
    exact: ClassVar[float] = 0.99999999995

    def __call__(self, x: Float[Array, "N 4"]) -> Float[Array, " N"]:
        """The integrand at ``x (N, 4)``."""
        x = _check_points(x, self.dim, "Camel4")
        norm = 0.5 * (self.sigma * math.sqrt(2.0 * math.pi)) ** (-self.dim)
        d1 = jnp.sum((x - 1.0 / 3.0) ** 2, axis=-1)
        d2 = jnp.sum((x - 2.0 / 3.0) ** 2, axis=-1)
        two_var = 2.0 * self.sigma**2
        return norm * (jnp.exp(-d1 / two_var) + jnp.exp(-d2 / two_var))


class RingLine(eqx.Module):
    """Half a ring plus half a thin line on ``[−6, 6]²``, mapped to ``[0, 1]²``.

    With ``y = −6 + 12 x`` (Jacobian 144):

    - ring: ``exp(−(‖y‖ − r0)² / 2σ0²) / N_ring`` with ``r0 = 1``, ``σ0 = 0.05`` and
      ``N_ring = 2π [σ0² e^{−r0²/2σ0²} + r0 σ0 √(π/2) (1 + erf(r0 / σ0√2))]`` (normalised on ℝ²);
    - line: a Gaussian centred at 0 with width 3 along ``u = (y1 − y2)/√2`` and 0.05 along
      ``v = (y1 + y2)/√2``, normalised on ℝ²;
    - ``f = 144 · (½ ring + ½ line)``; exact integral over the square 0.9975610306 (the line
      loses its tails beyond the square).
    """

    dim: ClassVar[int] = 2
    exact: ClassVar[float] = 0.9975610306
    half_width: ClassVar[float] = 6.0
    r0: ClassVar[float] = 1.0
    sigma0: ClassVar[float] = 0.05
    sigma_u: ClassVar[float] = 3.0
    sigma_v: ClassVar[float] = 0.05

    def __call__(self, x: Float[Array, "N 2"]) -> Float[Array, " N"]:
        """The integrand at ``x (N, 2)``."""
        x = _check_points(x, self.dim, "RingLine")
        a = self.half_width
        y = -a + 2.0 * a * x
        r2 = jnp.sum(y**2, axis=-1)
        # double where: finite gradient at the origin (where ‖y‖ has none)
        r = jnp.where(r2 > 0, jnp.sqrt(jnp.where(r2 > 0, r2, 1.0)), 0.0)
        s0, r0 = self.sigma0, self.r0
        n_ring = (
            2.0
            * math.pi
            * (
                s0**2 * math.exp(-(r0**2) / (2 * s0**2))
                + r0
                * s0
                * math.sqrt(math.pi / 2)
                * (1.0 + math.erf(r0 / (s0 * math.sqrt(2))))
            )
        )
        ring = jnp.exp(-((r - r0) ** 2) / (2 * s0**2)) / n_ring
        u = (y[:, 0] - y[:, 1]) / math.sqrt(2.0)
        v = (y[:, 0] + y[:, 1]) / math.sqrt(2.0)
        line = jnp.exp(
            -(u**2) / (2 * self.sigma_u**2) - v**2 / (2 * self.sigma_v**2)
        ) / (2 * math.pi * self.sigma_u * self.sigma_v)
        return (2 * a) ** 2 * (0.5 * ring + 0.5 * line)


# ---------------------------------------------------------------------------------------
# Drell–Yan + Z′ toy
# ---------------------------------------------------------------------------------------

_GEV2_TO_PB = 0.389379e9  # the conversion quoted in integrands.md (1 GeV⁻² in pb)
# (charge Q, weak isospin T3) of u, d and the charged lepton ℓ⁻
_U = (2.0 / 3.0, 0.5)
_D = (-1.0 / 3.0, -0.5)
_LEPTON = (-1.0, -0.5)


def _toy_pdfs(x):
    """Toy PDFs (number densities) ``(u, d, ū = d̄ = sea)`` at momentum fraction ``x``."""
    sea = 0.1 * x**-1.2 * (1.0 - x) ** 7
    u = 2.0 * x**-0.5 * (1.0 - x) ** 3 + sea
    d = x**-0.5 * (1.0 - x) ** 4 + sea
    return u, d, sea


class DrellYanZPrimeToy(eqx.Module):
    r"""``q q̄ → γ/Z/Z′ → ℓ⁺ℓ⁻`` at ``√S = 13`` TeV with toy PDFs, ``m_ℓℓ > 15`` GeV, in pb.

    The MadNIS Drell–Yan toy (arXiv:2212.06172, sec. 4; constants from
    ``shared/data/benchmarks/integrands.md``): ``q ∈ {u, d}``, massless fermions, a Z′ that
    couples exactly like the Z, fixed-width Breit–Wigner propagators, toy PDFs without
    scale dependence. Exact cross section for the default constants: 667.1322 pb.

    **Physical variables** ``v = (ŝ, x1, cos θ, φ)``: partonic invariant mass squared
    ``ŝ ∈ [m_min², S]`` (GeV²), momentum fraction of beam 1 ``x1 ∈ [τ, 1]`` with
    ``τ = ŝ/S`` and ``x2 = τ/x1``, polar angle θ of ℓ⁻ relative to beam 1 in the partonic
    rest frame, azimuth ``φ ∈ [0, 2π)`` (the toy does not depend on φ; it is kept so that
    the toy is four-dimensional like MadNIS's). The density
    (:meth:`physical_integrand`) is

        dσ/(dŝ dx1 dcosθ dφ) = 1/(S x1) · Σ_{q=u,d} [q(x1) q̄(x2) dσ̂_q/dΩ(cos θ)
                                                + q̄(x1) q(x2) dσ̂_q/dΩ(−cos θ)]

    (``dx1 dx2 = dŝ dx1 / (S x1)``) with ``dσ̂/dΩ = |M|² / (2ŝ · 32π² · 4 N_c)`` and ``|M|²``
    summed over all spins (colour average ``1/N_c``), converted to pb.

    **Matrix element.** With chiral couplings ``g_L^f = g_Z (T3_f − Q_f s_W²)``,
    ``g_R^f = −g_Z Q_f s_W²``, ``g_Z = e/(s_W c_W)``, ``e² = 4πα``, ``s_W² = 1 − MW²/MZ²``,
    the helicity amplitudes are ``A_ij = e² Q_q Q_ℓ/ŝ + Σ_{V=Z,Z′} g_i^q g_j^ℓ / (ŝ − M_V² +
    i M_V Γ_V)`` and ``|M|² = Σ_{i,j∈{L,R}} ŝ² |A_ij|² (1 + ε_ij cos θ)²`` with ``ε = +1`` for
    equal and −1 for opposite chiralities (e.g. ``4e⁴(1 + cos²θ)`` for QED
    ``e⁺e⁻ → μ⁺μ⁻``). The single-diagram squares ``|M_γ|², |M_Z|², |M_Z′|²`` keep one term
    of ``A`` only.

    **Channels** (``c = 0, 1, 2``), bijections ``r ∈ [0, 1]^4 → v`` (:meth:`channel_map`):
    ``ŝ`` log-uniform (c = 0, photon) or a Breit–Wigner (arctan) map at the Z (c = 1) or the
    Z′ (c = 2); in all channels ``x1 = τ^{r_1}``, ``cos θ = 2 r_2 − 1``, ``φ = 2π r_3``.
    ``__call__`` is the photon channel (a single-channel integrand on ``[0, 1]^4``).

    All constants are pytree leaves (gradients reach them); ``s_W²`` and the couplings are
    derived from them on every call. ``exact`` is the cross section for the defaults.
    """

    sqrt_s: Float[ArrayLike, ""] = 13000.0
    m_ll_min: Float[ArrayLike, ""] = 15.0
    mz: Float[ArrayLike, ""] = 91.188
    wz: Float[ArrayLike, ""] = 2.441404
    mzp: Float[ArrayLike, ""] = 400.0
    wzp: Float[ArrayLike, ""] = 0.5
    mw: Float[ArrayLike, ""] = 80.419
    alpha: Float[ArrayLike, ""] = 1.0 / 132.507
    n_colours: int = eqx.field(static=True, default=3)
    dim: ClassVar[int] = 4
    exact: ClassVar[float] = 667.1322
    #: single-diagram split ∫ α_i f (photon-, Z-, Z′-like), pb, 4 significant figures
    exact_split: ClassVar[tuple[float, float, float]] = (309.8, 253.5, 103.8)
    n_channels: ClassVar[int] = 3
    n_features: ClassVar[int] = 3

    # ----------------------------------------------------------------- couplings ------
    def _couplings(self):
        """``(e², g_Z)`` and ``s_W²`` derived from the inputs."""
        sw2 = 1.0 - self.mw**2 / self.mz**2
        e2 = 4.0 * jnp.pi * self.alpha
        gz = jnp.sqrt(e2 / (sw2 * (1.0 - sw2)))
        return e2, gz, sw2

    def _chiral(self, q_t3, gz, sw2):
        charge, t3 = q_t3
        return gz * (t3 - charge * sw2), -gz * charge * sw2

    def _amplitudes(self, s_hat, quark):
        """Per-diagram reduced amplitudes ``ŝ·A_ij`` as ``(3, 2, 2, *batch)`` complex array.

        Axis 1: quark chirality (L, R); axis 2: lepton chirality (L, R).
        """
        e2, gz, sw2 = self._couplings()
        gq = jnp.stack(self._chiral(quark, gz, sw2))  # (2,) quark L, R
        gl = jnp.stack(self._chiral(_LEPTON, gz, sw2))  # (2,) lepton L, R
        s = jnp.asarray(s_hat)
        gg = (gq[:, None] * gl[None, :]).reshape((2, 2) + (1,) * s.ndim)
        prop_z = s / (s - self.mz**2 + 1j * self.mz * self.wz)
        prop_zp = s / (s - self.mzp**2 + 1j * self.mzp * self.wzp)
        photon = jnp.broadcast_to(e2 * quark[0] * _LEPTON[0], (2, 2) + s.shape)
        return jnp.stack([photon.astype(prop_z.dtype), gg * prop_z, gg * prop_zp])

    @staticmethod
    def _angular(cos_theta):
        """``(1 + ε_ij cos θ)²`` as ``(2, 2, *batch)``: LL, RR forward, LR, RL backward."""
        fw = (1.0 + cos_theta) ** 2
        bw = (1.0 - cos_theta) ** 2
        return jnp.stack([jnp.stack([fw, bw]), jnp.stack([bw, fw])])

    def _me2(self, amps, cos_theta):
        """``|M|²`` summed over spins from reduced amplitudes ``(..., 2, 2, N)``."""
        return jnp.sum(jnp.abs(amps) ** 2 * self._angular(cos_theta), axis=(-3, -2))

    def _luminosity_terms(self, s_hat, x1):
        """``[(L_q(x1,x2), L_q̄(x1,x2)) for q in (u, d)]``: q from beam 1, or q̄ from beam 1."""
        tau = s_hat / self.sqrt_s**2
        x2 = tau / x1
        u1, d1, sea1 = _toy_pdfs(x1)
        u2, d2, sea2 = _toy_pdfs(x2)
        return [(u1 * sea2, sea1 * u2), (d1 * sea2, sea1 * d2)]

    def _flux(self, s_hat, x1):
        """``1/(S x1) · 1/(2ŝ · 32π² · 4 N_c)`` in pb/GeV² (the factors multiplying ``L |M|²``)."""
        return _GEV2_TO_PB / (
            self.sqrt_s**2 * x1 * 2.0 * s_hat * 32.0 * jnp.pi**2 * 4.0 * self.n_colours
        )

    def _diagram_terms(self, s_hat, x1, cos_theta):
        """Single-diagram squares ``Σ_q |M_i,q|²`` ``(3, N)`` and the full ``Σ_q L·|M_q|²`` ``(N,)``."""
        diag = 0.0
        full = 0.0
        for quark, (lum_q, lum_qbar) in zip(
            (_U, _D), self._luminosity_terms(s_hat, x1)
        ):
            amps = self._amplitudes(s_hat, quark)  # (3, 2, 2, N)
            total = jnp.sum(amps, axis=0)
            diag = diag + self._me2(amps, cos_theta)
            full = (
                full
                + lum_q * self._me2(total, cos_theta)
                + lum_qbar * self._me2(total, -cos_theta)
            )
        return diag, full

    # ----------------------------------------------------------------- physics --------
    def physical_integrand(
        self,
        s_hat: Float[Array, " N"],
        x1: Float[Array, " N"],
        cos_theta: Float[Array, " N"],
        phi: Float[Array, " N"] | None = None,
    ) -> Float[Array, " N"]:
        """``dσ/(dŝ dx1 dcosθ dφ)`` in pb/GeV² at ``τ ≤ x1 ≤ 1``, ``m_min² ≤ ŝ ≤ S``.

        Zero outside the cut ``ŝ > m_min²``; ``phi`` is accepted for the four-dimensional
        measure and does not enter. Integrate over ``ŝ ∈ [m_min², S]``, ``x1 ∈ [ŝ/S, 1]``,
        ``cos θ ∈ [−1, 1]``, ``φ ∈ [0, 2π)`` to get σ in pb.
        """
        del phi
        _, full = self._diagram_terms(s_hat, x1, cos_theta)
        inside = s_hat > self.m_ll_min**2
        return jnp.where(inside, self._flux(s_hat, x1) * full, 0.0)

    def diagram_squares(
        self, s_hat: Float[Array, " N"], cos_theta: Float[Array, " N"]
    ) -> Float[Array, "N 3"]:
        """Single-diagram squares ``Σ_{q=u,d} |M_{i,q}|²(ŝ, cos θ)`` for i = γ, Z, Z′, ``(N, 3)``.

        The squares of the photon-only, Z-only and Z′-only amplitudes (interference
        dropped), summed over spins and the two quark flavours at the point's ``ŝ`` and
        ``cos θ`` (quark along beam 1; no PDF weighting). Their ratios are the prior channel
        weights ``α_i = |M_i|² / Σ_j |M_j|²`` (MadNIS, arXiv:2212.06172, sec. 2.2), with
        which ``∫ α_i dσ`` is the single-diagram split (309.8, 253.5, 103.8) pb of
        integrands.md (weighting the squares by the luminosities instead gives 311.0, 252.3,
        103.8 pb).
        """
        s_hat, cos_theta = jnp.broadcast_arrays(
            jnp.asarray(s_hat), jnp.asarray(cos_theta)
        )
        diag = 0.0
        for quark in (_U, _D):
            diag = diag + self._me2(self._amplitudes(s_hat, quark), cos_theta)
        return jnp.moveaxis(diag, 0, -1)

    def prior_alphas(
        self, s_hat: Float[Array, " N"], cos_theta: Float[Array, " N"]
    ) -> Float[Array, "N 3"]:
        """``α_i = |M_i|² / Σ_j |M_j|²`` from :meth:`diagram_squares`; rows sum to 1."""
        d = self.diagram_squares(s_hat, cos_theta)
        return d / jnp.sum(d, axis=-1, keepdims=True)

    # ----------------------------------------------------------------- mappings -------
    def _s_bounds(self):
        return self.m_ll_min**2, self.sqrt_s**2

    def _bw_angles(self, c: int):
        mass, width = (self.mz, self.wz) if c == 1 else (self.mzp, self.wzp)
        s_min, s_max = self._s_bounds()
        mg = mass * width
        lo = jnp.arctan((s_min - mass**2) / mg)
        hi = jnp.arctan((s_max - mass**2) / mg)
        return mass, mg, lo, hi

    def _check_channel(self, c):
        if not isinstance(c, int) or not 0 <= c < self.n_channels:
            raise ValueError(f"channel index must be a Python int in 0..2, got {c!r}")

    def channel_map(
        self, c: int, r: Float[Array, "N 4"]
    ) -> tuple[Float[Array, "N 4"], Float[Array, " N"]]:
        """Channel ``c``'s bijection ``r ∈ [0, 1]^4 → v = (ŝ, x1, cos θ, φ)`` and ``log |∂v/∂r|``.

        - ``c = 0``: ``ŝ = s_min (S/s_min)^{r_0}``, ``∂ŝ/∂r_0 = ŝ ln(S/s_min)``;
        - ``c = 1, 2``: ``ŝ = M² + MΓ tan(a + r_0 (b − a))``, ``a, b = arctan((s_{min,max} −
          M²)/MΓ)``, ``∂ŝ/∂r_0 = (b − a) ((ŝ − M²)² + M²Γ²)/(MΓ)`` (Z resp. Z′);
        - ``x1 = τ^{r_1}``: ``∂x1/∂r_1 = x1 ln(1/τ)``; ``cos θ = 2r_2 − 1``; ``φ = 2π r_3``.
        """
        self._check_channel(c)
        r = _check_points(r, self.dim, "DrellYanZPrimeToy.channel_map")
        s_min, s_max = self._s_bounds()
        if c == 0:
            log_ratio = jnp.log(s_max / s_min)
            s_hat = s_min * jnp.exp(r[:, 0] * log_ratio)
            log_js = jnp.log(s_hat * log_ratio)
        else:
            mass, mg, lo, hi = self._bw_angles(c)
            s_hat = mass**2 + mg * jnp.tan(lo + r[:, 0] * (hi - lo))
            log_js = jnp.log((hi - lo) * ((s_hat - mass**2) ** 2 + mg**2) / mg)
        log_inv_tau = jnp.log(s_max / s_hat)
        x1 = jnp.exp(-r[:, 1] * log_inv_tau)
        cos_theta = 2.0 * r[:, 2] - 1.0
        phi = 2.0 * jnp.pi * r[:, 3]
        log_j = (
            log_js + jnp.log(x1 * log_inv_tau) + jnp.log(2.0) + jnp.log(2.0 * jnp.pi)
        )
        return jnp.stack([s_hat, x1, cos_theta, phi], axis=-1), log_j

    def channel_inverse(
        self, c: int, v: Float[Array, "N 4"]
    ) -> tuple[Float[Array, "N 4"], Float[Array, " N"]]:
        """Inverse of :meth:`channel_map`: ``v → r`` and ``log |∂r/∂v|`` (= −forward's)."""
        self._check_channel(c)
        v = _check_points(v, self.dim, "DrellYanZPrimeToy.channel_inverse")
        s_min, s_max = self._s_bounds()
        s_hat, x1 = v[:, 0], v[:, 1]
        if c == 0:
            r0 = jnp.log(s_hat / s_min) / jnp.log(s_max / s_min)
        else:
            mass, mg, lo, hi = self._bw_angles(c)
            r0 = (jnp.arctan((s_hat - mass**2) / mg) - lo) / (hi - lo)
        r1 = jnp.log(x1) / jnp.log(s_hat / s_max)
        r = jnp.stack(
            [r0, r1, (v[:, 2] + 1.0) / 2.0, v[:, 3] / (2.0 * jnp.pi)], axis=-1
        )
        _, log_j = self.channel_map(c, r)
        return r, -log_j

    def features(self, v: Float[Array, "N 4"]) -> Float[Array, "N 3"]:
        """Channel-weight network inputs in ``[0, 1]`` or ``[−1, 1]``: ``(ln(ŝ/s_min)/ln(S/s_min),
        ln x1/ln τ, cos θ)``."""
        s_min, s_max = self._s_bounds()
        s_hat = v[:, 0]
        return jnp.stack(
            [
                jnp.log(s_hat / s_min) / jnp.log(s_max / s_min),
                jnp.log(v[:, 1]) / jnp.log(s_hat / s_max),
                v[:, 2],
            ],
            axis=-1,
        )

    def channel_integrand(self, c: int, r: Float[Array, "N 4"]) -> ChannelPoint:
        """Channel ``c`` at ``r (N, 4)``: weight ``f(v)·|∂v/∂r|`` (pb), priors ``α (N, 3)``, features.

        ``Σ_c ∫ dr α_c(v_c(r)) weight_c(r) = σ`` for any normalised ``α``; with the priors
        returned here ``∫ dr α_c weight_c`` is the single-diagram split ``exact_split[c]``.
        """
        v, log_j = self.channel_map(c, r)
        s_hat, x1, cos_theta = v[:, 0], v[:, 1], v[:, 2]
        diag, full = self._diagram_terms(s_hat, x1, cos_theta)
        density = self._flux(s_hat, x1) * full
        alphas = jnp.moveaxis(diag / jnp.sum(diag, axis=0), 0, -1)
        return ChannelPoint(density * jnp.exp(log_j), alphas, self.features(v))

    def __call__(self, r: Float[Array, "N 4"]) -> Float[Array, " N"]:
        """Single-channel integrand on ``[0, 1]^4``: the photon (log-ŝ) channel's weight."""
        v, log_j = self.channel_map(0, r)
        return self.physical_integrand(v[:, 0], v[:, 1], v[:, 2], v[:, 3]) * jnp.exp(
            log_j
        )
