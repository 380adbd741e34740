"""The strong coupling αs(Q) of a PDF set, as LHAPDF 6.5 computes it (arXiv:1412.7420, sec. 5).

Three implementations of one interface (``alphasQ(Q)``, ``alphasQ2(Q2)``; Q in GeV, Q² in
GeV²; any leading batch shape; the result has the dtype of the argument, float for ints):

* :class:`IpolAlphaS` — ``AlphaS_Type: ipol``: cubic Hermite interpolation of the
  tabulated ``AlphaS_Vals`` at ``AlphaS_Qs`` in ln Q², per subgrid (a repeated Q marks a
  flavour threshold). Knot slopes d αs/d ln Q² are one-sided at the ends of each subgrid and
  the plain mean of the left and right difference quotients inside (LHAPDF's
  ``AlphaSArray::ddlogq_forward/backward/central``), which is the rule of
  :mod:`diffsim.pdf.knots` (the PDF's Q² direction), so the same code serves both. A value
  at a threshold belongs to the upper subgrid. Below the first knot
  ``αs = αs₀ (Q²/Q²₀)^g`` with ``g = ln(αs₁/αs₀)/ln(Q²₁/Q²₀)`` from the first two distinct
  knots; above the last knot αs is frozen at the last value (both as LHAPDF). LHAPDF
  replaces an interpolated value ``|αs| ≥ 2`` by ``DBL_MAX`` as a divergence flag; that
  cannot occur for a sane table and is not reproduced. A two-knot subgrid is interpolated
  linearly in ln Q² (LHAPDF reads past the subgrid there).
* :class:`AnalyticAlphaS` — ``AlphaS_Type: analytic``: the asymptotic solution in
  ``L = ln(Q²/Λ²_nf)`` up to four loops (PDG QCD review, eq. 9.5; LHAPDF
  ``AlphaS_Analytic``), with LHAPDF's β-coefficient values, Λ of the active flavour number
  (or the nearest lower one defined), and LHAPDF's flavour-number rule. ``order`` is
  LHAPDF's ``AlphaS_OrderQCD``: 0 returns the constant ``AlphaS_MZ``, 1–4 the 1- to
  4-loop expressions. For ``Q² ≤ Λ²`` (Landau pole) it returns the largest finite value of
  the dtype, as LHAPDF returns ``DBL_MAX``, with zero gradient.
* :class:`FixedAlphaS` — a constant coupling, e.g. ``FixedAlphaS(0.118)`` to match
  MadGraph's fixed-αs ``sm`` defaults; pass it to :meth:`diffsim.pdf.PDF.with_alphas`.

Tabulated values, Λs, thresholds and the fixed value are pytree leaves (differentiable);
knot positions and orders are static.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from diffsim.pdf.checks import check_scale
from diffsim.pdf.knots import gather_intervals, hermite_q_weights, locate

__all__ = ["AlphaS", "AnalyticAlphaS", "FixedAlphaS", "IpolAlphaS", "alphas_from_info"]

# LHAPDF's β-function coefficients β_i(nf) = c0 + c1 nf + c2 nf² + c3 nf³ (AlphaS::_beta),
# i.e. (33 - 2nf)/(12π), (153 - 19nf)/(24π²), … in the convention dαs/dlnQ² = -Σ β_i αs^(i+2).
_BETA = (
    (0.875352187, -0.053051647, 0.0, 0.0),
    (0.6459225457, -0.0802126037, 0.0, 0.0),
    (0.719864327, -0.140904490, 0.00303291339, 0.0),
    (1.172686, -0.2785458, 0.01624467, 0.0000601247),
)
_QUARKS = ("Down", "Up", "Strange", "Charm", "Bottom", "Top")


def _float_dtype(value):
    return jnp.result_type(value, 0.0)


class AlphaS(eqx.Module):
    """Interface: ``alphasQ2(Q2)`` (Q² in GeV²) and ``alphasQ(Q)`` (Q in GeV).

    Concrete scales must be positive and finite (else ``ValueError``); traced ones that are
    not positive give NaN at those points. Subclasses implement :meth:`_alphas` for
    ``Q² > 0``.
    """

    @abc.abstractmethod
    def _alphas(self, Q2: Array) -> Array:
        """αs at ``Q2 > 0`` (GeV², floating dtype)."""

    def alphasQ2(self, Q2: ArrayLike) -> Float[Array, "*batch"]:
        """αs at the squared scale ``Q2`` (GeV²)."""
        check_scale(Q2, "Q2", "GeV²")
        Q2 = jnp.asarray(Q2)
        Q2 = Q2.astype(_float_dtype(Q2))
        return _alphas_or_nan(self, Q2)

    def alphasQ(self, Q: ArrayLike) -> Float[Array, "*batch"]:
        """αs at the scale ``Q`` (GeV)."""
        check_scale(Q, "Q", "GeV")
        Q = jnp.asarray(Q)
        Q = Q.astype(_float_dtype(Q))
        return self.alphasQ2(jnp.where(Q > 0, Q * Q, jnp.nan))


@eqx.filter_jit
def _alphas_or_nan(alpha_s: AlphaS, Q2: Array) -> Array:
    valid = Q2 > 0
    return jnp.where(valid, alpha_s._alphas(jnp.where(valid, Q2, 1)), jnp.nan)


class FixedAlphaS(AlphaS):
    """A scale-independent coupling. ``value`` is a leaf (differentiable)."""

    value: Float[Array, ""]

    def __init__(self, value: ArrayLike = 0.118):
        self.value = jnp.asarray(value, dtype=_float_dtype(value))

    def _alphas(self, Q2: Array) -> Array:
        return jnp.broadcast_to(self.value.astype(Q2.dtype), Q2.shape)


class IpolAlphaS(AlphaS):
    """LHAPDF ``ipol`` αs: Hermite interpolation in ln Q² of a table (module docstring).

    Args:
        qs: the ``AlphaS_Qs`` knots in GeV, non-decreasing; a repeated value separates
            subgrids (flavour thresholds).
        values: the ``AlphaS_Vals`` at those knots (a leaf).
    """

    values: Float[Array, " n"]
    q2_knots: tuple[float, ...] = eqx.field(static=True)
    next_distinct: int = eqx.field(static=True)

    def __init__(self, qs, values):
        qs = np.asarray(qs, dtype=np.float64)
        if qs.ndim != 1 or qs.size < 2 or np.shape(values) != qs.shape:
            raise ValueError(f"need ≥ 2 AlphaS_Qs and as many AlphaS_Vals, got {qs.size} and "
                             f"{np.size(values)}")
        if np.any(qs <= 0) or np.any(np.diff(qs) < 0) or np.all(qs == qs[0]):
            raise ValueError("AlphaS_Qs must be positive and non-decreasing")
        self.values = jnp.asarray(values, dtype=_float_dtype(jnp.asarray(values)))
        self.q2_knots = tuple(float(q * q) for q in qs)
        self.next_distinct = int(np.argmax(qs != qs[0]))

    def _alphas(self, Q2: Array) -> Array:
        dtype = Q2.dtype
        values = self.values.astype(dtype)
        log_q2 = jnp.log(Q2)
        i = locate(self.q2_knots, Q2, log_q2)
        rows = gather_intervals(self.q2_knots, i, dtype)
        weights = hermite_q_weights((log_q2 - rows.log_low) / rows.width, rows)
        padded = jnp.pad(values, 1)  # entry i + r is knot i - 1 + r; pads carry zero weight
        inside = sum(w * padded[i + r] for r, w in enumerate(weights))
        j = self.next_distinct
        slope = jnp.log(values[j] / values[0]) / math.log(self.q2_knots[j] / self.q2_knots[0])
        below = values[0] * (Q2 / self.q2_knots[0]) ** slope
        return jnp.where(Q2 < self.q2_knots[0], below,
                         jnp.where(Q2 > self.q2_knots[-1], values[-1], inside))


class AnalyticAlphaS(AlphaS):
    """LHAPDF ``analytic`` αs (module docstring).

    Args:
        lambdas: ``{nf: Λ_nf}`` in GeV (``AlphaS_Lambda3/4/5``); leaves.
        thresholds: the six quark thresholds (d, u, s, c, b, t) in GeV; leaves.
        order: ``AlphaS_OrderQCD`` (0 = constant ``alphas_mz``, 1–4 loops).
        alphas_mz: returned for ``order = 0``.
        fixed_flavours: ``None`` for the variable-flavour scheme, else the fixed nf.
        max_flavours: cap on nf in the variable scheme (``NumFlavors``), or ``None``.
    """

    lambdas: Float[Array, " k"]
    thresholds: Float[Array, " 6"]
    alphas_mz: Float[Array, ""]
    lambda_flavours: tuple[int, ...] = eqx.field(static=True)
    order: int = eqx.field(static=True)
    fixed_flavours: int | None = eqx.field(static=True)
    max_flavours: int | None = eqx.field(static=True)

    def __init__(self, lambdas: dict, thresholds, order: int = 4, alphas_mz=0.118,
                 fixed_flavours: int | None = None, max_flavours: int | None = None):
        if not lambdas or any(not 0 <= int(nf) <= 6 for nf in lambdas):
            raise ValueError(f"need Λ for at least one nf in 0..6, got {lambdas!r}")
        if int(order) not in range(5):
            raise ValueError(f"AlphaS_OrderQCD must be 0..4, got {order}")
        if np.shape(thresholds) != (6,):
            raise ValueError("need the six quark thresholds (d, u, s, c, b, t)")
        if fixed_flavours is not None and int(fixed_flavours) not in lambdas:
            raise ValueError(f"fixed {fixed_flavours}-flavour scheme needs AlphaS_Lambda"
                             f"{fixed_flavours}")
        self.lambda_flavours = tuple(sorted(int(nf) for nf in lambdas))
        self.lambdas = jnp.asarray([lambdas[nf] for nf in self.lambda_flavours])
        self.thresholds = jnp.asarray(thresholds)
        self.alphas_mz = jnp.asarray(alphas_mz)
        self.order = int(order)
        self.fixed_flavours = None if fixed_flavours is None else int(fixed_flavours)
        self.max_flavours = None if max_flavours is None else int(max_flavours)

    def _alphas(self, Q2: Array) -> Array:
        dtype = Q2.dtype
        if self.order == 0:
            return jnp.broadcast_to(self.alphas_mz.astype(dtype), Q2.shape)
        thresholds = self.thresholds.astype(dtype)
        lambdas = self.lambdas.astype(dtype)
        nf_min, nf_max = self.lambda_flavours[0], self.lambda_flavours[-1]
        if self.fixed_flavours is not None:
            nf = jnp.full(Q2.shape, self.fixed_flavours)
        else:  # LHAPDF: the largest nf in [nf_min, nf_max] whose quark threshold² < Q².
            nf = jnp.full(Q2.shape, nf_min)
            for flavours in range(max(nf_min, 1), nf_max + 1):
                nf = jnp.where(thresholds[flavours - 1] ** 2 < Q2, flavours, nf)
            if self.max_flavours is not None:
                nf = jnp.minimum(nf, self.max_flavours)
        # Λ of nf, or of the nearest lower nf that has one (LHAPDF _lambdaQCD).
        slot = jnp.zeros(Q2.shape, dtype=int)
        for k, flavours in enumerate(self.lambda_flavours):
            slot = jnp.where(nf >= flavours, k, slot)
        lam2 = lambdas[slot] ** 2
        valid = Q2 > lam2
        log_q2 = jnp.log(jnp.where(valid, Q2 / lam2, jnp.e))
        nf = nf.astype(dtype)
        b = [sum(c * nf**p for p, c in enumerate(coeffs)) for coeffs in _BETA]
        y, lnl = 1 / log_q2, jnp.log(log_q2)
        series = jnp.ones_like(y)
        if self.order > 1:
            series -= b[1] * lnl / b[0] ** 2 * y
        if self.order > 2:
            series += (b[1] ** 2 / b[0] ** 4 * y**2
                       * (lnl**2 - lnl + b[2] * b[0] / b[1] ** 2 - 1))
        if self.order > 3:
            series -= (y**3 / b[0] ** 6
                       * (b[1] ** 3 * (lnl**3 - 2.5 * lnl**2 - 2 * lnl + 0.5)
                          + 3 * b[0] * b[1] * b[2] * lnl - 0.5 * b[0] ** 2 * b[3]))
        return jnp.where(valid, y * series / b[0], jnp.finfo(dtype).max)


def alphas_from_info(info: dict) -> AlphaS:
    """The αs object LHAPDF's ``mkAlphaS`` builds from (merged) set metadata.

    Raises:
        ValueError: for an unknown ``AlphaS_Type`` (``ode`` is not implemented: pass a
            :class:`FixedAlphaS` or another object to ``PDF.with_alphas``) or missing keys.
    """
    kind = str(info.get("AlphaS_Type", "analytic")).lower()
    if kind == "ipol":
        if "AlphaS_Qs" not in info or "AlphaS_Vals" not in info:
            raise ValueError("AlphaS_Type ipol needs AlphaS_Qs and AlphaS_Vals in the .info")
        return IpolAlphaS(info["AlphaS_Qs"], info["AlphaS_Vals"])
    if kind == "analytic":
        lambdas = {nf: float(info[f"AlphaS_Lambda{nf}"]) for nf in (3, 4, 5)
                   if f"AlphaS_Lambda{nf}" in info}
        if not lambdas:
            raise ValueError("AlphaS_Type analytic needs AlphaS_Lambda3/4/5 in the .info")
        for prefix in ("AlphaS_Threshold", "Threshold", "AlphaS_M", "M"):
            if all(prefix + quark in info for quark in _QUARKS):
                thresholds = [float(info[prefix + quark]) for quark in _QUARKS]
                break
        else:
            raise ValueError("analytic αs needs the six quark masses or thresholds")
        scheme = str(info.get("AlphaS_FlavorScheme", info.get("FlavorScheme", "variable")))
        nflavours = int(info.get("AlphaS_NumFlavors", info.get("NumFlavors", 5)))
        fixed = scheme.lower() == "fixed"
        return AnalyticAlphaS(lambdas, thresholds, order=int(info.get("AlphaS_OrderQCD", 4)),
                              alphas_mz=float(info.get("AlphaS_MZ", 0.118)),
                              fixed_flavours=nflavours if fixed else None,
                              max_flavours=None if fixed else nflavours)
    raise ValueError(f"AlphaS_Type {kind!r} is not supported (ipol, analytic); use "
                     "PDF.with_alphas(FixedAlphaS(...)) or another AlphaS object")
