"""Tree-level processes: external states, helicity sums, colour sums and channel topology.

A :class:`Process` evaluates the spin- and colour-summed squared matrix element of a
scattering ``a b > c d …`` in MadGraph's conventions: particles in process order
(incoming first, beam 1 along +z), HELAS external wavefunctions, and

    |M|² = (1/(S_a S_b C_a C_b · n_ident!)) Σ_hel Σ_{e,e'} A_e C_{ee'} A_{e'}^*,

with ``S`` the initial spin states (2 for fermions and massless vectors), ``C`` the colour
dimension (3 or 8), ``n_ident!`` the symmetry factor of identical final-state particles,
``A_e`` the kinematic amplitudes of the colour-dressed diagram terms and ``C_{ee'}`` their
colour matrix (:mod:`diffsim.models.colour`).

**Evaluation.** The helicity sum is an array formulation, not a loop: the events are
arranged as ``(blocks, *helicity_axes, lanes)`` (:class:`~diffsim.amplitudes.layout.EventLayout`),
each external leg's wavefunctions are computed once per helicity of that leg, along its own
axis, and the diagram kernels (:mod:`diffsim.amplitudes.vertices`, ``*_wave``) broadcast, so
that an off-shell current carries only the axes of the legs it joins and the full helicity
table appears in the closing amplitudes alone. Configurations whose amplitudes vanish
identically are never built: on a fermion line whose ends and propagators are massless in
the model (no mass parameter) and whose vertices are all vector-like, chirality is conserved,
so the two end legs share one axis holding only the matching helicities
(:meth:`Process.helicity_axes`; MadGraph finds the same "good helicities" numerically).
The colour sum uses a factorisation ``C = W K W†`` of the colour matrix over a basis of the
terms' colour tensors (colour flows): ``Σ_ee' A_e C_ee' A*_e' = Σ_kl J_k K_kl J*_l`` with
``J = Wᵀ A``, where ``W`` has entries ``0, ±1, ±i`` for QCD trees.

A diagram may consist of several terms (the four-gluon vertex has three colour
structures); :meth:`Process.diagram_squares` gives each diagram's own colour-summed
square — the weights MadGraph uses for single-diagram-enhanced multi-channel integration.
:attr:`Process.diagrams` describes each diagram's s-channel propagators (which external
legs they join, their particle) so that phase-space channels can be built from them.
"""

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Complex, Float

from diffsim.amplitudes import ixxxxx, oxxxxx, sxxxxx, vxxxxx
from diffsim.amplitudes.layout import EventLayout, static_helicities
from diffsim.amplitudes.propagators import is_static_zero
from diffsim.amplitudes.split import (
    SplitComplex,
    abs2,
    as_split,
    from_complex,
    to_complex,
)
from diffsim.amplitudes.wave import Wave, from_array, to_array
from diffsim.amplitudes.wavefunctions import (
    fermion_in_wave,
    fermion_out_wave,
    scalar_wave,
    vector_wave,
)
from diffsim.kernel_compilation import kernel_jit
from diffsim.models.particles import Particle

__all__ = ["DiagramTopology", "External", "FactoredAmplitudes", "Process", "SChannel", "structurally_massless"]


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


@dataclasses.dataclass(frozen=True)
class FactoredAmplitudes:
    """Term amplitudes written as per-event combinations of shared helicity kernels,
    ``A_e = Σ_k c_ek K_k``: the kernels ``K_k`` carry the helicity axes and none of the
    parameters the process factors out; the coefficients ``c_ek`` (couplings, propagator
    ratios) are per-event scalars without helicity axes.

    :meth:`Process.term_amplitudes` may return this instead of a list. If the kernels are
    :attr:`disjoint` (no helicity configuration has two of them non-zero, e.g. the chiral
    halves of a massless fermion line, which conserves chirality), the helicity sum of a
    colour form ``Q(A) = Σ_ee' A_e M_ee' A*_e'`` needs the kernels only through their
    helicity-summed squares:

        Σ_h Q(A) = Σ_k (Σ_h |K_k|²) Q(c_k),   c_k = (c_1k, c_2k, …),

    so the factored parameters reach per-event quantities alone, and their derivatives cost
    a few operations per event instead of a pass over every helicity configuration.
    Otherwise the terms are :meth:`expanded` first. (Overlapping kernels would need their
    interference sums ``Σ_h K_k K*_l``. For e⁺e⁻ → tt̄, with both chiral halves of the massive
    top line, those made the value 21 → 36 ms per 10⁵ events as separate sums; in one variadic
    reduction the value kept its speed and value-and-grad went 4.5 → 3.65× the value, but only
    with the top-mass column taken through a variadic reduction of the tangents too, which
    XLA cannot transpose, so reverse mode through it would fail.)
    """

    kernels: tuple[SplitComplex, ...]
    coefficients: tuple[tuple[tuple[int, SplitComplex], ...], ...]
    """Per term: its ``(kernel index, coefficient)`` pairs."""
    helicity_classes: tuple[tuple, ...]
    """Per kernel: labels of the helicity configurations where it can be non-zero, one per
    conserved quantity (the chirality of each massless fermion line), ``None`` where the
    kernel is not restricted. Two kernels whose labels differ in some position never overlap."""

    @property
    def disjoint(self) -> bool:
        """Whether no two kernels are non-zero in the same helicity configuration."""

        def apart(k, l):
            return any(
                a is not None and b is not None and a != b
                for a, b in zip(self.helicity_classes[k], self.helicity_classes[l], strict=True)
            )

        return all(apart(k, l) for k, l in itertools.combinations(range(len(self.kernels)), 2))

    def expanded(self) -> list[SplitComplex]:
        """The term amplitudes ``Σ_k c_ek K_k`` themselves."""
        amplitudes = []
        for pairs in self.coefficients:
            parts = [self.kernels[k] * c for k, c in pairs]
            amplitudes.append(sum(parts[1:], parts[0]))
        return amplitudes


class Process(eqx.Module):
    """Base class of tree-level processes; subclasses provide the diagram terms.

    Subclasses set ``externals``, ``term_diagram`` (the diagram each term belongs to),
    ``colour`` (the colour matrix of the terms, nested tuples so that it is hashable),
    ``diagrams`` (topologies) and implement :meth:`term_amplitudes`, the kernel returning the
    kinematic amplitudes of all terms from the external wavefunctions in kernel form
    (:class:`~diffsim.amplitudes.wave.Wave`, broadcasting over helicity axes). They may
    declare :meth:`chirality_pairs` to drop vanishing helicity configurations.
    (:meth:`terms` gives the same amplitudes from CUDACPP-layout arrays; a subclass written
    against :meth:`terms` alone still works, at the speed of the array interface.)
    """

    model: eqx.Module
    name: str = eqx.field(static=True)
    externals: tuple[External, ...] = eqx.field(static=True)
    term_diagram: tuple[int, ...] = eqx.field(static=True)
    colour: tuple[tuple[complex, ...], ...] = eqx.field(static=True)
    diagrams: tuple[DiagramTopology, ...] = eqx.field(static=True)
    colour_tags: tuple[tuple[tuple[int, int], ...], ...] = eqx.field(static=True)

    # -- to implement -------------------------------------------------------------------
    def term_amplitudes(
        self, model: eqx.Module, waves: Sequence[Wave]
    ) -> "list[SplitComplex] | FactoredAmplitudes":
        """Kinematic amplitude of every term (kernel form), one :class:`SplitComplex` each,
        or the terms as :class:`FactoredAmplitudes`."""
        if type(self).terms is Process.terms:
            raise NotImplementedError(f"{type(self).__name__} implements neither term_amplitudes nor terms")
        amplitudes = self.terms(model, [to_array(w) for w in waves])
        return [from_complex(amplitudes[..., e]) for e in range(amplitudes.shape[-1])]

    def common_coupling(self, model: eqx.Module):
        """A coupling ``c`` that every term's amplitude carries and :meth:`term_amplitudes`
        leaves out, or ``None``. Squared quantities are multiplied by ``|c|²`` after the
        colour and helicity sums, so a parameter that enters only ``c`` (``α_s`` in a QCD
        process) touches per-event scalars alone and its derivative costs little. ``c``
        must be real. Default: none."""

    def chirality_pairs(self) -> tuple[tuple[int, int], ...]:
        """Pairs ``(a, b)`` of fermion legs at the two ends of a chirality-conserving line.

        Declare a pair only if the line's ends and internal propagators are massless in
        every parameter point (no mass parameter) and all its vertices are vector-like
        (``γ^μ(g_L P_L + g_R P_R)``): then only ``hel_a·nsf_a = hel_b·nsf_b`` contributes
        (``nsf = +1`` particle, ``-1`` antiparticle). Default: none.
        """
        return ()

    # -- shared machinery ---------------------------------------------------------------
    def terms(
        self, model: eqx.Module, wavefunctions: Sequence[Complex[Array, "*batch k"]]
    ) -> Complex[Array, "*batch n_terms"]:
        """Kinematic amplitudes ``(..., n_terms)`` of one helicity configuration from the
        external wavefunctions in CUDACPP layout (``(..., 6)``, scalars ``(..., 3)``)."""
        amplitudes = self.term_amplitudes(model, [from_array(jnp.asarray(w)) for w in wavefunctions])
        if isinstance(amplitudes, FactoredAmplitudes):
            amplitudes = amplitudes.expanded()
        common = self.common_coupling(model)
        if common is not None:
            amplitudes = [a * as_split(common) for a in amplitudes]
        dtype = jnp.result_type(*wavefunctions)
        return jnp.stack(jnp.broadcast_arrays(*(to_complex(a, dtype) for a in amplitudes)), axis=-1)

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

    def helicity_axes(self) -> tuple[tuple[tuple[int, ...], np.ndarray], ...]:
        """The helicity axes of the evaluation: ``(legs, rows)`` with ``rows`` of shape
        ``(n_values, len(legs))``. One axis per leg, except that the two legs of each
        :meth:`chirality_pairs` pair share one axis holding only their matching helicities
        (static; the product of all axes is the part of :meth:`helicity_table` that can
        contribute)."""
        paired = {}
        for a, b in self.chirality_pairs():
            paired[a], paired[b] = b, a
        axes, done = [], set()
        for leg, external in enumerate(self.externals):
            if leg in done:
                continue
            if leg in paired:
                other = paired[leg]
                rows = [
                    (ha, hb)
                    for ha in external.helicities
                    for hb in self.externals[other].helicities
                    if ha * _nsf(external) == hb * _nsf(self.externals[other])
                ]
                axes.append(((leg, other), np.array(rows, dtype=np.int32)))
                done.update((leg, other))
            else:
                axes.append(((leg,), np.array(external.helicities, dtype=np.int32)[:, None]))
                done.add(leg)
        return tuple(axes)

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
        if not jnp.issubdtype(momenta.dtype, jnp.floating):
            momenta = momenta.astype(jnp.result_type(float))
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

    def _external_waves(self, momenta, params, layout: EventLayout, axes) -> list[Wave]:
        """Every leg's wavefunctions along its helicity axis, in kernel form."""
        dtype = momenta.dtype
        waves = [None] * self.n_external
        for axis, (legs, rows) in enumerate(axes):
            for column, leg in enumerate(legs):
                external = self.externals[leg]
                p = tuple(layout.pack(momenta[..., leg, mu]) for mu in range(4))
                hel = static_helicities(rows[:, column], layout, axis, dtype)
                mass = params.mass(external.particle)
                spin = external.particle.spin
                if spin == 1:
                    builder = fermion_in_wave if external.incoming != external.particle.is_antiparticle else fermion_out_wave
                    waves[leg] = builder(p, mass, hel, _nsf(external))
                elif spin == 2:
                    waves[leg] = vector_wave(p, mass, hel, -1 if external.incoming else 1)
                else:
                    waves[leg] = scalar_wave(p, -1 if external.incoming else 1)
        return waves

    def _summed(self, momenta, params, reduce):
        """``reduce`` (the per-configuration colour sums of the term amplitudes, each
        ``(blocks, *axes, lanes)``) summed over helicities and averaged: ``(*batch, k)``.

        On the CPU a large batch is evaluated in chunks of :data:`EVENTS_PER_CHUNK` events by
        a ``lax.map``, so that every intermediate of a chunk stays in cache; the last chunk
        overlaps the one before it instead of padding. Other backends evaluate the batch in
        one piece. Each chunk goes through :func:`_forward_parameter_derivatives`, which fixes
        how its derivatives are taken (forward-mode parameter columns, or the ordinary JVP
        under ``jax.checkpoint``). ``momenta`` come checked and ``params`` resolved from
        :func:`_evaluate`.
        """
        batch = momenta.shape[:-2]
        size = math.prod(batch)
        if size == 0:
            raise ValueError(f"{self.name}: empty batch of momenta {momenta.shape}")
        flat = momenta.reshape((size,) + momenta.shape[-2:])
        leaves, treedef = jax.tree_util.tree_flatten(params)
        per_event = [i for i, x in enumerate(leaves) if jnp.ndim(x) > 0]
        event_leaves = [_flatten_event_leaf(leaves[i], batch) for i in per_event]

        evaluate = functools.partial(self._evaluate_leaves, treedef=treedef, reduce=reduce)

        def block(q, chunk_leaves):
            full = list(leaves)
            for i, x in zip(per_event, chunk_leaves):
                full[i] = x
            return _forward_parameter_derivatives(evaluate, q, full)

        chunk = EVENTS_PER_CHUNK
        if size <= chunk or jax.default_backend() != "cpu":
            out = block(flat, event_leaves)
        else:
            n_chunks = -(-size // chunk)
            starts = np.minimum(np.arange(n_chunks) * chunk, size - chunk)

            def one(start):
                take = functools.partial(jax.lax.dynamic_slice_in_dim, start_index=start, slice_size=chunk)
                return block(take(flat), [take(x) for x in event_leaves])

            stacked = jax.lax.map(one, jnp.asarray(starts))
            overlap = n_chunks * chunk - size
            head = stacked[:-1].reshape(((n_chunks - 1) * chunk,) + stacked.shape[2:])
            out = jnp.concatenate([head, stacked[-1, overlap:]], axis=0)
        return out.reshape(batch + out.shape[1:])

    def _evaluate_leaves(self, momenta, leaves, *, treedef, reduce, factored=True):
        """:meth:`_evaluate_block` with the parameters given as their flattened leaves."""
        return self._evaluate_block(momenta, jax.tree_util.tree_unflatten(treedef, list(leaves)), reduce, factored)

    def _evaluate_block(self, momenta, params, reduce, factored=True):
        """:meth:`_summed` for a flat batch ``(n_events, n, 4)`` in one piece. Disjoint
        :class:`FactoredAmplitudes` are summed over helicities through their kernels' squares
        if ``factored``, else expanded first (the same numbers)."""
        axes = self.helicity_axes()
        layout = EventLayout(momenta.shape[:-2], tuple(len(rows) for _, rows in axes))
        packed = layout.pack_tree(params)
        waves = self._external_waves(momenta, packed, layout, axes)
        amplitudes = self.term_amplitudes(packed, waves)
        scale = 1.0 / self.average_factor
        if isinstance(amplitudes, FactoredAmplitudes) and not (factored and amplitudes.disjoint):
            amplitudes = amplitudes.expanded()
        if isinstance(amplitudes, FactoredAmplitudes):
            summed = _factored_helicity_sums(amplitudes, reduce, scale, layout)
        else:
            summed = [layout.sum_axes(v) for v in reduce(amplitudes, scale)]
        values = jnp.stack(summed, axis=-1)
        common = self.common_coupling(packed)
        if common is not None:
            values = values * layout.squeeze(jnp.asarray(common) ** 2)[..., None]
        return layout.unpack(values)

    def colour_sum(self, amplitudes: Complex[Array, "*batch n_terms"]) -> Float[Array, "*batch"]:
        """Colour-summed ``Σ_{ee'} A_e C_{ee'} A_{e'}^*`` of one helicity configuration."""
        amplitudes = jnp.asarray(amplitudes)
        split = [from_complex(amplitudes[..., e]) for e in range(amplitudes.shape[-1])]
        return _colour_form(split, colour_factorisation(self.colour), 1.0)

    def matrix_element(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch"]:
        """Spin- and colour-averaged |M|² (MadGraph convention; dimension GeV^(8−2n))."""
        return _evaluate(self, "matrix_element", momenta, params)[..., 0]

    def diagram_squares(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch n_diagrams"]:
        """Each diagram's own averaged, colour-summed |M_i|² (interference left out)."""
        return _evaluate(self, "diagram_squares", momenta, params)

    def matrix_element_and_diagram_squares(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch 1+n_diagrams"]:
        """:meth:`matrix_element` and :meth:`diagram_squares` side by side, ``[..., 0]`` and
        ``[..., 1:]``, from one evaluation of the amplitudes (what a multi-channel integrand
        with single-diagram priors needs at every point)."""
        return _evaluate(self, "matrix_element_and_diagram_squares", momenta, params)

    def colour_flow_squares(
        self, momenta: Float[Array, "*batch n 4"], params: eqx.Module | None = None
    ) -> Float[Array, "*batch n_flows"]:
        """Leading-colour weight of each colour flow, ``K_kk Σ_hel |J_k|²`` (averaged like
        |M|²), in the order of :attr:`colour_tags`: the probabilities (after normalising) with
        which an event is given flow ``k``, as MadGraph assigns colour from its ``jamp²``
        (Maltoni et al., hep-ph/0209271)."""
        return _evaluate(self, "colour_flow_squares", momenta, params)

    def _reduction(self, kind: str):
        """``reduce(amplitudes, scale)`` of :meth:`_summed` for the public evaluation ``kind``:
        the colour-summed squares it returns, per helicity configuration."""
        factorisation = colour_factorisation(self.colour)
        if kind == "colour_flow_squares":
            return lambda amplitudes, scale: _flow_squares(amplitudes, factorisation, scale)
        whole = kind != "diagram_squares"
        parts = self._diagram_parts() if kind != "matrix_element" else []

        def reduce(amplitudes, scale):
            squares = [_colour_form([amplitudes[e] for e in terms], f, scale) for terms, f in parts]
            return ([_colour_form(amplitudes, factorisation, scale)] if whole else []) + squares

        return reduce

    def _diagram_parts(self) -> list[tuple[tuple[int, ...], "ColourFactorisation"]]:
        """Per diagram: its terms and the factorisation of their colour block."""
        owner = np.asarray(self.term_diagram)
        colour = np.array(self.colour)
        parts = []
        for diagram in range(self.n_diagrams):
            terms = tuple(int(e) for e in np.flatnonzero(owner == diagram))
            block = tuple(tuple(complex(x) for x in row) for row in colour[np.ix_(terms, terms)])
            parts.append((terms, colour_factorisation(block)))
        return parts


def _evaluate(process: Process, kind: str, momenta, params):
    """The public evaluation ``kind`` of ``process``, compiled as one amplitude-kernel program
    (:func:`~diffsim.kernel_compilation.kernel_jit`; inlined when called inside a ``jit``).
    The parameters' Python numbers become arrays first, so that a scan over parameter values
    reuses one compiled program."""
    momenta = process._check_momenta(momenta)
    params = process.model if params is None else params
    return _compiled_evaluation(process, kind, momenta, jax.tree_util.tree_map(jnp.asarray, params))


@kernel_jit
def _compiled_evaluation(process: Process, kind: str, momenta, params):
    return process._summed(momenta, params, process._reduction(kind))


EVENTS_PER_CHUNK = 1024
"""Events per ``lax.map`` step on the CPU: a chunk's intermediates stay in the L2 cache."""


CHEAP_SHARE = 0.25
"""Largest share of a block's work (array elements produced, from its jaxpr) that depends on
a parameter leaf for the leaf to count as cheap: couplings and the boson masses and widths
that the processes factor out of their kernels touch only per-event scalars and the colour
and helicity sums (about 10 % of the work); an external mass reaches every kernel."""

FORWARD_PARAMETER_LEAVES = 3
"""Most expensive parameter leaves (those that reach the kernels, :data:`CHEAP_SHARE`) whose
derivatives :func:`_forward_parameter_derivatives` takes as forward columns; beyond that the
ordinary JVP is used. Measured on one CPU core at batch 10⁵
(``benchmarks/matrix_elements.py``, before the couplings were factored out of the kernels):
each forward column cost 1–2× the value, the ordinary reverse pass 4–6× the value for the
electroweak processes and 6–17× for the top-quark ones (``g g > t t~`` 15×, ``b b~ > t t~``
17×, which took 5.5× and 7× with forward columns)."""


NESTED_PARAMETER_LEAVES = 3
"""Most parameter leaves, expensive and cheap together, whose columns are all taken as
nested JVPs; with more, the cheap ones share one batched JVP. A nested JVP adds tangent work
only along its own leaf's path, where a batched one carries every cheap tangent along the
union of their paths; but deeper nesting measured slower (cause not isolated). Measured
(``benchmarks/matrix_elements.py`` timing, value and value-and-grad run in turn, batch 10⁵,
one core): value-and-grad over value went 4.25 → 2.91 for ``g g > t t~`` (three leaves),
while ``e+ e- > t t~`` (five) went 4.00 → 4.97 with all five nested."""


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _forward_parameter_derivatives(evaluate, momenta, leaves):
    """``evaluate(momenta, leaves)``, with the derivatives w.r.t. the parameter leaves taken
    in forward mode, also inside reverse-mode differentiation.

    ``evaluate`` maps momenta ``(n_events, n, 4)`` and parameter leaves (scalars shared by all
    events, or ``(n_events,)`` per-event values) to ``(n_events, k)``. A process depends on
    few of the model's inputs (``g g > t t~``: ``α_s``, ``m_t``, ``Γ_t``), each shared by all
    events, so the derivative columns ``∂out/∂leaf`` (``(n_events, k)``, a forward pass with
    a unit tangent on that leaf) cost less than JAX's reverse pass through every helicity and
    diagram intermediate. The output tangent is then the linear map ``Σ_leaf column · t_leaf``,
    which reverse mode transposes into a weighted sum of the columns, so ``jax.grad`` w.r.t.
    the parameters never runs a reverse pass through the kernels. Leaves the output does not
    depend on are found from the jaxpr and cost nothing.

    All columns come from one evaluation (:func:`_parameter_columns`): nested JVPs for the
    expensive leaves and, up to :data:`NESTED_PARAMETER_LEAVES` leaves in all, for the cheap
    ones (couplings and factored masses and widths, :data:`CHEAP_SHARE`), whose tangents
    touch only per-event scalars; beyond that the cheap ones share one batched JVP. The ordinary
    JVP of ``evaluate`` (under ``jax.checkpoint``, so that reverse mode recomputes
    intermediates per chunk instead of storing them) is used instead for the derivatives
    w.r.t. the momenta, with more than :data:`FORWARD_PARAMETER_LEAVES` expensive leaves,
    and when several leaves are all cheap: one evaluation then carries all their tangents
    (where a batch of columns would widen the per-event part by their number), and nested
    forward derivatives (``jacfwd`` of ``jacfwd`` in a likelihood fit) trace one copy of
    the kernels. If only per-event quantities depend on those cheap leaves (no array larger
    than the output, as with :class:`FactoredAmplitudes`), the JVP goes without
    ``jax.checkpoint``: its linearisation then keeps a few numbers per event, and reverse
    mode never reruns the kernels (``e+ e- > mu+ mu-``, value-and-grad over value 4.1 → 2.0
    against the checkpointed JVP, measured at batch 10⁵ on one core). Derivatives w.r.t. the
    momenta evaluate :class:`FactoredAmplitudes` expanded: their tangents pass through every
    kernel either way, and the reverse pass through the kernels' squares measured slower
    (momentum gradient over value 27.7 against 19.4 expanded, same process).
    """
    return evaluate(momenta, leaves)


@functools.partial(_forward_parameter_derivatives.defjvp, symbolic_zeros=True)
def _forward_parameter_derivatives_jvp(evaluate, primals, tangents):
    momenta, leaves = primals
    t_momenta, t_leaves = tangents
    leaves = [jnp.asarray(x) for x in leaves]
    wanted = [
        i for i, t in enumerate(t_leaves)
        if not isinstance(t, SymbolicZero) and jnp.issubdtype(leaves[i].dtype, jnp.inexact)
    ]
    shares, largest, traced = {}, {}, None
    if wanted:
        traced = jax.make_jaxpr(lambda *xs: evaluate(momenta, xs))(*leaves)
        shares, largest = _dependent_work(traced.jaxpr)
        wanted = [i for i in wanted if i in shares]
    expensive = [i for i in wanted if shares[i] > CHEAP_SHARE]
    cheap = [i for i in wanted if shares[i] <= CHEAP_SHARE]
    moving = not isinstance(t_momenta, SymbolicZero)

    def vary(q, xs, which, factored=True):
        full = list(leaves)
        for i, x in zip(which, xs):
            full[i] = x
        return evaluate(q, full, factored=factored)

    tangents = {i: jnp.asarray(t_leaves[i], leaves[i].dtype) for i in wanted}
    if len(expensive) > FORWARD_PARAMETER_LEAVES or (not expensive and len(cheap) > 1):
        xs, ts = [leaves[i] for i in wanted], [tangents[i] for i in wanted]
        if moving:
            return jax.jvp(jax.checkpoint(lambda q, x: vary(q, x, wanted, False)), (momenta, xs), (t_momenta, ts))
        per_event = EventLayout(momenta.shape[:-2], ())  # padded events, as the kernels pack them
        outputs = traced.out_avals[0].shape[-1]
        if all(largest[i] <= per_event.blocks * per_event.lanes * outputs for i in wanted):
            # Only per-event quantities depend on these leaves (FactoredAmplitudes): their
            # linearisation stores a few numbers per event, where recomputing the kernels
            # under jax.checkpoint would double the cost.
            return jax.jvp(lambda x: vary(momenta, x, wanted), (xs,), (ts,))
        return jax.jvp(jax.checkpoint(lambda x: vary(momenta, x, wanted)), (xs,), (ts,))

    order = expensive + cheap
    out, columns = _parameter_columns(
        lambda xs: vary(momenta, xs, order),
        [leaves[i] for i in order],
        len(order) if len(order) <= NESTED_PARAMETER_LEAVES else len(expensive),
    )
    t_out = None
    for i, column in zip(order, columns):
        t = tangents[i]
        term = column * t.reshape(t.shape + (1,) * (column.ndim - t.ndim))
        t_out = term if t_out is None else t_out + term
    if moving:
        out, t_q = jax.jvp(jax.checkpoint(lambda q: evaluate(q, leaves, factored=False)), (momenta,), (t_momenta,))
        t_out = t_q if t_out is None else t_out + t_q
    return out, jnp.zeros_like(out) if t_out is None else t_out


def _parameter_columns(function, xs, n_nested):
    """``function(xs)`` and its derivative columns w.r.t. each of ``xs`` (unit tangents; a
    per-event leaf gets the per-event derivative), from one evaluation of the primal.

    The last ``len(xs) − n_nested`` (cheap) leaves share one JVP, batched over their unit
    tangents with ``vmap``, which batches only what depends on them; inside it, the first
    ``n_nested`` leaves get one nested JVP each (the second-order terms this also traces are
    never used, and XLA drops them). Separate JVPs would each recompute the primal, which
    XLA's common-subexpression pass does not reliably merge.
    """
    nested, batched = xs[:n_nested], xs[n_nested:]

    def columns_of(zs):
        return _nested_columns(lambda ys: function([*ys, *zs]), nested)

    if not batched:
        return columns_of([])

    def along(tangent):
        return jax.jvp(columns_of, (batched,), (tangent,))

    units = [
        jnp.stack([jnp.ones_like(z) if j == k else jnp.zeros_like(z) for k in range(len(batched))])
        for j, z in enumerate(batched)
    ]
    (out, columns), (batched_columns, _) = jax.vmap(along, out_axes=((None, None), (0, 0)))(units)
    return out, [*columns, *batched_columns]


def _nested_columns(function, xs):
    """``function(xs)`` and its columns w.r.t. each of ``xs``, one nested JVP per leaf."""
    if not xs:
        return function([]), []

    def inner(x):
        return _nested_columns(lambda rest: function([x, *rest]), xs[1:])

    (out, columns), (column, _) = jax.jvp(inner, (xs[0],), (jnp.ones_like(xs[0]),))
    return out, [column, *columns]


def _dependent_work(jaxpr) -> tuple[dict[int, float], dict[int, int]]:
    """For each input of ``jaxpr`` that its outputs depend on: the share of the work that
    depends on it (array elements produced by its dependent equations over all produced),
    and the size of the largest array among them. An equation's outputs are taken to depend
    on all of its inputs, so nested calls are handled conservatively."""
    depends = {var: {i} for i, var in enumerate(jaxpr.invars)}
    work, largest, total = {}, {}, 0
    for eqn in jaxpr.eqns:
        sources = set()
        for var in eqn.invars:
            sources |= depends.get(var, set()) if not isinstance(var, jax.extend.core.Literal) else set()
        sizes = [math.prod(getattr(var.aval, "shape", ())) for var in eqn.outvars]
        total += sum(sizes)
        for i in sources:
            work[i] = work.get(i, 0) + sum(sizes)
            largest[i] = max(largest.get(i, 0), *sizes)
        if sources:
            for var in eqn.outvars:
                depends[var] = sources
    used = set()
    for var in jaxpr.outvars:
        if not isinstance(var, jax.extend.core.Literal):
            used |= depends.get(var, set())
    return {i: work.get(i, 0) / max(total, 1) for i in used}, {i: largest.get(i, 0) for i in used}


def _flatten_event_leaf(x, batch: tuple[int, ...]) -> Array:
    """A per-event parameter (e.g. ``α_s(μ_R)``) broadcast to the batch and flattened."""
    try:
        x = jnp.broadcast_to(x, batch)
    except ValueError as error:
        raise ValueError(
            f"a parameter of shape {jnp.shape(x)} does not broadcast to the event batch {batch}"
        ) from error
    return x.reshape(-1)


def structurally_massless(model: eqx.Module, particle: Particle) -> bool:
    """Whether ``particle`` is massless at every parameter point of ``model`` (it has no mass
    parameter and the model returns the number ``0`` for it)."""
    return particle.mass_parameter is None and is_static_zero(model.mass(particle))


def _nsf(external: External) -> int:
    """HELAS ``nsf``: +1 for a particle, -1 for an antiparticle."""
    return -1 if external.particle.is_antiparticle else 1


# -- colour ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ColourFactorisation:
    """``C = W K W†``: ``flows[k]`` lists ``(term, W_ek)``; ``K`` is Hermitian (nested tuples)."""

    flows: tuple[tuple[tuple[int, complex], ...], ...]
    K: tuple[tuple[complex, ...], ...]
    basis: tuple[int, ...]
    """The terms whose colour tensors form the basis (flow ``k`` is term ``basis[k]``'s)."""


def _snap(x: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Real and imaginary parts rounded to multiples of 1/2 where they are that close."""
    snapped = np.round(x.real * 2) / 2 + 1j * np.round(x.imag * 2) / 2
    return np.where(np.abs(snapped - x) < tolerance, snapped, x)


@functools.cache
def colour_factorisation(colour: tuple[tuple[complex, ...], ...]) -> ColourFactorisation:
    """Factorise a colour matrix over a basis of its own terms (static, cached).

    The basis is chosen greedily among the terms, smallest norm first (for QCD these are the
    pure ``T^{a₁}…T^{aₙ}`` strings, i.e. colour flows); ``K`` is the basis Gram matrix and
    ``W = C[:, basis] K⁻¹`` expresses every term in the basis. Entries of ``W`` within 1e-9 of
    a multiple of 1/2 are snapped to it, and ``W K W† = C`` is checked to 1e-12.
    """
    C = np.array(colour, dtype=complex)
    scale = max(float(np.max(np.abs(C))), 1e-300)
    basis = []
    for e in np.argsort(np.real(np.diag(C)), kind="stable"):
        trial = basis + [int(e)]
        if np.linalg.matrix_rank(C[np.ix_(trial, trial)], tol=1e-9 * scale) == len(trial):
            basis = trial
    basis.sort()
    K = C[np.ix_(basis, basis)]
    W = _snap(C[:, basis] @ np.linalg.inv(K))
    if not np.allclose(W @ K @ W.conj().T, C, rtol=0, atol=1e-12 * scale):
        raise ValueError("colour matrix factorisation failed (matrix not Hermitian positive semi-definite?)")
    flows = tuple(
        tuple((e, complex(W[e, k])) for e in range(len(C)) if W[e, k] != 0) for k in range(len(basis))
    )
    return ColourFactorisation(flows, tuple(tuple(complex(x) for x in row) for row in K), tuple(basis))


def _flow_amplitudes(amplitudes: Sequence[SplitComplex], factorisation: ColourFactorisation) -> list[SplitComplex]:
    """The colour-flow amplitudes ``J_k = Σ_e W_ek A_e``."""
    flows = []
    for flow in factorisation.flows:
        parts = [amplitudes[e] * w for e, w in flow]
        flows.append(sum(parts[1:], parts[0]))
    return flows


def _flow_squares(amplitudes: Sequence[SplitComplex], factorisation: ColourFactorisation, scale: float):
    """``scale · K_kk |J_k|²`` for every flow ``k`` (the leading-colour weights)."""
    flows = _flow_amplitudes(amplitudes, factorisation)
    return [abs2(J) * (scale * factorisation.K[k][k].real) for k, J in enumerate(flows)]


def _colour_form(amplitudes: Sequence[SplitComplex], factorisation: ColourFactorisation, scale: float):
    """``scale · Σ_kl J_k K_kl J_l*`` with ``J_k = Σ_e W_ek A_e`` (real)."""
    flows = _flow_amplitudes(amplitudes, factorisation)
    total = None
    K = factorisation.K
    for k, Jk in enumerate(flows):
        term = abs2(Jk) * (scale * K[k][k].real)
        total = term if total is None else total + term
        for l in range(k + 1, len(flows)):
            Jl = flows[l]
            a, b = 2 * scale * K[k][l].real, 2 * scale * K[k][l].imag
            if a:
                real = _real_part(Jk, Jl)
                total = total + real * a
            if b:
                total = total - _imag_part(Jk, Jl) * b
    return total


def _factored_helicity_sums(factored: FactoredAmplitudes, reduce, scale: float, layout: EventLayout) -> list[Array]:
    """The helicity sums of ``reduce``'s colour forms (each ``(blocks, lanes)``) for
    mutually disjoint kernels (:attr:`FactoredAmplitudes.disjoint`): ``Σ_k (Σ_h |K_k|²) Q(c_k)``,
    with ``Q(c_k)`` the colour form of kernel ``k``'s per-event coefficients."""

    def per_event(z: SplitComplex) -> SplitComplex:
        def squeeze(x):
            if x is None or jnp.ndim(x) == 0:
                return x
            if math.prod(jnp.shape(x)) != layout.blocks * layout.lanes:
                raise ValueError(f"a FactoredAmplitudes coefficient of shape {jnp.shape(x)} varies with helicity")
            return layout.squeeze(x)

        return SplitComplex(squeeze(z.re), squeeze(z.im))

    zero = SplitComplex(0.0, None)
    coefficients = [dict(pairs) for pairs in factored.coefficients]
    weights = layout.sum_axes_of([abs2(kernel) for kernel in factored.kernels])
    totals = None
    for k, weight in enumerate(weights):
        column = [per_event(c[k]) if k in c else zero for c in coefficients]
        terms = [weight * form for form in reduce(column, scale)]
        totals = terms if totals is None else [t + u for t, u in zip(totals, terms)]
    return [jnp.broadcast_to(t, (layout.blocks, layout.lanes)) for t in totals]


def _real_part(x: SplitComplex, y: SplitComplex):
    """``Re(x y*)``."""
    parts = [p for p in (_product(x.re, y.re), _product(x.im, y.im)) if p is not None]
    return sum(parts[1:], parts[0]) if parts else 0.0


def _imag_part(x: SplitComplex, y: SplitComplex):
    """``Im(x y*) = x_i y_r - x_r y_i``."""
    first, second = _product(x.im, y.re), _product(x.re, y.im)
    if second is None:
        return 0.0 if first is None else first
    return -second if first is None else first - second


def _product(a, b):
    return None if a is None or b is None else a * b


