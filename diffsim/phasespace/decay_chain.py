"""Recursive s-channel decay chains built from two-body decays and invariant mappings.

A chain is a binary tree: leaves are :class:`FinalState` particles (their position in the
output momentum array and their mass), inner nodes are :class:`Propagator` s whose
invariant mass² is drawn by an :class:`~diffsim.phasespace.invariants.InvariantMap`
(Breit–Wigner for a massive resonance, power law for a massless one, flat otherwise).
``DecayChain(left, right)`` splits the total momentum into the two subtrees, e.g. the
top decay ``t → b W⁺(→ ℓ⁺ ν)``::

    DecayChain(FinalState(0, mb),
               Propagator(BreitWignerInvariant(mw, ww), FinalState(1, 0.0), FinalState(2, 0.0)))

Weight convention: the recursive factorisation
``dΦ_n(P) = dΦ_{n-j+1}(P; Q, …) (ds_Q / 2π) dΦ_j(Q; …)`` with MadGraph's
``dΦ_n ∝ (2π)^(4-3n)``; every split contributes a :class:`TwoBodyDecay` weight and every
propagator ``w_s / (2π)``. At a split of mass ``M`` into ``A`` and ``B`` the invariants are
drawn in order, ``s_A ∈ [A_min², (M - B_min)²]`` then ``s_B ∈ [B_min², (M - m_A)²]``, where
``X_min`` is the sum of the final-state masses below ``X``.

Random-number layout (depth first): at each split, one number per propagator child
(left, right), then the two decay angles, then the left subtree, then the right subtree.
"""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.kinematics import mass_squared, minkowski_dot
from diffsim.phasespace.batching import broadcast_batch
from diffsim.phasespace.invariants import InvariantMap
from diffsim.phasespace.twobody import TwoBodyDecay

__all__ = ["DecayChain", "FinalState", "Propagator"]

_LOG_TWO_PI = math.log(2.0 * math.pi)


class FinalState(eqx.Module):
    """An outgoing particle: ``index`` in the output momenta and ``mass`` (GeV, a leaf)."""

    index: int = eqx.field(static=True)
    mass: Float[Array, ""] | float = 0.0

    def leaves(self) -> tuple["FinalState", ...]:
        return (self,)

    @property
    def n_random(self) -> int:
        return 0


class Propagator(eqx.Module):
    """An s-channel propagator decaying into two subtrees; ``invariant`` samples its mass²."""

    invariant: InvariantMap
    left: "FinalState | Propagator"
    right: "FinalState | Propagator"

    def leaves(self) -> tuple[FinalState, ...]:
        return self.left.leaves() + self.right.leaves()

    @property
    def n_random(self) -> int:
        """Two decay angles, plus one invariant per propagator child, plus the subtrees."""
        return 2 + _split_random(self.left, self.right)


def _split_random(left, right) -> int:
    own = sum(isinstance(child, Propagator) for child in (left, right))
    return own + left.n_random + right.n_random


def _threshold(node) -> Float[Array, ""]:
    return sum(leaf.mass for leaf in node.leaves())


def _sample_split(node_left, node_right, r, parent, sqrt_s, offset, out):
    """Sample one split of ``parent`` of mass ``sqrt_s`` (consuming ``r`` from ``offset``);
    fills ``out``. The sampled masses are passed down, never recomputed from boosted
    four-vectors."""
    log_w = jnp.zeros_like(sqrt_s)
    masses = []
    for child, sibling in ((node_left, node_right), (node_right, node_left)):
        if isinstance(child, Propagator):
            other = masses[0] if masses else _threshold(sibling)
            s, log_w_s = child.invariant.forward(
                r[..., offset], _threshold(child) ** 2, (sqrt_s - other) ** 2
            )
            masses.append(jnp.sqrt(s))
            log_w += log_w_s - _LOG_TWO_PI
            offset += 1
        else:
            masses.append(child.mass)
    pair, log_w_decay = TwoBodyDecay().forward(
        r[..., offset : offset + 2], parent, *masses, parent_mass=sqrt_s
    )
    log_w += log_w_decay
    offset += 2
    for child, momentum, child_mass in zip((node_left, node_right), (pair[..., 0, :], pair[..., 1, :]), masses):
        if isinstance(child, Propagator):
            log_w_child, offset = _sample_split(
                child.left, child.right, r, momentum, child_mass, offset, out
            )
            log_w += log_w_child
        else:
            out[child.index] = momentum
    return log_w, offset


def _node_momentum_and_invariant(node, momenta):
    """Momentum and invariant mass² of a subtree, ``s = s_L + s_R + 2 p_L·p_R`` recursively
    with the nominal final-state masses at the leaves: sums of positive pair products,
    which keep their relative precision near threshold (unlike ``(Σ p)²``)."""
    if isinstance(node, FinalState):
        momentum = momenta[..., node.index, :]
        return momentum, jnp.broadcast_to(jnp.asarray(node.mass, momentum.dtype) ** 2, momentum.shape[:-1])
    p_left, s_left = _node_momentum_and_invariant(node.left, momenta)
    p_right, s_right = _node_momentum_and_invariant(node.right, momenta)
    return p_left + p_right, s_left + s_right + 2.0 * minkowski_dot(p_left, p_right)


def _invert_split(node_left, node_right, momenta, offset, out):
    """Recover the numbers of one split from ``momenta``; fills ``out[offset]``."""
    children = (node_left, node_right)
    child_momenta, child_invariants = zip(
        *(_node_momentum_and_invariant(child, momenta) for child in children)
    )
    s_parent = (
        child_invariants[0] + child_invariants[1] + 2.0 * minkowski_dot(*child_momenta)
    )
    sqrt_s = jnp.sqrt(s_parent)
    log_w = jnp.zeros_like(sqrt_s)
    masses = []
    for child, sibling, s in zip(children, children[::-1], child_invariants):
        if isinstance(child, Propagator):
            other = masses[0] if masses else _threshold(sibling)
            out[offset], log_w_s = child.invariant.inverse(
                s, _threshold(child) ** 2, (sqrt_s - other) ** 2
            )
            masses.append(jnp.sqrt(s))
            log_w += log_w_s - _LOG_TWO_PI
            offset += 1
        else:
            masses.append(child.mass)
    angles, log_w_decay = TwoBodyDecay().inverse(jnp.stack(child_momenta, axis=-2), *masses)
    out[offset], out[offset + 1] = angles[..., 0], angles[..., 1]
    log_w += log_w_decay
    offset += 2
    for child in children:
        if isinstance(child, Propagator):
            log_w_child, offset = _invert_split(child.left, child.right, momenta, offset, out)
            log_w += log_w_child
    return log_w, offset


class DecayChain(eqx.Module):
    """Phase space of ``P → left + right`` with recursive s-channel decays.

    ``forward(r, p_total) -> (momenta (..., n, 4), log_w)``; ``inverse(momenta) -> (r, log_w)``.
    Final-state indices must be exactly ``0 … n-1``. Conventions in the module docstring.
    """

    left: FinalState | Propagator
    right: FinalState | Propagator

    def __check_init__(self):
        indices = sorted(leaf.index for leaf in self.left.leaves() + self.right.leaves())
        if indices != list(range(len(indices))):
            raise ValueError(f"DecayChain final-state indices must be 0..n-1, got {indices}")

    @property
    def n_particles(self) -> int:
        return len(self.left.leaves()) + len(self.right.leaves())

    @property
    def n_random(self) -> int:
        """``3n - 4`` numbers: two angles per split, one invariant per propagator."""
        return 2 + _split_random(self.left, self.right)

    def forward(
        self, r: Float[Array, "*batch r"], p_total: Float[Array, "*batch 4"]
    ) -> tuple[Float[Array, "*batch n 4"], Float[Array, "*batch"]]:
        r = jnp.asarray(r)
        if r.shape[-1] != self.n_random:
            raise ValueError(f"DecayChain needs r[..., {self.n_random}], got shape {r.shape}")
        r, p_total = broadcast_batch((r, 1), (p_total, 1))
        out: dict[int, Array] = {}
        sqrt_s = jnp.sqrt(mass_squared(p_total))
        log_w, _ = _sample_split(self.left, self.right, r, p_total, sqrt_s, 0, out)
        return jnp.stack([out[i] for i in range(self.n_particles)], axis=-2), log_w

    def inverse(
        self, momenta: Float[Array, "*batch n 4"]
    ) -> tuple[Float[Array, "*batch r"], Float[Array, "*batch"]]:
        if momenta.shape[-2:] != (self.n_particles, 4):
            raise ValueError(
                f"DecayChain.inverse expects momenta[..., {self.n_particles}, 4], got {momenta.shape}"
            )
        out: dict[int, Array] = {}
        log_w, _ = _invert_split(self.left, self.right, momenta, 0, out)
        return jnp.stack([out[i] for i in range(self.n_random)], axis=-1), log_w

