"""Hadron–hadron processes as sums of partonic processes over parton flavours.

``p p > t t~`` is ``g g > t t~`` plus ``q q~ > t t~`` and ``q~ q > t t~`` for every light
flavour. A :class:`PartonicChannel` holds one partonic process (any object with
``matrix_element(momenta, params)`` and ``masses(params)`` in MadGraph's conventions —
typically from :mod:`diffsim.models`) and the flavour pairs it serves: processes with the
same |M|² (e.g. ``u u~`` and ``c c~ > t t~``) are evaluated once and multiplied by the summed
parton luminosity. ``swapped`` channels take their first incoming parton from beam 2: the
matrix element is evaluated with the incoming momenta exchanged, so ``q~ q`` reuses the
``q q~`` process. Beams are PDG ids: 2212 (proton) or -2212 (antiproton, whose densities are
the proton's with every quark flavour conjugated).
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = ["HadronicProcess", "PartonicChannel"]

BEAMS = (2212, -2212)


class PartonicChannel(eqx.Module):
    """One partonic process and the beam-ordered flavour pairs ``(beam 1, beam 2)`` it serves."""

    process: eqx.Module
    flavour_pairs: tuple[tuple[int, int], ...] = eqx.field(static=True)
    swapped: bool = eqx.field(static=True, default=False)

    def process_momenta(self, momenta: Float[Array, "*batch n 4"]) -> Float[Array, "*batch n 4"]:
        """Lab momenta (beam order) in the partonic process's leg order."""
        if not self.swapped:
            return momenta
        order = [1, 0, *range(2, momenta.shape[-2])]
        return momenta[..., order, :]


class HadronicProcess(eqx.Module):
    """``beam beam > final state`` as a sum of :class:`PartonicChannel` s.

    ``params`` is the parameter set every channel is evaluated with (one pytree, so a
    gradient w.r.t. it collects all channels). All channels share the final state.
    """

    name: str = eqx.field(static=True)
    params: eqx.Module
    channels: tuple[PartonicChannel, ...]
    beams: tuple[int, int] = eqx.field(static=True, default=(2212, 2212))

    def __check_init__(self):
        if any(beam not in BEAMS for beam in self.beams):
            raise ValueError(f"beams must be 2212 (p) or -2212 (p~), got {self.beams}")
        if not self.channels:
            raise ValueError(f"{self.name}: no partonic channels")

    @property
    def n_subprocesses(self) -> int:
        """Number of (channel, flavour pair) terms."""
        return sum(len(c.flavour_pairs) for c in self.channels)

    def subprocess_flavours(self) -> tuple[tuple[int, int], ...]:
        """The beam-ordered parton pair of each term, in the order of :meth:`weights`."""
        return tuple(pair for c in self.channels for pair in c.flavour_pairs)

    def final_masses(self, params: eqx.Module | None = None) -> Float[Array, " n_final"]:
        params = self.params if params is None else params
        return self.channels[0].process.masses(params)[2:]

    def _per_channel(self, momenta, params, evaluate):
        """``evaluate(process, momenta, params)`` for every channel, one traced call per
        distinct partonic process (``q q~`` and the swapped ``q~ q`` share a call on stacked
        momenta). Returns ``{channel index: value}``."""
        groups: dict[int, list[int]] = {}
        for index, channel in enumerate(self.channels):
            groups.setdefault(id(channel.process), []).append(index)
        values = {}
        for members in groups.values():
            process = self.channels[members[0]].process
            stacked = jnp.stack([self.channels[i].process_momenta(momenta) for i in members])
            result = evaluate(process, stacked, params)
            values.update({i: result[k] for k, i in enumerate(members)})
        return values

    def weights(
        self,
        momenta: Float[Array, "*batch n 4"],
        densities: Sequence[dict[int, Float[Array, "*batch"]]],
        params: eqx.Module,
    ) -> Float[Array, "*batch n_subprocesses"]:
        """``f_a(x₁) f_b(x₂) |M|²`` per (channel, flavour pair): ``densities[i][pid]`` is the
        number density ``f(x_i, μ_F)`` of parton ``pid`` in beam ``i`` (not ``x f``)."""
        me = self._per_channel(momenta, params, lambda process, p, params: process.matrix_element(p, params))
        return self._luminosity_terms(me, densities)

    def weights_and_diagram_weights(
        self,
        momenta: Float[Array, "*batch n 4"],
        densities: Sequence[dict[int, Float[Array, "*batch"]]],
        params: eqx.Module,
    ) -> tuple[Float[Array, "*batch n_subprocesses"], Float[Array, "*batch n_diagrams"]]:
        """:meth:`weights` and ``Σ_ab f_a f_b |M_i|²`` per diagram ``i`` (single-diagram
        squares, interference left out: the multi-channel priors), from one evaluation of
        each partonic process's amplitudes. Every partonic process must have the same diagrams
        in the same order (as ``q q~ > e+ e-`` for all quarks)."""
        self._check_same_diagrams()
        both = self._per_channel(
            momenta, params, lambda process, p, params: process.matrix_element_and_diagram_squares(p, params)
        )
        weights = self._luminosity_terms({i: v[..., 0] for i, v in both.items()}, densities)
        return weights, self._luminosity_sum({i: v[..., 1:] for i, v in both.items()}, densities)

    def _check_same_diagrams(self):
        counts = {len(channel.process.diagrams) for channel in self.channels}
        if len(counts) != 1:
            raise ValueError(f"{self.name}: the partonic processes have different diagram counts {sorted(counts)}")

    def _luminosity_terms(self, values, densities):
        """``f_a(x₁) f_b(x₂) · values[channel]`` per (channel, flavour pair), stacked last."""
        terms = [
            densities[0][a] * densities[1][b] * values[index]
            for index, channel in enumerate(self.channels)
            for a, b in channel.flavour_pairs
        ]
        return jnp.stack(terms, axis=-1)

    def _luminosity_sum(self, values, densities):
        """``Σ f_a(x₁) f_b(x₂) · values[channel]`` over (channel, flavour pair) of per-channel
        arrays ``(*batch, k)``."""
        return sum(
            densities[0][a][..., None] * densities[1][b][..., None] * values[index]
            for index, channel in enumerate(self.channels)
            for a, b in channel.flavour_pairs
        )

    def partons(self) -> tuple[set[int], set[int]]:
        """The parton ids needed from each beam."""
        first = {a for c in self.channels for a, _ in c.flavour_pairs}
        second = {b for c in self.channels for _, b in c.flavour_pairs}
        return first, second
