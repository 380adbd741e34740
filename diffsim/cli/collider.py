"""Fixed-energy collisions (lepton colliders, or partons at a fixed √ŝ): no PDF.

    σ = ∫ dΦ_n  |M|²(p) / F × acceptance,   F = 2 λ^{1/2}(s, m₁², m₂²)  (= 2s for massless beams),

with the final state from :class:`~diffsim.phasespace.RamboOnDiet` in the centre-of-mass
frame (beam 1 along +z; MadGraph's ``(2π)^(4−3n)`` in dΦ_n) and the result converted to pb
(``1 GeV⁻² = 0.3893794e9 pb``). ``E_r[weight(r)] = σ`` for ``r`` uniform on the unit
hypercube of dimension ``3n − 4``.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffsim import kinematics
from diffsim.events import Events
from diffsim.hadronic import Cut, sample_colour_flows
from diffsim.phasespace import RamboOnDiet
from diffsim.units import PB_PER_INVERSE_GEV2

__all__ = ["FixedEnergyCollision"]


class FixedEnergyCollision(eqx.Module):
    """``collision(r (N, dim)) -> weight (N,)`` in pb for ``process`` at ``sqrt_s`` (GeV; an
    array leaf, so runs at several energies share compiled code and ``jax.grad`` reaches it).

    ``process`` has ``matrix_element(momenta, params)``, ``masses(params)`` and
    ``pdg_ids`` (a :class:`diffsim.models.Process`); ``cuts`` act on the momenta.
    """

    process: eqx.Module
    params: eqx.Module
    sqrt_s: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    cuts: tuple[Cut, ...] = ()

    @property
    def dim(self) -> int:
        """Dimension of the unit hypercube, ``3n − 4`` for ``n`` final-state particles."""
        return 3 * (len(self.process.pdg_ids) - 2) - 4

    def beams(self, dtype) -> Float[Array, "2 4"]:
        """The incoming momenta in the centre-of-mass frame (beam 1 along +z)."""
        masses = self.process.masses(self.params)[:2].astype(dtype)
        s = jnp.asarray(self.sqrt_s, dtype) ** 2
        p = jnp.sqrt(kinematics.kallen_lambda(s, masses[0] ** 2, masses[1] ** 2)) / (2 * jnp.sqrt(s))
        energies = jnp.sqrt(p**2 + masses**2)
        zero = jnp.zeros((), dtype)
        return jnp.stack([jnp.stack([energies[0], zero, zero, p]), jnp.stack([energies[1], zero, zero, -p])])

    def momenta_and_weight(self, r: Float[Array, "N dim"]) -> tuple[Float[Array, "N n 4"], Float[Array, " N"]]:
        """Momenta ``(N, n, 4)`` (process order) and weights ``(N,)`` in pb."""
        beams = self.beams(r.dtype)
        rambo = RamboOnDiet(self.process.masses(self.params)[2:].astype(r.dtype))
        final, log_w = rambo.forward(r, jnp.broadcast_to(jnp.sum(beams, axis=0), r.shape[:-1] + (4,)))
        momenta = jnp.concatenate([jnp.broadcast_to(beams, final.shape[:-2] + (2, 4)), final], axis=-2)
        masses = self.process.masses(self.params)[:2].astype(r.dtype)
        s = jnp.asarray(self.sqrt_s, r.dtype) ** 2
        flux = 2.0 * jnp.sqrt(kinematics.kallen_lambda(s, masses[0] ** 2, masses[1] ** 2))
        weight = self.process.matrix_element(momenta, self.params) * jnp.exp(log_w) / flux * PB_PER_INVERSE_GEV2
        for cut in self.cuts:
            weight = weight * cut(momenta)
        return momenta, weight

    def __call__(self, r: Float[Array, "N dim"]) -> Float[Array, " N"]:
        return self.momenta_and_weight(r)[1]

    def events(self, key: PRNGKeyArray, c: int, r: Float[Array, "N dim"], weight: Float[Array, " N"]) -> Events:
        """Events for points ``r`` (the ``to_events`` of :func:`diffsim.inference.unweighted_events`;
        the channel ``c`` is unused: one channel, fixed flavours). ``SCALUP`` is √s; the colour
        flow is drawn per event from the process's flows (``key``,
        :func:`diffsim.hadronic.sample_colour_flows`)."""
        del c
        momenta, _ = self.momenta_and_weight(r)
        pdg_ids = tuple(int(p) for p in self.process.pdg_ids)
        colour = sample_colour_flows(key, self.process, momenta, self.params)
        return Events.from_momenta(momenta, jnp.asarray(pdg_ids), colour=colour, weight=weight,
                                   scale=self.sqrt_s)
