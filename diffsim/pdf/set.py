"""The public PDF object: one member of an LHAPDF6 set, evaluated as LHAPDF 6.5 does.

``PDF.xfxQ(pid, x, Q)`` is ``x f(x, Q)`` for PDG id ``pid`` (Q in GeV), reproducing LHAPDF
6.5's ``xfxQ`` (``logcubic`` interpolation, :mod:`diffsim.pdf.interpolation`; the set's
extrapolator, :mod:`diffsim.pdf.extrapolation`; ``ForcePositive``) and ``PDF.alphasQ`` its
αs (:mod:`diffsim.pdf.alphas`). References: LHAPDF6, A. Buckley et al., Eur. Phys. J. C75
(2015) 132, arXiv:1412.7420; the shipped default set NNPDF3.1 LO, arXiv:1706.00428.

Metadata cascade as in LHAPDF: the global ``lhapdf.conf`` defaults (:data:`CONFIG_DEFAULTS`),
overridden by the set's ``.info``, overridden by the member file's header.

Input rules (every method; all broadcast over leading axes and work under ``jit``,
``vmap`` and ``grad``, differentiable in x, Q and the grid values ``pdf.grid.xf``):

* Concrete inputs are checked: ``x`` must lie in ``(0, 1]`` and not above the last x knot,
  ``Q``/``Q2`` must be positive and finite, nothing may be NaN, and ``pid`` must be a PDG
  parton id (−6…6, 0 = gluon alias, 21, 22) or a flavour of the set; else ``ValueError``
  (``TypeError`` for a non-integer ``pid``).
* Traced inputs (inside ``jit``) are not checked. Documented behaviour instead: points with
  ``x ∉ (0, 1]``, ``Q ≤ 0`` or NaN give NaN (only those points); ``x`` above the last x knot
  (possible only for sets with ``XMax < 1``, where LHAPDF raises) is evaluated at the last
  knot; a ``pid`` unknown to the set gives 0. Outside the knot range the set's extrapolator
  applies (finite).
* A valid ``pid`` that the set lacks (e.g. 6 or 22 here) gives 0, as in LHAPDF.
* Results have the floating dtype of ``x`` and ``Q`` (the grid is cast to it).
"""

from __future__ import annotations

import os

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from diffsim.pdf.alphas import AlphaS, alphas_from_info
from diffsim.pdf.checks import check_scale, check_x, is_traced
from diffsim.pdf.evaluate import evaluate
from diffsim.pdf.extrapolation import EXTRAPOLATORS
from diffsim.pdf.interpolation import LogBicubicGrid
from diffsim.pdf.lhagrid import parse_info, parse_member
from diffsim.pdf.locate import DEFAULT_SET, PDFSetNotFoundError, find_set

__all__ = ["CONFIG_DEFAULTS", "PDF", "load"]

#: LHAPDF's global defaults (``lhapdf.conf`` of LHAPDF 6.2.3, unchanged in 6.5.2).
CONFIG_DEFAULTS = {
    "Verbosity": 1, "Interpolator": "logcubic", "Extrapolator": "continuation",
    "ForcePositive": 0, "AlphaS_Type": "analytic", "MZ": 91.1876, "MUp": 0.002,
    "MDown": 0.005, "MStrange": 0.10, "MCharm": 1.29, "MBottom": 4.19, "MTop": 172.9,
    "Pythia6LambdaV5Compat": True,
}
PARTON_IDS = frozenset(range(-6, 7)) | {21, 22}


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _thawed(value):
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


class PDF(eqx.Module):
    """One PDF member: grid values (leaves), αs object and static metadata.

    Build it with :func:`load`. Attributes: ``grid`` (:class:`LogBicubicGrid`, whose
    ``xf`` leaf holds the knot values), ``alpha_s`` (:class:`~diffsim.pdf.alphas.AlphaS`),
    and the static ``flavours`` (PDG ids in grid order), ``name``, ``member``,
    ``extrapolator`` and ``force_positive``. See the module docstring for input rules.
    """

    grid: LogBicubicGrid
    alpha_s: AlphaS
    flavours: tuple[int, ...] = eqx.field(static=True)
    name: str = eqx.field(static=True)
    member: int = eqx.field(static=True)
    extrapolator: str = eqx.field(static=True, default="continuation")
    force_positive: int = eqx.field(static=True, default=0)
    info_items: tuple = eqx.field(static=True, default=())

    @property
    def info(self) -> dict:
        """The merged metadata (config defaults < ``.info`` < member header), a fresh dict."""
        return {key: _thawed(value) for key, value in self.info_items}

    @property
    def x_min(self) -> float:
        """First x knot."""
        return self.grid.x_knots[0]

    @property
    def x_max(self) -> float:
        """Last x knot."""
        return self.grid.x_knots[-1]

    @property
    def q_min(self) -> float:
        """First Q knot (GeV)."""
        return self.grid.q_knots[0]

    @property
    def q_max(self) -> float:
        """Last Q knot (GeV)."""
        return self.grid.q_knots[-1]

    def xfxQ2(self, pid, x: ArrayLike, Q2: ArrayLike) -> Float[Array, "*batch"]:
        """``x f(x, Q²)`` for PDG id ``pid`` (int or int array broadcasting with x); Q² in GeV²."""
        self._check_kinematics(x, Q2, "Q2")
        return evaluate(self, self._slot(pid), x, Q2, scale_is_q=False)

    def xfxQ(self, pid, x: ArrayLike, Q: ArrayLike) -> Float[Array, "*batch"]:
        """``x f(x, Q)`` for PDG id ``pid`` (int or int array broadcasting with x); Q in GeV."""
        self._check_kinematics(x, Q, "Q")
        return evaluate(self, self._slot(pid), x, Q, scale_is_q=True)

    def xfxQ2_all(self, x: ArrayLike, Q2: ArrayLike) -> Float[Array, "*batch n_flavours"]:
        """``x f`` of every flavour, last axis in the order of :attr:`flavours`; Q² in GeV²."""
        self._check_kinematics(x, Q2, "Q2")
        return evaluate(self, None, x, Q2, scale_is_q=False)

    def xfxQ_all(self, x: ArrayLike, Q: ArrayLike) -> Float[Array, "*batch n_flavours"]:
        """``x f`` of every flavour, last axis in the order of :attr:`flavours`; Q in GeV.

        The fast path for hadronic cross sections: the interpolation weights are computed
        once per point and contracted with all flavours.
        """
        self._check_kinematics(x, Q, "Q")
        return evaluate(self, None, x, Q, scale_is_q=True)

    def alphasQ(self, Q: ArrayLike) -> Float[Array, "*batch"]:
        """αs(Q) from the set's αs object (Q in GeV)."""
        return self.alpha_s.alphasQ(Q)

    def alphasQ2(self, Q2: ArrayLike) -> Float[Array, "*batch"]:
        """αs(Q²) from the set's αs object (Q² in GeV²)."""
        return self.alpha_s.alphasQ2(Q2)

    def with_alphas(self, alpha_s: AlphaS) -> PDF:
        """A copy using ``alpha_s`` (e.g. :class:`~diffsim.pdf.alphas.FixedAlphaS`) for αs."""
        if not isinstance(alpha_s, AlphaS):
            raise TypeError(f"expected an AlphaS object (e.g. FixedAlphaS(0.118)), got "
                            f"{type(alpha_s).__name__}")
        return eqx.tree_at(lambda pdf: pdf.alpha_s, self, alpha_s)

    def _check_kinematics(self, x, scale, scale_name: str) -> None:
        check_x(x, self.x_max, self.name)
        check_scale(scale, scale_name, "GeV²" if scale_name == "Q2" else "GeV")

    def _slot(self, pid):
        """Static flavour slot for a Python int pid (``-1`` if absent), else the pid array."""
        if isinstance(pid, (bool, np.bool_)):
            raise TypeError("pid must be an integer PDG id, got a bool")
        if isinstance(pid, (int, np.integer)):
            pid = 21 if int(pid) == 0 else int(pid)
            if pid not in PARTON_IDS and pid not in self.flavours:
                raise ValueError(f"pid {pid} is not a PDG parton id (expected -6..6, 0 or 21 "
                                 f"for the gluon, 22) nor a flavour of {self.name} "
                                 f"{self.flavours}")
            return self.flavours.index(pid) if pid in self.flavours else -1
        if not is_traced(pid):
            array = np.asarray(pid)
            if not np.issubdtype(array.dtype, np.integer):
                raise TypeError(f"pid must be an integer PDG id array, got dtype {array.dtype}")
            known = np.isin(array, sorted(PARTON_IDS | {0} | set(self.flavours)))
            if not np.all(known):
                raise ValueError(f"pid {array[~known].ravel()[0]} is not a PDG parton id "
                                 f"(expected -6..6, 0 or 21 for the gluon, 22) nor a flavour "
                                 f"of {self.name} {self.flavours}")
        return pid if is_traced(pid) else np.asarray(pid)


def load(name_or_path: str | os.PathLike | None = None, member: int = 0) -> PDF:
    """Load member ``member`` of an LHAPDF6 set.

    Args:
        name_or_path: a set name (looked up as in :mod:`diffsim.pdf.locate`: shipped data,
            ``$LHAPDF_DATA_PATH``, ``$LHAPATH``, standard LHAPDF directories), a path to a
            set directory or its ``.info`` file, or ``None`` for the shipped default
            ``NNPDF31_lo_as_0118`` (NNPDF3.1 LO, αs(MZ) = 0.118, arXiv:1706.00428).
        member: member number (``NAME_{member:04d}.dat``).

    Raises:
        PDFSetNotFoundError: (a ``FileNotFoundError``) set or member file missing; the
            message lists where diffsim looked and how to install a set.
        ValueError: bad member number, malformed files, or an interpolator, extrapolator,
            ``ForcePositive`` level or αs type this module does not implement.
    """
    if isinstance(member, bool) or not isinstance(member, (int, np.integer)) or member < 0:
        raise ValueError(f"member must be a non-negative integer, got {member!r}")
    name, directory = find_set(DEFAULT_SET if name_or_path is None else name_or_path)
    info_file = directory.joinpath(f"{name}.info")
    set_info = parse_info(info_file.read_text(), source=str(info_file))
    members = set_info.get("NumMembers")
    if isinstance(members, int) and member >= members:
        raise ValueError(f"{name} has NumMembers = {members}; member {member} does not exist")
    member_file = directory.joinpath(f"{name}_{int(member):04d}.dat")
    if not member_file.is_file():
        raise PDFSetNotFoundError(f"member file {member_file} of set {name} not found")
    grid = parse_member(member_file.read_text(), source=str(member_file))
    info = {**CONFIG_DEFAULTS, **set_info, **grid.header}
    if "Flavors" in info and sorted(info["Flavors"]) != sorted(grid.pids):
        raise ValueError(f"{member_file}: flavours {grid.pids} differ from the .info Flavors "
                         f"{info['Flavors']}")
    interpolator = str(info["Interpolator"]).lower()
    if interpolator != "logcubic":
        raise ValueError(f"{name}: Interpolator {interpolator!r} is not implemented (only "
                         "LHAPDF's default 'logcubic')")
    extrapolator = str(info["Extrapolator"]).lower()
    if extrapolator not in EXTRAPOLATORS:
        raise ValueError(f"{name}: Extrapolator {extrapolator!r} is not implemented "
                         f"({', '.join(EXTRAPOLATORS)})")
    force_positive = info["ForcePositive"]
    if force_positive not in (0, 1, 2):
        raise ValueError(f"{name}: ForcePositive must be 0, 1 or 2, got {force_positive!r}")
    return PDF(
        grid=LogBicubicGrid(jnp.asarray(grid.xf), tuple(float(v) for v in grid.x),
                            tuple(float(v) for v in grid.q)),
        alpha_s=alphas_from_info(info),
        flavours=grid.pids,
        name=name,
        member=int(member),
        extrapolator=extrapolator,
        force_positive=int(force_positive),
        info_items=tuple((key, _frozen(value)) for key, value in info.items()),
    )
