"""Which dimensions each coupling layer transforms.

Instead of explicit permutation bijectors between layers, every coupling layer carries its
own binary mask. Layers come in pairs: a random permutation of the ``dim`` axes (drawn from
the key) is cut in two halves, the first layer of the pair transforms one half conditioned
on the other and the second layer the complement, so every dimension is transformed in
every pair and different pairs mix different subsets (Dinh et al., arXiv:1605.08803; the
MadNIS flows of arXiv:2212.06172 use the same alternating scheme). For ``dim == 1`` every
layer transforms the single axis and its conditioner sees only the context (or a constant).
"""

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

__all__ = ["coupling_masks"]


def coupling_masks(key: PRNGKeyArray, dim: int, n_layers: int) -> tuple[tuple[int, ...], ...]:
    """The transformed (active) axes of each of ``n_layers`` layers, sorted, as static tuples."""
    if not isinstance(dim, int) or dim < 1 or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"dim and n_layers must be positive ints, got {dim!r}, {n_layers!r}")
    if dim == 1:
        return ((0,),) * n_layers
    masks = []
    for pair_key in jax.random.split(key, (n_layers + 1) // 2):
        order = np.asarray(jax.random.permutation(pair_key, dim))
        half = dim // 2
        masks += [tuple(sorted(order[:half].tolist())), tuple(sorted(order[half:].tolist()))]
    return tuple(masks[:n_layers])
