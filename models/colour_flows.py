"""Les Houches colour tags of a colour-flow basis tensor, at leading colour.

An event record needs one colour flow per event: every coloured particle gets colour and
anticolour tags (``ICOLUP``, hep-ph/0609017) such that each tag joins exactly two slots.
A process's colour sum is factorised over a basis of colour tensors (for QCD trees, the
strings ``(T^{a₁} … T^{aₙ})_{ij}`` and ``δ_ij δ_kl``: :mod:`diffsim.models.process`). This
module turns one such tensor into its tags.

Method (the colour-flow decomposition, Maltoni, Paul, Stelzer, Willenbrock,
hep-ph/0209271): every gluon index ``a`` is traded for a fundamental/antifundamental index
pair with ``√2 T^a_{kl}``; by the Fierz identity
``Σ_a T^a_{ij} T^a_{kl} = ½ (δ_il δ_kj − δ_ij δ_kl / N)`` the string becomes a product of
Kronecker deltas joining the slots in a chain, plus terms suppressed by ``1/N``. The
leading chain is the perfect matching of slots whose delta product has the largest overlap
with the transformed tensor (each closed loop of the overlap contributes a factor ``N``,
so the true chain wins by a factor ``N`` or more). Colour and anticolour roles follow from
crossing: with every particle outgoing, quarks carry colour, antiquarks anticolour (an
incoming quark is an outgoing antiquark), a gluon one of each, and every delta joins a
colour to an anticolour.
"""

import itertools

import numpy as np

from diffsim.models.colour import T

__all__ = ["FIRST_TAG", "basis_colour_tags", "leading_colour_tags"]

FIRST_TAG = 501
"""First colour-line tag (MadGraph's convention)."""

_COLOUR, _ANTICOLOUR = 0, 1


def _perfect_matchings(slots: list[int]):
    """All ways of pairing up ``slots`` (an even number of them)."""
    if not slots:
        yield ()
        return
    first, rest = slots[0], slots[1:]
    for k, partner in enumerate(rest):
        for matching in _perfect_matchings(rest[:k] + rest[k + 1:]):
            yield ((first, partner),) + matching


def leading_colour_tags(tensor: np.ndarray, pdg_ids: tuple[int, ...], n_incoming: int = 2) -> np.ndarray:
    """``ICOLUP`` tags ``(n, 2)`` of the leading-colour flow of a basis colour tensor.

    Args:
        tensor: the colour tensor with one axis per coloured leg in process order (size 3
            for quarks and antiquarks, 8 for gluons).
        pdg_ids: PDG ids of all legs, incoming first (MadGraph order).
        n_incoming: number of incoming legs.

    Returns:
        integer array ``(n, 2)``: colour and anticolour tag per leg (0 = none), tags
        numbered from :data:`FIRST_TAG` along the legs' order.

    Raises:
        ValueError: if the tensor's shape does not match the coloured legs, or if it has no
            leading-colour chain (e.g. a tensor that vanishes).
    """
    coloured = [i for i, pid in enumerate(pdg_ids) if 1 <= abs(pid) <= 6 or pid == 21]
    expected = tuple(8 if pdg_ids[i] == 21 else 3 for i in coloured)
    tensor = np.asarray(tensor, dtype=complex)
    if tensor.shape != expected:
        raise ValueError(f"colour tensor of shape {tensor.shape} for legs {pdg_ids}; expected {expected}")
    flow = np.zeros((len(pdg_ids), 2), dtype=np.int32)
    if not coloured:
        return flow
    # Slots: one per quark or antiquark, two per gluon (its fundamental index pair).
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    legs, specs, outputs, slots, roles = "", [], "", [], []
    for leg in coloured:
        pid, incoming = pdg_ids[leg], leg < n_incoming
        index = next(letters)
        legs += index
        if pid == 21:
            k, l = next(letters), next(letters)
            specs.append(index + k + l)
            outputs += k + l
            slots += [(leg, 0), (leg, 1)]
            roles += [None, None]
        else:
            outputs += index
            slots.append((leg, 0))
            roles.append(_COLOUR if (pid > 0) != incoming else _ANTICOLOUR)
    flow_tensor = np.einsum(",".join([legs, *specs]) + "->" + outputs, tensor, *[np.sqrt(2) * T] * len(specs))
    best, best_overlap = None, 0.0
    for matching in _perfect_matchings(list(range(len(slots)))):
        index = [0] * len(slots)
        overlap = 0.0
        for values in itertools.product(range(3), repeat=len(matching)):
            for (x, y), v in zip(matching, values):
                index[x] = index[y] = v
            overlap += flow_tensor[tuple(index)]
        if abs(overlap) > best_overlap * (1 + 1e-9):
            best, best_overlap = matching, abs(overlap)
    if best is None:
        raise ValueError(f"colour tensor for {pdg_ids} has no leading-colour chain")
    # Orient the gluon slots: every delta joins a colour slot to an anticolour slot, and a
    # gluon's two slots have opposite roles. Start from the quarks' fixed roles.
    partner = {x: y for x, y in best} | {y: x for x, y in best}
    sibling = {s: slots.index((leg, 1 - half)) for s, (leg, half) in enumerate(slots) if pdg_ids[leg] == 21}
    pending = [s for s, role in enumerate(roles) if role is not None]
    for start in [*pending, *range(len(slots))]:
        if roles[start] is None:
            roles[start] = _COLOUR
        stack = [start]
        while stack:
            s = stack.pop()
            for t in (partner[s], sibling.get(s)):
                if t is not None and roles[t] is None:
                    roles[t] = 1 - roles[s]
                    stack.append(t)
    if any(roles[x] == roles[y] for x, y in best):
        raise ValueError(f"colour tensor for {pdg_ids} joins two colours (or two anticolours)")
    for tag, (x, y) in enumerate(sorted(best), start=FIRST_TAG):
        for s in (x, y):
            leg = slots[s][0]
            # Physical tags of an incoming particle are its crossed (outgoing) tags swapped.
            column = roles[s] if leg >= n_incoming else 1 - roles[s]
            flow[leg, column] = tag
    return flow


def basis_colour_tags(
    tensors: list[np.ndarray], basis: tuple[int, ...], pdg_ids: tuple[int, ...]
) -> tuple[tuple[tuple[int, int], ...], ...]:
    """:func:`leading_colour_tags` of the basis terms ``tensors[basis[k]]`` of a process, as
    nested tuples (hashable: a static field of the process), one ``(n, 2)`` table per flow."""
    return tuple(
        tuple((int(c), int(a)) for c, a in leading_colour_tags(tensors[e], pdg_ids)) for e in basis
    )
