"""A hadronic integrand as a multi-channel integrand: one channel per diagram.

Each channel maps ŝ with the invariant map its diagram suggests (MadGraph's single-diagram
enhancement, arXiv:hep-ph/0208156; MadNIS, arXiv:2212.06172): a Breit–Wigner map on a
massive s-channel propagator with a width that carries the whole final state (the Z or Z′
of Drell–Yan), the default power law otherwise (a photon, a gluon, t-channel diagrams).
The prior channel weights are the single-diagram squares summed over the parton
luminosities, ``Σ_ab f_a f_b |M_i|² / Σ_j (…)``; the features for a channel-weight network
are ``log(ŝ/S)/log(S_min/S)``, the rapidity of the partonic system and the cosines of the
polar angles of the outgoing particles in the lab.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from diffsim.channels import ChannelPoint
from diffsim.hadronic.integrand import HadronicIntegrand
from diffsim.kernel_compilation import uses_amplitude_kernels
from diffsim.phasespace import BreitWignerInvariant, InvariantMap

__all__ = ["HadronicChannels"]


class HadronicChannels(eqx.Module):
    """``integrand`` with ŝ mapped by ``maps[c]`` in channel ``c`` (see :meth:`from_diagrams`).

    With a single map the prior is 1 and no diagram squares are computed (any process, e.g.
    ``p p > t t~``, whose partonic processes have different diagrams)."""

    integrand: HadronicIntegrand
    maps: tuple[InvariantMap, ...]

    @classmethod
    def from_diagrams(cls, integrand: HadronicIntegrand) -> "HadronicChannels":
        """One channel per diagram of the partonic processes (module docstring)."""
        process = integrand.process.channels[0].process
        params = integrand.process.params
        n_final = len(process.externals) - 2
        maps = []
        for diagram in process.diagrams:
            resonance = next(
                (
                    s.particle
                    for s in diagram.s_channels
                    if len(s.legs) == n_final and s.particle.mass_parameter and s.particle.width_parameter
                ),
                None,
            )
            if resonance is None:
                maps.append(integrand.s_hat_map)
            else:
                maps.append(BreitWignerInvariant(params.mass(resonance), params.width(resonance)))
        return cls(integrand, tuple(maps))

    @property
    def n_channels(self) -> int:
        """Number of channels (diagrams)."""
        return len(self.maps)

    @property
    def dim(self) -> int:
        """Dimension of the unit hypercube."""
        return self.integrand.n_dims

    @property
    def amplitude_kernels(self) -> bool:
        """Whether the hadronic integrand's matrix elements dominate (always)."""
        return uses_amplitude_kernels(self.integrand)

    def mapped_integrand(self, c: int) -> HadronicIntegrand:
        """The hadronic integrand with ŝ mapped by ``maps[c]``."""
        return eqx.tree_at(lambda i: i.s_hat_map, self.integrand, self.maps[c])

    def channel_integrand(self, c: int, r: Float[Array, "N d"]) -> ChannelPoint:
        """Channel ``c``: the weight (pb) with ŝ mapped by ``maps[c]``, priors and features."""
        return self.channel_integrands((c,), (r,))[0]

    def channel_integrands(
        self, channels: Sequence[int], rs: Sequence[Float[Array, "N_i d"]]
    ) -> tuple[ChannelPoint, ...]:
        """Several channels at once (``rs[i]`` in channel ``channels[i]``): each maps its own
        points, then the PDFs and amplitudes run once on all of them joined, so a training
        step over C channels traces and compiles the expensive part once instead of C times."""
        kinematics = [self.mapped_integrand(c).kinematics(r) for c, r in zip(channels, rs)]
        joined = jax.tree_util.tree_map(lambda *parts: jnp.concatenate(parts), *kinematics)
        point = self.integrand.evaluate(joined, diagram_weights=self.n_channels > 1)
        if self.n_channels == 1:
            prior = jnp.ones_like(point.weight)[:, None]
        else:
            squares = point.diagram_weights
            total = jnp.sum(squares, axis=-1, keepdims=True)
            prior = jnp.where(total > 0, squares / jnp.where(total > 0, total, 1.0), 1.0 / self.n_channels)
        features = self._features(point.x, point.momenta)
        ends = np.cumsum([r.shape[0] for r in rs])[:-1]
        return tuple(
            ChannelPoint(*parts)
            for parts in zip(*(jnp.split(a, ends) for a in (point.weight, prior, features)))
        )

    def _features(self, x: Float[Array, "N 2"], momenta: Float[Array, "N n 4"]) -> Float[Array, "N k"]:
        """``log τ / log(τ_min)``, the rapidity ``½ log(x₁/x₂)`` and the lab cosines of the
        outgoing particles."""
        integrand = self.integrand
        s_hadronic = jnp.asarray(integrand.sqrt_s, x.dtype) ** 2
        s_min = jnp.maximum(
            jnp.asarray(integrand.s_hat_min, x.dtype), jnp.sum(integrand.process.final_masses()) ** 2
        )
        final = momenta[:, 2:]
        return jnp.concatenate(
            [
                (jnp.log(x[:, 0] * x[:, 1]) / jnp.log(s_min / s_hadronic))[:, None],
                0.5 * jnp.log(x[:, :1] / x[:, 1:]),
                final[..., 3] / final[..., 0],
            ],
            axis=-1,
        )
