"""The Standard Model parameter set in MadGraph's ``sm`` scheme.

Inputs (pytree leaves, so ``jax.grad`` reaches them) are MadGraph's ``sm`` defaults from
``param_card_sm.dat``: ``1/α(MZ) = 132.507``, ``G_F = 1.16639e-5 GeV⁻²``,
``MZ = 91.188 GeV``, ``αs = 0.118`` (fixed), ``MT = 173``, ``MB = 4.7``, ``MTA = 1.777``,
``MH = 125`` GeV, widths ``WT = 1.4915``, ``WZ = 2.441404``, ``WW = 2.0476``,
``WH = 6.382339e-3`` GeV (fixed-width propagators; light fermions massless).

Everything else is derived from the inputs each time it is asked for, exactly as the
``sm`` UFO model does (so a derivative w.r.t. ``mz`` moves ``mw``, ``sin²θ_W`` and every
coupling):

    MW² = MZ²/2 + sqrt(MZ⁴/4 − π α MZ² / (√2 G_F)),   sin²θ_W = 1 − MW²/MZ²,
    e = sqrt(4πα),   g_s = sqrt(4π αs).

Vertex couplings are returned in the UFO/ALOHA convention (the vertex is ``−i × coupling ×
Lorentz structure``): photon ``i e Q_f``; Z chiral couplings
``i e/(s_W c_W) (T₃ − Q s_W²)`` (left) and ``−i e Q s_W/c_W`` (right); quark–gluon
``i g_s``; triple gluon ``−g_s``; four gluon ``i g_s²``.
"""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.models import multiparticles
from diffsim.models.colour import QCD_VERTICES
from diffsim.models.particles import Particle, lookup
from diffsim.models.registry import build_process

__all__ = ["PROCESSES", "StandardModel", "hadronic_process", "process"]

Scalar = Float[Array, ""] | float


class StandardModel(eqx.Module):
    """MadGraph ``sm`` inputs (GeV, GeV⁻² for ``gf``); derived quantities are properties."""

    alpha_em_inverse: Scalar = 132.507
    gf: Scalar = 1.16639e-5
    mz: Scalar = 91.188
    alpha_s: Scalar = 0.118
    mt: Scalar = 173.0
    mb: Scalar = 4.7
    mta: Scalar = 1.777
    mh: Scalar = 125.0
    wt: Scalar = 1.4915
    wz: Scalar = 2.441404
    ww: Scalar = 2.0476
    wh: Scalar = 6.382339e-3

    @property
    def alpha_em(self) -> Scalar:
        return 1.0 / self.alpha_em_inverse

    @property
    def mw(self) -> Scalar:
        """W mass from (α, G_F, MZ): ``MW² = MZ²/2 + sqrt(MZ⁴/4 − πα MZ²/(√2 G_F))`` (GeV)."""
        mz2 = self.mz**2
        return jnp.sqrt(
            mz2 / 2 + jnp.sqrt(mz2**2 / 4 - math.pi * self.alpha_em * mz2 / (math.sqrt(2.0) * self.gf))
        )

    @property
    def sin2_theta_w(self) -> Scalar:
        """``sin²θ_W = 1 − MW²/MZ²`` (on-shell definition used by MadGraph's ``sm``)."""
        return 1.0 - self.mw**2 / self.mz**2

    @property
    def e(self) -> Scalar:
        """Electromagnetic coupling ``e = sqrt(4πα)``."""
        return jnp.sqrt(4.0 * math.pi * self.alpha_em)

    @property
    def g_s(self) -> Scalar:
        """Strong coupling ``g_s = sqrt(4π αs)``."""
        return jnp.sqrt(4.0 * math.pi * jnp.asarray(self.alpha_s))

    def with_alpha_s(self, alpha_s: Scalar) -> "StandardModel":
        """The same parameters with ``αs`` replaced (e.g. by ``α_s(μ_R)`` per event)."""
        return eqx.tree_at(lambda m: m.alpha_s, self, alpha_s)

    def with_sin2_theta_w(self, sin2_theta_w: Scalar) -> "StandardModel":
        """The parameters with ``G_F`` set so that ``sin²θ_W`` (at fixed α, MZ) takes the
        given value: ``MW² = MZ² (1 − sin²θ_W)`` and, inverting the scheme's relation,
        ``G_F = π α / (√2 MW² sin²θ_W)``. Differentiable, so a derivative w.r.t. sin²θ_W is a
        derivative along G_F. Valid for ``0 < sin²θ_W < ½`` (the scheme's root)."""
        mw2 = self.mz**2 * (1.0 - sin2_theta_w)
        return eqx.tree_at(lambda m: m.gf, self, math.pi * self.alpha_em / (math.sqrt(2.0) * mw2 * sin2_theta_w))

    def mass(self, particle: str | Particle) -> Scalar:
        """Pole mass of a particle (GeV); 0 for the particles massless in ``sm``."""
        particle = lookup(particle) if isinstance(particle, str) else particle
        return 0.0 if particle.mass_parameter is None else getattr(self, particle.mass_parameter)

    def width(self, particle: str | Particle) -> Scalar:
        """Total width of a particle (GeV); 0 for the particles stable in ``sm``."""
        particle = lookup(particle) if isinstance(particle, str) else particle
        return 0.0 if particle.width_parameter is None else getattr(self, particle.width_parameter)

    def photon_coupling(self, fermion: Particle) -> tuple[Scalar, Scalar]:
        """``(g_L, g_R)`` of the photon to ``fermion`` (UFO convention: ``i e Q``; the
        particle's charge also for an antiparticle, since the vertex is the same)."""
        coupling = 1j * self.e * _particle(fermion).charge
        return coupling, coupling

    def z_coupling(self, fermion: Particle) -> tuple[Scalar, Scalar]:
        """``(g_L, g_R)`` of the Z to ``fermion``: ``i e/(s c) (T₃ − Q s²)`` and ``−i e Q s/c``.

        ``fermion`` may be given as particle or antiparticle; the couplings are those of
        the particle (the vertex is the same).
        """
        particle = _particle(fermion)
        sw2 = self.sin2_theta_w
        sw, cw = jnp.sqrt(sw2), jnp.sqrt(1.0 - sw2)
        left = 1j * self.e / (sw * cw) * (particle.isospin - particle.charge * sw2)
        right = -1j * self.e * particle.charge * sw / cw
        return left, right

    def vector_coupling(self, boson: Particle, fermion: Particle) -> tuple[Scalar, Scalar]:
        """``(g_L, g_R)`` of a neutral vector boson (``a``, ``z``, ``g``) to ``fermion``."""
        if boson.name == "a":
            return self.photon_coupling(fermion)
        if boson.name == "z":
            return self.z_coupling(fermion)
        if boson.name == "g":
            coupling = self.gluon_quark_coupling()
            return coupling, coupling  # one object: the kernels see a vector coupling
        raise ValueError(f"{type(self).__name__} has no {boson.name!r}–fermion vertex")

    def annihilation_bosons(self, fermion_in: Particle, fermion_out: Particle) -> tuple[Particle, ...]:
        """s-channel bosons of ``f f̄ → F F̄`` at the lowest electroweak order (MadGraph's
        default): the gluon between two quark pairs, otherwise the photon (if both are
        charged) and the Z."""
        if abs(fermion_in.colour) == 3 and abs(fermion_out.colour) == 3:
            return (lookup("g"),)
        photon = (lookup("a"),) if fermion_in.charge and fermion_out.charge else ()
        return photon + (lookup("z"),)

    def gluon_quark_coupling(self) -> Scalar:
        """Quark–gluon coupling ``i g_s`` (with colour ``T^a``; :data:`~diffsim.models.colour.QCD_VERTICES`)."""
        phase, order = QCD_VERTICES["quark_gluon"]
        return phase * self.g_s**order


def _particle(fermion: Particle) -> Particle:
    """The particle of a particle–antiparticle pair."""
    return fermion.antiparticle() if fermion.is_antiparticle else fermion


PROCESSES = (
    "e+ e- > mu+ mu-",
    "e+ e- > t t~",
    "u u~ > e+ e-",
    "d d~ > e+ e-",
    "u u~ > d d~",
    "u u~ > t t~",
    "b b~ > t t~",
    "g g > t t~",
    "g g > t t~ g",
)
"""The processes of the ``sm`` model validated against MadGraph and closed forms."""


def hadronic_process(name: str, params: StandardModel | None = None):
    """``"p p > t t~"``-style processes summed over partons (:mod:`diffsim.models.multiparticles`)."""
    return multiparticles.hadronic_process(StandardModel(), name, process, params)


def process(name: str, params: StandardModel | None = None):
    """The ``sm`` process ``name`` in MadGraph syntax (e.g. ``"g g > t t~"``).

    ``params`` defaults to MadGraph's ``sm`` defaults; unknown names raise ``ValueError``
    listing the available processes and the closest matches.
    """
    return build_process(StandardModel() if params is None else params, name, PROCESSES)
