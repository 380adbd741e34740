"""Which dimensions each coupling layer transforms.

Instead of explicit permutation bijectors between layers, every coupling layer carries its
own binary mask. Layers come in pairs: the first layer of a pair transforms one half of the
axes conditioned on the other and the second layer the complement, so every dimension is
transformed in every pair (Dinh et al., arXiv:1605.08803). Pair ``p`` splits the axes by
bit ``p mod ⌈log₂ dim⌉`` of their index (the binary masks of MadNIS, arXiv:2212.06172), so
that within ``⌈log₂ dim⌉`` pairs every two axes have been on opposite sides at least once:
each axis is then transformed conditioned on every other one.

The masks depend only on ``dim`` and ``n_layers``. Two flows of the same architecture
therefore have the same static structure whatever their random initialisation, and a
compiled training step or sampler is reused across seeds and runs. For ``dim == 1`` every
layer transforms the single axis and its conditioner sees only the context (or a constant).
"""

__all__ = ["coupling_masks"]


def coupling_masks(dim: int, n_layers: int) -> tuple[tuple[int, ...], ...]:
    """The transformed (active) axes of each of ``n_layers`` layers, sorted, as static tuples."""
    if not isinstance(dim, int) or dim < 1 or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"dim and n_layers must be positive ints, got {dim!r}, {n_layers!r}")
    if dim == 1:
        return ((0,),) * n_layers
    n_bits = (dim - 1).bit_length()
    masks = []
    for pair in range((n_layers + 1) // 2):
        bit = pair % n_bits
        masks.append(tuple(axis for axis in range(dim) if not (axis >> bit) & 1))
        masks.append(tuple(axis for axis in range(dim) if (axis >> bit) & 1))
    return tuple(masks[:n_layers])
