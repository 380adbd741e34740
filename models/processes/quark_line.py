"""One quark line with any number of gluons attached, e.g. ``g g → t t̄`` and ``g g → t t̄ g``.

All tree diagrams are enumerated: the gluons are split into ordered blocks along the quark
line; each block reaches the line through a gluon tree built from triple-gluon vertices
and four-gluon vertices. A diagram with a four-gluon vertex contributes one term per colour
structure of that vertex (UFO ``sm``: ``f^{e12} f^{34e}`` with ``VVVV1``, ``f^{e13} f^{24e}``
with ``VVVV3``, ``f^{e14} f^{23e}`` with ``VVVV4``). ``g g → t t̄`` has 3 diagrams,
``g g → t t̄ g`` 16, as in MadGraph.

Kinematics follow HELAS: starting from the ``<fo|`` end of the line the fermion is taken
off shell after each attachment (ALOHA ``FFV1_1``), and the last attachment closes the line
on the ``|fi>`` end; the line's propagator denominators ``1/D`` multiply each term after its
kernel, as per-event factors (the numerators ``i(q̸ + M)`` stay in the kernel), so that the
quark width enters no array that carries helicity axes and its derivative is cheap. Colour: ``(T^{c₁} … T^{c_m})_{row col}`` with ``row`` the colour of the
``<fo|`` leg and ``col`` that of the ``|fi>`` leg, times each tree's
``f``-structure, with the internal gluon of a tree carrying the first index of ``f`` (the
off-shell leg of ALOHA's ``VVV1P0_1``).
"""

import itertools
import math
import string
from collections.abc import Sequence

import numpy as np

from diffsim.amplitudes.propagators import inverse_denominator
from diffsim.amplitudes.vertices import (
    ffv_amplitude_wave,
    ffv_fermion_out_wave,
    vvv_vector_current_wave,
    vvvv_vector_current_wave,
)
from diffsim.models.colour import QCD_VERTICES, F, T, colour_matrix
from diffsim.models.colour_flows import basis_colour_tags
from diffsim.models.particles import Particle, lookup
from diffsim.models.process import (
    DiagramTopology,
    External,
    Process,
    SChannel,
    colour_factorisation,
    structurally_massless,
)

__all__ = ["QuarkLineWithGluons"]

GLUON = lookup("g")
# f(-1,1,2) f(3,4,-1), f(-1,1,3) f(2,4,-1), f(-1,1,4) f(2,3,-1) with leg 1 = x (off shell).
_QUARTIC_COLOUR = {1: ("yxa", "bcy"), 3: ("yxb", "acy"), 4: ("yxc", "aby")}


# -- gluon trees -------------------------------------------------------------------------
# A tree is a leaf (an int: position of an external gluon), ("vvv", left, right) or
# ("vvvv", structure, a, b, c); _trees(leaves) lists the diagrams joining ``leaves`` into one
# off-shell gluon, each diagram a list of terms (one per four-gluon colour structure).


def _splits(items: tuple[int, ...], parts: int):
    """Unordered splits of ``items`` into ``parts`` non-empty blocks (first item in block 0)."""
    if parts == 1:
        yield (items,)
        return
    first, rest = items[0], items[1:]
    for size in range(len(rest) - parts + 2):
        for chosen in itertools.combinations(rest, size):
            block = (first, *chosen)
            remaining = tuple(i for i in rest if i not in chosen)
            for tail in _splits(remaining, parts - 1):
                yield (block, *tail)


def _trees(leaves: tuple[int, ...]) -> list[list]:
    if len(leaves) == 1:
        return [[leaves[0]]]
    diagrams = []
    for left, right in _splits(leaves, 2):
        for a, b in itertools.product(_trees(left), _trees(right)):
            diagrams.append([("vvv", x, y) for x, y in itertools.product(a, b)])
    if len(leaves) >= 3:
        for blocks in _splits(leaves, 3):
            for choice in itertools.product(*(_trees(block) for block in blocks)):
                diagrams.append(
                    [("vvvv", s, *terms) for s in (1, 3, 4) for terms in itertools.product(*choice)]
                )
    return diagrams


def _tree_leaves(tree) -> tuple[int, ...]:
    if isinstance(tree, int):
        return (tree,)
    children = tree[1:] if tree[0] == "vvv" else tree[2:]
    return tuple(sorted(leaf for child in children for leaf in _tree_leaves(child)))


def _tree_colour(tree) -> np.ndarray:
    """Colour tensor of a tree, axes ``(internal, *sorted leaves)``.

    ``x`` is the internal (off-shell) gluon, ``a, b, c`` the children, ``y`` the gluon
    summed between the two ``f`` of a four-gluon vertex.
    """
    if isinstance(tree, int):
        return np.eye(8)
    if tree[0] == "vvv":
        specs, operands, children = ["xab"], [F], tree[1:]
    else:
        specs, operands, children = list(_QUARTIC_COLOUR[tree[1]]), [F, F], tree[2:]
    leaf_letters = iter("ijklmnopqrstuvw")
    labelled = []
    for child, slot in zip(children, "abc"):
        letters = "".join(next(leaf_letters) for _ in _tree_leaves(child))
        specs.append(slot + letters)
        operands.append(_tree_colour(child))
        labelled.extend(zip(_tree_leaves(child), letters))
    output = "x" + "".join(letter for _, letter in sorted(labelled))
    return np.einsum(",".join(specs) + "->" + output, *operands)


def _evaluate_tree(tree, waves, cache):
    """The off-shell gluon of a tree (kernel form) at unit couplings, each subtree evaluated
    once."""
    if isinstance(tree, int):
        return waves[tree]
    if tree not in cache:
        if tree[0] == "vvv":
            left, right = (_evaluate_tree(c, waves, cache) for c in tree[1:])
            cache[tree] = vvv_vector_current_wave(left, right, 1.0, 0.0, 0.0)
        else:
            a, b, c = (_evaluate_tree(child, waves, cache) for child in tree[2:])
            cache[tree] = vvvv_vector_current_wave(a, b, c, 1.0, 0.0, 0.0, structure=tree[1])
    return cache[tree]


def _tree_vertex_counts(tree) -> tuple[int, int]:
    """Numbers of three- and four-gluon vertices in a tree."""
    if isinstance(tree, int):
        return 0, 0
    children = tree[1:] if tree[0] == "vvv" else tree[2:]
    counts = [_tree_vertex_counts(child) for child in children]
    own = (1, 0) if tree[0] == "vvv" else (0, 1)
    return own[0] + sum(c[0] for c in counts), own[1] + sum(c[1] for c in counts)


def _tree_propagators(tree) -> list[tuple[int, ...]]:
    """Leg sets of the internal gluons inside a tree (its root included)."""
    if isinstance(tree, int):
        return []
    children = tree[1:] if tree[0] == "vvv" else tree[2:]
    inner = [legs for child in children for legs in _tree_propagators(child)]
    return inner + [_tree_leaves(tree)]


class QuarkLineWithGluons(Process):
    """A quark line (``bra``: the ``<fo|`` leg; ``ket``: the ``|fi>`` leg) with gluons."""

    quark: Particle = GLUON
    bra: int = 0
    ket: int = 0
    line_terms: tuple = ()

    def __init__(self, model, name: str, externals: Sequence[External]):
        self.model = model
        self.name = name
        self.externals = tuple(externals)
        fermions = [i for i, e in enumerate(self.externals) if e.particle.spin == 1]
        gluons = tuple(i for i, e in enumerate(self.externals) if e.particle.name == "g")
        if len(fermions) != 2 or len(gluons) + 2 != len(self.externals):
            raise ValueError(f"{name}: QuarkLineWithGluons needs one quark pair and gluons only")
        # <fo| is an outgoing quark or an incoming antiquark.
        bra = [i for i in fermions if self.externals[i].incoming == self.externals[i].particle.is_antiparticle]
        self.bra = bra[0]
        self.ket = fermions[0] if fermions[1] == self.bra else fermions[1]
        self.quark = self.externals[self.bra].particle
        if self.quark.is_antiparticle:
            self.quark = self.quark.antiparticle()

        terms, owners, topologies = [], [], []
        for ordered_blocks in _ordered_partitions(gluons):
            for choice in itertools.product(*(_trees(block) for block in ordered_blocks)):
                diagram = len(topologies)
                for attachment in itertools.product(*choice):
                    terms.append(attachment)
                    owners.append(diagram)
                topologies.append(self._topology([diagram_terms[0] for diagram_terms in choice]))
        self.line_terms = tuple(terms)
        self.term_diagram = tuple(owners)
        self.diagrams = tuple(topologies)
        tensors = [self._line_colour(t) for t in terms]
        self.colour = colour_matrix(tensors)
        self.colour_tags = basis_colour_tags(tensors, colour_factorisation(self.colour).basis, self.pdg_ids)

    def _line_colour(self, attachments) -> np.ndarray:
        coloured = [i for i, e in enumerate(self.externals) if e.particle.colour != 1]
        letters = dict(zip(coloured, string.ascii_letters))
        internal = iter(string.ascii_uppercase)
        specs, operands = [], []
        row = letters[self.bra]
        for position, tree in enumerate(attachments):
            gluon = next(internal)
            col = letters[self.ket] if position == len(attachments) - 1 else next(internal)
            specs.append(gluon + row + col)
            operands.append(T)
            specs.append(gluon + "".join(letters[leaf] for leaf in _tree_leaves(tree)))
            operands.append(_tree_colour(tree))
            row = col
        output = "".join(letters[i] for i in coloured)
        return np.einsum(",".join(specs) + "->" + output, *operands)

    def _topology(self, attachments) -> DiagramTopology:
        """Propagators: quark-line segments between attachments and the gluon trees."""
        leg_sets = []
        seen = [self.bra]
        for tree in attachments[:-1]:
            seen.extend(_tree_leaves(tree))
            leg_sets.append((self.quark, tuple(sorted(seen))))
        for tree in attachments:
            leg_sets.extend((GLUON, legs) for legs in _tree_propagators(tree))
        return _classify(leg_sets, self.externals)

    def chirality_pairs(self):
        """The quark line's ends, if the quark is massless (its vertices are all QCD vectors)."""
        return ((self.bra, self.ket),) if structurally_massless(self.model, self.quark) else ()

    def common_coupling(self, model):
        """``g_s^n`` for ``n`` gluons: every term has that order (a gluon tree with ``L``
        leaves has ``L − 1 = n₃ + 2 n₄`` three- and four-gluon vertices, and each tree meets
        the quark line once)."""
        return model.g_s ** (self.n_external - 2)

    def term_amplitudes(self, model, waves):
        """The terms' amplitudes without :meth:`common_coupling`: kernels at unit couplings
        times the static phase of the term's vertices (``i`` per quark–gluon, ``−1`` per
        three-gluon and ``i`` per four-gluon vertex, :data:`~diffsim.models.colour.QCD_VERTICES`),
        so that ``α_s`` enters |M|² as one per-event factor and its derivative costs little."""
        mass, width = model.mass(self.quark), model.width(self.quark)
        trees, lines, denominators = {}, {(): waves[self.bra]}, {(): None}

        def line(attached):
            """<fo| taken off shell after the gluons ``attached`` (shared prefixes reused),
            without its propagator denominators."""
            if attached not in lines:
                gluon = _evaluate_tree(attached[-1], waves, trees)
                lines[attached] = ffv_fermion_out_wave(
                    line(attached[:-1]), gluon, 1.0, 1.0, mass, width, denominator=False
                )
            return lines[attached]

        def inverse_denominators(attached):
            """Product of ``1/D`` over the line's propagators up to ``attached`` (per event)."""
            if attached not in denominators:
                own = inverse_denominator(line(attached).momentum, mass, width)
                before = inverse_denominators(attached[:-1])
                denominators[attached] = own if before is None else before * own
            return denominators[attached]

        amplitudes = []
        for attachments in self.line_terms:
            gluon = _evaluate_tree(attachments[-1], waves, trees)
            kernel = ffv_amplitude_wave(line(attachments[:-1]), waves[self.ket], gluon, 1.0, 1.0)
            propagators = inverse_denominators(attachments[:-1])
            if propagators is not None:
                kernel = kernel * propagators
            n_triple, n_quartic = map(sum, zip(*(_tree_vertex_counts(t) for t in attachments)))
            vertices = {"quark_gluon": len(attachments), "triple_gluon": n_triple, "quartic_gluon": n_quartic}
            amplitudes.append(kernel * math.prod(QCD_VERTICES[v][0] ** n for v, n in vertices.items()))
        return amplitudes


def _ordered_partitions(items: tuple[int, ...]):
    """Every ordered sequence of non-empty blocks covering ``items``."""
    for parts in range(1, len(items) + 1):
        for blocks in _splits(items, parts):
            yield from itertools.permutations(blocks)


def _classify(leg_sets, externals) -> DiagramTopology:
    """Split propagators into s-channel (one side all outgoing) and t-channel ones."""
    outgoing = {i for i, e in enumerate(externals) if not e.incoming}
    s_channels, t_channels = [], []
    for particle, legs in leg_sets:
        side = set(legs)
        if side <= outgoing or (set(range(len(externals))) - side) <= outgoing:
            out_side = side if side <= outgoing else set(range(len(externals))) - side
            if len(out_side) > 1:
                s_channels.append(SChannel(particle, tuple(sorted(out_side))))
        else:
            t_channels.append(particle)
    return DiagramTopology(tuple(s_channels), tuple(t_channels))
