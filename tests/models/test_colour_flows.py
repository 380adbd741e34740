"""Leading-colour Les Houches tags of colour-flow basis tensors (hep-ph/0209271)."""

import numpy as np
import pytest

from diffsim.models.colour import T
from diffsim.models.colour_flows import leading_colour_tags


def lines(pdg_ids, tags, n_incoming=2):
    """Colour lines as sets of (leg, 'c'|'a') ends in the all-outgoing picture: the tags of an
    incoming particle swap roles under crossing. Independent of how tags are numbered."""
    ends = {}
    for leg, (colour, anticolour) in enumerate(np.asarray(tags)):
        incoming = leg < n_incoming
        for tag, role in ((colour, "c"), (anticolour, "a")):
            if tag:
                crossed = {"c": "a", "a": "c"}[role] if incoming else role
                ends.setdefault(int(tag), []).append((leg, crossed))
    return sorted(tuple(sorted(e)) for e in ends.values())


def valid(pdg_ids, tags):
    """Every tag joins one colour and one anticolour end (all-outgoing picture)."""
    return all(len(e) == 2 and {e[0][1], e[1][1]} == {"a", "c"} for e in lines(pdg_ids, tags))


def test_colourless_and_single_line():
    assert not leading_colour_tags(np.zeros(()), (11, -11, 13, -13)).any()
    tags = leading_colour_tags(np.eye(3), (2, -2, 11, -11))
    np.testing.assert_array_equal(tags, [[501, 0], [0, 501], [0, 0], [0, 0]])


def test_s_channel_gluon_exchange():
    """u ū → d d̄ through a gluon, T^a_{ji} T^a_{kl}: the Fierz leading term joins the incoming
    quark to the outgoing quark (the MadGraph/Pythia flow for q q̄ → Q Q̄)."""
    ids = (2, -2, 1, -1)
    tags = leading_colour_tags(np.einsum("aji,akl->ijkl", T, T), ids)
    assert lines(ids, tags) == [((0, "a"), (2, "c")), ((1, "c"), (3, "a"))]


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_gluon_strings(order):
    """g g → t t̄: (T^a T^b)_{ij} gives the chain t ← g1 ← g2 ← t̄; (T^b T^a)_{ij} the reverse."""
    ids = (21, 21, 6, -6)
    spec = "aik,bkj->abij" if order == "ab" else "bik,akj->abij"
    tags = leading_colour_tags(np.einsum(spec, T, T), ids)
    assert valid(ids, tags)
    first, second = (0, 1) if order == "ab" else (1, 0)
    # t's colour line ends on the first gluon of the string; t̄'s on the last.
    expected = [((2, "c"), (first, "a")), ((first, "c"), (second, "a")), ((second, "c"), (3, "a"))]
    assert lines(ids, tags) == sorted(tuple(sorted(e)) for e in expected)


def test_three_gluon_string_and_pure_gluon_trace():
    ids = (21, 21, 6, -6, 21)
    tags = leading_colour_tags(np.einsum("aik,bkl,clj->abijc", T, T, T), ids)
    assert valid(ids, tags) and len(lines(ids, tags)) == 4
    glue = (21, 21, 21, 21)
    tags = leading_colour_tags(np.einsum("aij,bjk,ckl,dli->abcd", T, T, T, T), glue)
    assert valid(glue, tags) and len(lines(glue, tags)) == 4


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="shape"):
        leading_colour_tags(np.eye(3), (21, 21, 6, -6))
    with pytest.raises(ValueError, match="no leading-colour chain"):
        leading_colour_tags(np.zeros((3, 3)), (2, -2, 11, -11))
