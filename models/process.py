"""Tree-level processes: external states, helicity sums, colour sums and channel topology.

A :class:`Process` evaluates the spin- and colour-summed squared matrix element of a
scattering ``a b > c d …`` in MadGraph's conventions: particles in process order
(incoming first, beam 1 along +z), HELAS external wavefunctions, and

    |M|² = (1/(S_a S_b C_a C_b · n_ident!)) Σ_hel Σ_{e,e'} A_e C_{ee'} A_{e'}^*,

with ``S`` the initial spin states (2 for fermions and massless vectors), ``C`` the colour
dimension (3 or 8), ``n_ident!`` the symmetry factor of identical final-state particles,
``A_e`` the kinematic amplitudes of the colour-dressed diagram terms and ``C_{ee'}`` their
colour matrix (:mod:`diffsim.models.colour`). The helicity sum is a ``vmap`` over the
static helicity table, never a Python loop.

A diagram may consist of several terms (the four-gluon vertex has three colour
structures); :meth:`Process.diagram_squares` gives each diagram's own colour-summed
square — the weights MadGraph uses for single-diagram-enhanced multi-channel integration.
:attr:`Process.diagrams` describes each diagram's s-channel propagators (which external
legs they join, their particle) so that phase-space channels can be built from them.
"""

import dataclasses
import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float

from diffsim.amplitudes import ixxxxx, oxxxxx, sxxxxx, vxxxxx
from diffsim.models.particles import Particle

__all__ = ["DiagramTopology", "External", "Process", "SChannel"]


@dataclasses.dataclass(frozen=True)
class External:
    """An external leg: its particle and whether it is incoming."""

    particle: Particle
    incoming: bool

    @property
    def helicities(self) -> tuple[int, ...]:
        """HELAS helicity labels summed over: scalars 0; fermions and massless vectors ±1;
        massive vectors −1, 0, 1."""
        if self.particle.spin == 0:
            return (0,)
        if self.particle.spin == 2 and self.particle.mass_parameter is not None:
            return (-1, 0, 1)
        return (-1, 1)


@dataclasses.dataclass(frozen=True)
class SChannel:
    """An s-channel propagator of ``particle`` carrying the summed momentum of ``legs``
    (0-based positions of outgoing particles in process order)."""

    particle: Particle
    legs: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class DiagramTopology:
    """What a phase-space channel needs to know about one diagram: its s-channel
    propagators (innermost last) and the particles exchanged in the t-channel."""

    s_channels: tuple[SChannel, ...] = ()
    t_channels: tuple[Particle, ...] = ()


class Process(eqx.Module):
    """Base class of tree-level processes; subclasses provide the diagram terms.

    Subclasses set ``externals``, ``term_diagram`` (the diagram each term belongs to),
    ``colour`` (the colour matrix of the terms, nested tuples so that it is hashable), ``diagrams`` (topologies) and implement
    :meth:`terms`, returning the kinematic amplitudes ``(..., n_terms)`` for one helicity
    configuration from the external wavefunctions.
    """

    model: eqx.Module
    name: str = eqx.field(static=True)
    externals: tuple[External, ...] = eqx.field(static=True)
    term_diagram: tuple[int, ...] = eqx.field(static=True)
    colour: tuple[tuple[complex, ...], ...] = eqx.field(static=True)
    diagrams: tuple[DiagramTopology, ...] = eqx.field(static=True)

    # -- to implement -------------------------------------------------------------------
    def terms(
        self, model: eqx.Module, wavefunctions: Sequence[Complex[Array, "*batch k"]]
    ) -> Complex[Array, "*batch n_terms"]:
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------
    @property
    def n_external(self) -> int:
        return len(self.externals)

    @property
    def n_diagrams(self) -> int:
        return len(self.diagrams)

    @property
    def pdg_ids(self) -> tuple[int, ...]:
        return tuple(e.particle.pdg_id for e in self.externals)

    def masses(self, params: eqx.Module | None = None) -> Float[Array, " n"]:
        """External masses (GeV) in process order, as functions of the parameters."""
        params = self.model if params is None else params
        return jnp.stack([jnp.asarray(params.mass(e.particle)) for e in self.externals]).astype(float)

    def helicity_table(self) -> np.ndarray:
        """All helicity configurations, shape ``(n_hel, n_external)`` (static)."""
        options = [e.helicities for e in self.externals]
        return np.array(list(itertools.product(*options)), dtype=np.int32)

    @property
    def average_factor(self) -> float:
        """Initial spin × colour states times the identical-particle symmetry factor."""
        initial = [e for e in self.externals if e.incoming]
        factor = math.prod(len(e.helicities) * abs(e.particle.colour) for e in initial)
        final = [e.particle.name for e in self.externals if not e.incoming]
        for name in set(final):
            factor *= math.factorial(final.count(name))
        return float(factor)

    def _check_momenta(self, momenta):
        momenta = jnp.asarray(momenta)
        if momenta.ndim < 2 or momenta.shape[-2:] != (self.n_external, 4):
            raise ValueError(
                f"{self.name}: momenta must have shape (..., {self.n_external}, 4), got {momenta.shape}"
            )
        return momenta

    def wavefunctions(self, momenta, helicity, params):
        """External HELAS wavefunctions for one helicity row ``helicity (n_external,)``."""
        result = []
        for index, external in enumerate(self.externals):
            p = momenta[..., index, :]
            hel = helicity[index]
            mass = params.mass(external.particle)
            spin, anti = external.particle.spin, external.particle.is_antiparticle
            if spin == 1:
                # HELAS: |fi> (ixxxxx) for an incoming particle or an outgoing antiparticle,
                # <fo| (oxxxxx) for an outgoing particle or an incoming antiparticle.
                flow = -1 if anti else 1
                builder = ixxxxx if external.incoming != anti else oxxxxx
                result.append(builder(p, mass, hel, flow))
            elif spin == 2:
                result.append(vxxxxx(p, mass, hel, -1 if external.incoming else 1))
            else:
                result.append(sxxxxx(p, -1 if external.incoming else 1))
        return result

    def _summed(self, momenta, params, reduce):
        momenta = self._check_momenta(momenta)
        params = self.model if params is None else params
        table = jnp.asarray(self.helicity_table())

        def one_helicity(helicity):
            amplitudes = self.terms(params, self.wavefunctions(momenta, helicity, params))
            return reduce(amplitudes)

        return jnp.sum(jax.vmap(one_helicity)(table), axis=0) / self.average_factor

    def colour_sum(self, amplitudes: Complex[Array, "*batch n_terms"]) -> Float[Array, "*batch"]:
        """Colour-summed ``Σ_{ee'} A_e C_{ee'} A_{e'}^*`` of one helicity configuration."""
        colour = jnp.asarray(np.array(self.colour), dtype=amplitudes.dtype)
        return jnp.einsum("...e,ef,...f->...", amplitudes, colour, amplitudes.conj()).real

    def matrix_element(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch"]:
        """Spin- and colour-averaged |M|² (MadGraph convention; dimension GeV^(8−2n))."""
        return self._summed(momenta, params, self.colour_sum)

    def diagram_squares(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch n_diagrams"]:
        """Each diagram's own averaged, colour-summed |M_i|² (interference left out)."""
        owner = np.asarray(self.term_diagram)
        masks = jnp.asarray(owner[None, :] == np.arange(self.n_diagrams)[:, None])

        def squares(a):
            return self.colour_sum(jnp.where(masks, a[..., None, :], 0.0))

        return self._summed(momenta, params, squares)
