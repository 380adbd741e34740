"""SU(3) colour algebra evaluated numerically, for colour matrices of tree diagrams.

Each diagram's colour factor is built as an explicit tensor over the external colour
indices (3 for quarks and antiquarks, 8 for gluons) from the generators
``T^a = λ^a/2`` (Gell-Mann matrices, ``Tr T^a T^b = δ^{ab}/2``) and the structure constants
``f^{abc} = −2i Tr([T^a, T^b] T^c)``. The colour matrix of a process,
``C_{dd'} = Σ_colours c_d c_{d'}^*`` (Hermitian), then gives the colour-summed square
``Σ |M|² = Σ_{dd'} A_d C_{dd'} A_{d'}^*`` of the diagrams' kinematic amplitudes ``A_d``.
This is the same sum MadGraph performs in its colour-flow basis; doing it in the diagram
basis needs no basis decomposition. Tensors are numpy constants computed once.
"""

import numpy as np

__all__ = ["QCD_VERTICES", "F", "T", "colour_matrix"]


def _gell_mann() -> np.ndarray:
    lam = np.zeros((8, 3, 3), dtype=complex)
    lam[0][0, 1] = lam[0][1, 0] = 1
    lam[1][0, 1], lam[1][1, 0] = -1j, 1j
    lam[2][0, 0], lam[2][1, 1] = 1, -1
    lam[3][0, 2] = lam[3][2, 0] = 1
    lam[4][0, 2], lam[4][2, 0] = -1j, 1j
    lam[5][1, 2] = lam[5][2, 1] = 1
    lam[6][1, 2], lam[6][2, 1] = -1j, 1j
    lam[7] = np.diag([1, 1, -2]) / np.sqrt(3)
    return lam


T: np.ndarray = _gell_mann() / 2
"""Generators ``T[a, i, j] = (λ^a/2)_{ij}`` of the fundamental representation, shape (8, 3, 3)."""

F: np.ndarray = np.real(
    -2j * (np.einsum("aij,bjk,cki->abc", T, T, T) - np.einsum("bij,ajk,cki->abc", T, T, T))
)
"""Structure constants ``F[a, b, c] = f^{abc}`` (``[T^a, T^b] = i f^{abc} T^c``), shape (8, 8, 8)."""

QCD_VERTICES: dict[str, tuple[complex, int]] = {
    "quark_gluon": (1j, 1),
    "triple_gluon": (-1.0, 1),
    "quartic_gluon": (1j, 2),
}
"""The couplings that go with these colour structures in the UFO ``sm`` model, as
``(phase, power of g_s)``: quark–gluon ``i g_s`` (``T^a``), triple gluon ``−g_s``
(``f^{abc}`` and the Yang–Mills structure), four gluon ``i g_s²`` (``f f`` and the three
metric structures). Static phases let a process collect every ``g_s`` into one factor
(:meth:`~diffsim.models.process.Process.common_coupling`)."""


def colour_matrix(tensors: list[np.ndarray]) -> tuple[tuple[complex, ...], ...]:
    """``C[d, d'] = Σ c_d c_{d'}^*`` over all external colour indices, as nested tuples
    (hashable, so it can be a static field of a process).

    The matrix is Hermitian; in the diagram basis it is complex wherever a diagram's
    colour carries ``f^{abc} T^c = −i [T^a, T^b]`` next to plain ``T^a T^b`` strings.

    ``tensors`` are the diagrams' colour tensors, all with the same shape (one axis per
    coloured external particle).
    """
    flat = np.stack([np.asarray(t, dtype=complex).reshape(-1) for t in tensors])
    matrix = flat @ flat.conj().T
    return tuple(tuple(complex(x) for x in row) for row in matrix)
