"""``Events``: a batch of events as one pytree of padded, masked arrays.

The fields mirror the per-event content of a Les Houches event file (hep-ph/0609017), with
four-momenta in diffsim's ``(E, px, py, pz)`` layout. The arrays may be NumPy arrays (what the
LHE reader returns: float64 whatever JAX's precision setting) or JAX arrays (what generators
produce, e.g. with :meth:`Events.from_momenta` inside ``jit``); the helpers keep NumPy input
NumPy.
"""

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, Bool, Float, Int

from diffsim.kinematics import mass as invariant_mass_of

__all__ = ["Events"]

_PARTICLE_FIELDS = (
    "momenta", "mass", "pdg_id", "status", "mothers", "colour", "lifetime", "helicity", "mask",
)
_EVENT_FIELDS = ("weight", "process_id", "scale", "alpha_qed", "alpha_qcd")
_INTEGER_FIELDS = ("pdg_id", "status", "mothers", "colour", "process_id")
_FLOAT_FIELDS = (
    "momenta", "mass", "lifetime", "helicity", "weight", "scale", "alpha_qed", "alpha_qcd", "weights",
)


def _as_array(value):
    """Keep NumPy and JAX arrays (tracers included) as they are; make anything else NumPy."""
    return value if isinstance(value, (np.ndarray, jax.Array)) else np.asarray(value)


def _names(value) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"weight_names must be a sequence of strings, got the string {value!r}")
    return tuple(value)


def _namespace(arrays):
    """NumPy when every array is a NumPy array (keeps float64 host data as it is), else jnp."""
    return np if all(isinstance(a, np.ndarray) for a in arrays) else jnp


class Events(eqx.Module):
    """A batch of ``N`` events with ``n`` particle slots each (GeV; LHEF conventions).

    Real files mix multiplicities (an extra emission, a decayed top), so every event has the
    same number ``n`` of particle slots and ``mask`` marks the real particles; the rest is
    padding. Padding is trailing (real particles first, in their LHE order, so ``mothers``
    indices stay valid) and zero-filled (``mask`` False, all other fields 0). Array shapes
    stay static, which is what ``jit`` and ``vmap`` need.

    Attributes:
        momenta: ``(N, n, 4)`` four-momenta ``(E, px, py, pz)`` in GeV.
        mass: ``(N, n)`` generated mass ``m`` of each particle in GeV (LHE ``PUP(5)``;
            it need not equal the invariant mass of ``momenta``).
        pdg_id: ``(N, n)`` int, PDG particle ids (``IDUP``).
        status: ``(N, n)`` int, ``ISTUP``: -1 incoming, 1 outgoing, -2 space-like propagator,
            2 decayed resonance, 3 documentation line, -9 incoming beam.
        mothers: ``(N, n, 2)`` int, ``MOTHUP``: 1-based positions of the first and last
            mother in the event, 0 for none (as in the file).
        colour: ``(N, n, 2)`` int, ``ICOLUP``: colour and anticolour line tags, 0 for none.
        lifetime: ``(N, n)`` proper lifetime ``cτ`` in mm (``VTIMUP``).
        helicity: ``(N, n)`` cosine of the angle between spin and momentum in the lab frame
            (``SPINUP``; ±1 for helicity states, 9 for unknown).
        mask: ``(N, n)`` bool, True for real particles, False for padding.
        weight: ``(N,)`` event weight ``XWGTUP`` (pb for weighted events).
        process_id: ``(N,)`` int, process id ``IDPRUP`` (see :class:`~diffsim.events.RunInfo`).
        scale: ``(N,)`` scale ``SCALUP`` of the event in GeV (-1 when not set).
        alpha_qed: ``(N,)`` ``AQEDUP`` (-1 when not set).
        alpha_qcd: ``(N,)`` ``AQCDUP`` (-1 when not set).
        weights: ``(N, k)`` named weights (LHEF 3.0 ``<rwgt>``), one column per name; NaN
            where a file did not give an event that weight.
        weight_names: static tuple of the ``k`` distinct weight ids.
    """

    momenta: Float[ArrayLike, "N n 4"] = eqx.field(converter=_as_array)
    mass: Float[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    pdg_id: Int[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    status: Int[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    mothers: Int[ArrayLike, "N n 2"] = eqx.field(converter=_as_array)
    colour: Int[ArrayLike, "N n 2"] = eqx.field(converter=_as_array)
    lifetime: Float[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    helicity: Float[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    mask: Bool[ArrayLike, "N n"] = eqx.field(converter=_as_array)
    weight: Float[ArrayLike, " N"] = eqx.field(converter=_as_array)
    process_id: Int[ArrayLike, " N"] = eqx.field(converter=_as_array)
    scale: Float[ArrayLike, " N"] = eqx.field(converter=_as_array)
    alpha_qed: Float[ArrayLike, " N"] = eqx.field(converter=_as_array)
    alpha_qcd: Float[ArrayLike, " N"] = eqx.field(converter=_as_array)
    weights: Float[ArrayLike, "N k"] = eqx.field(converter=_as_array)
    weight_names: tuple[str, ...] = eqx.field(static=True, converter=_names)

    def __check_init__(self):
        if np.ndim(self.mask) != 2:
            raise ValueError(f"Events.mask must have shape (N, n), got {np.shape(self.mask)}")
        n_events, n_slots = np.shape(self.mask)
        expected = {"momenta": (n_events, n_slots, 4), "mothers": (n_events, n_slots, 2)}
        expected["colour"] = expected["mothers"]
        for name in ("mass", "pdg_id", "status", "lifetime", "helicity"):
            expected[name] = (n_events, n_slots)
        for name in _EVENT_FIELDS:
            expected[name] = (n_events,)
        expected["weights"] = (n_events, len(self.weight_names))
        for name, shape in expected.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"Events.{name} must have shape {shape} for N={n_events} events with "
                    f"n={n_slots} particle slots and {len(self.weight_names)} named weights, "
                    f"got {np.shape(getattr(self, name))}"
                )
        if not jnp.issubdtype(self.mask.dtype, jnp.bool_):
            raise TypeError(f"Events.mask must be boolean, got {self.mask.dtype}")
        for name in _INTEGER_FIELDS:
            if not jnp.issubdtype(getattr(self, name).dtype, jnp.integer):
                raise TypeError(f"Events.{name} must be an integer array, got {getattr(self, name).dtype}")
        for name in _FLOAT_FIELDS:
            if not jnp.issubdtype(getattr(self, name).dtype, jnp.floating):
                raise TypeError(f"Events.{name} must be a floating array, got {getattr(self, name).dtype}")
        if not all(isinstance(name, str) and name for name in self.weight_names):
            raise ValueError(f"weight_names must be non-empty strings, got {self.weight_names}")
        if len(set(self.weight_names)) != len(self.weight_names):
            raise ValueError(f"weight_names must be distinct, got {self.weight_names}")

    @property
    def n_events(self) -> int:
        """Number of events ``N``."""
        return np.shape(self.mask)[0]

    @property
    def n_particles(self) -> int:
        """Number of particle slots ``n`` per event (real particles plus padding)."""
        return np.shape(self.mask)[1]

    @property
    def multiplicity(self) -> Int[ArrayLike, " N"]:
        """Number of real particles in each event (``NUP``)."""
        return self.mask.sum(axis=1)

    def __len__(self) -> int:
        return self.n_events

    def __getitem__(self, key) -> "Events":
        """Select events along the event axis: a slice, an integer index array or a boolean mask.

        A single integer is refused (it would drop the event axis); use ``events[i:i + 1]``.
        """
        if isinstance(key, (int, np.integer, tuple)) or (np.ndim(key) == 0 and not isinstance(key, slice)):
            raise TypeError(
                "Events are indexed along the event axis with a slice, an index array or a "
                f"boolean mask; got {key!r} (for one event use events[i:i + 1])"
            )
        return jax.tree.map(lambda leaf: leaf[key], self)

    def pad_particles(self, n: int) -> "Events":
        """The same events with ``n >= self.n_particles`` particle slots (new slots are padding)."""
        if n < self.n_particles:
            raise ValueError(f"cannot pad {self.n_particles} particle slots down to {n}")
        extra = n - self.n_particles
        if extra == 0:
            return self
        xp = _namespace(jax.tree.leaves(self))
        updates = {}
        for name in _PARTICLE_FIELDS:
            leaf = getattr(self, name)
            updates[name] = xp.pad(leaf, [(0, 0), (0, extra)] + [(0, 0)] * (leaf.ndim - 2))
        return dataclasses.replace(self, **updates)

    @staticmethod
    def concatenate(chunks: Sequence["Events"]) -> "Events":
        """Join batches along the event axis, padding them to a common number of particle slots.

        All chunks must carry the same ``weight_names``. NumPy-backed chunks give a
        NumPy-backed result.
        """
        chunks = list(chunks)
        if not chunks:
            raise ValueError("Events.concatenate needs at least one batch of events")
        for chunk in chunks:
            if not isinstance(chunk, Events):
                raise TypeError(f"Events.concatenate takes Events, got {type(chunk).__name__}")
            if chunk.weight_names != chunks[0].weight_names:
                raise ValueError(
                    "cannot concatenate events with different weight names: "
                    f"{chunks[0].weight_names} and {chunk.weight_names}"
                )
        n = max(chunk.n_particles for chunk in chunks)
        chunks = [chunk.pad_particles(n) for chunk in chunks]
        xp = _namespace([leaf for chunk in chunks for leaf in jax.tree.leaves(chunk)])
        return jax.tree.map(lambda *leaves: xp.concatenate(leaves, axis=0), *chunks)

    @classmethod
    def from_momenta(
        cls,
        momenta: Float[ArrayLike, "N n 4"],
        pdg_id: Int[ArrayLike, "*N n"],
        *,
        n_incoming: int = 2,
        status: Int[ArrayLike, "*N n"] | None = None,
        weight: Float[ArrayLike, "*N"] = 1.0,
        mass: Float[ArrayLike, "*N n"] | None = None,
        mothers: Int[ArrayLike, "*N n 2"] | None = None,
        colour: Int[ArrayLike, "*N n 2"] | None = None,
        lifetime: Float[ArrayLike, "*N n"] = 0.0,
        helicity: Float[ArrayLike, "*N n"] = 9.0,
        mask: Bool[ArrayLike, "*N n"] | None = None,
        process_id: Int[ArrayLike, "*N"] = 1,
        scale: Float[ArrayLike, "*N"] = -1.0,
        alpha_qed: Float[ArrayLike, "*N"] = -1.0,
        alpha_qcd: Float[ArrayLike, "*N"] = -1.0,
        weights: Float[ArrayLike, "N k"] | None = None,
        weight_names: Sequence[str] = (),
    ) -> "Events":
        """Events from generated momenta, in MadGraph's particle order (incoming first).

        Per-particle arguments broadcast from ``(n,)`` (the same for every event) to
        ``(N, n)``, per-event ones from scalars to ``(N,)``. Defaults: the first
        ``n_incoming`` particles (1 for a decay, 2 for a collision) have status -1 and no
        mothers, the others status 1 and mothers ``(1, n_incoming)``; ``mass`` is the
        invariant mass of each momentum (negative for space-like ones, see
        :func:`diffsim.kinematics.mass`); no colour; helicity 9 (unknown); lifetime 0;
        weight 1; process id 1; scale and couplings -1 (not set). Float fields take the
        dtype of ``momenta``; integer fields are int32. Works under ``jit``.

        Args:
            momenta: ``(N, n, 4)`` four-momenta ``(E, px, py, pz)`` in GeV.
            pdg_id: ``(n,)`` or ``(N, n)`` PDG ids.
            weights: ``(N, k)`` named weights, with ``weight_names`` their ``k`` ids.
        """
        momenta = jnp.asarray(momenta)
        if momenta.ndim != 3 or momenta.shape[-1] != 4:
            raise ValueError(f"momenta must have shape (N, n, 4), got {momenta.shape}")
        if not jnp.issubdtype(momenta.dtype, jnp.floating):
            raise TypeError(f"momenta must be a floating array, got {momenta.dtype}")
        n_events, n = momenta.shape[:2]
        if n_incoming not in (1, 2) or n_incoming > n:
            raise ValueError(f"n_incoming must be 1 or 2 and at most n={n}, got {n_incoming}")
        dtype = momenta.dtype
        incoming = jnp.arange(n) < n_incoming

        def broadcast(value, shape, name, value_dtype):
            value = jnp.asarray(value, dtype=value_dtype)
            try:
                return jnp.broadcast_to(value, shape)
            except ValueError:
                raise ValueError(f"{name} must broadcast to shape {shape}, got {value.shape}") from None

        if status is None:
            status = jnp.where(incoming, -1, 1)
        if mothers is None:
            mothers = jnp.where(incoming[:, None], 0, jnp.array([1, n_incoming]))
        if mass is None:
            mass = invariant_mass_of(momenta)
        if colour is None:
            colour = 0
        if mask is None:
            mask = True
        weight_names = _names(weight_names)
        if weights is None:
            if weight_names:
                raise ValueError(f"weight_names {weight_names} given without weights")
            weights = jnp.zeros((n_events, 0), dtype)
        per_particle, per_event = (n_events, n), (n_events,)
        return cls(
            momenta=momenta,
            mass=broadcast(mass, per_particle, "mass", dtype),
            pdg_id=broadcast(pdg_id, per_particle, "pdg_id", jnp.int32),
            status=broadcast(status, per_particle, "status", jnp.int32),
            mothers=broadcast(mothers, (n_events, n, 2), "mothers", jnp.int32),
            colour=broadcast(colour, (n_events, n, 2), "colour", jnp.int32),
            lifetime=broadcast(lifetime, per_particle, "lifetime", dtype),
            helicity=broadcast(helicity, per_particle, "helicity", dtype),
            mask=broadcast(mask, per_particle, "mask", jnp.bool_),
            weight=broadcast(weight, per_event, "weight", dtype),
            process_id=broadcast(process_id, per_event, "process_id", jnp.int32),
            scale=broadcast(scale, per_event, "scale", dtype),
            alpha_qed=broadcast(alpha_qed, per_event, "alpha_qed", dtype),
            alpha_qcd=broadcast(alpha_qcd, per_event, "alpha_qcd", dtype),
            weights=broadcast(weights, (n_events, len(weight_names)), "weights", dtype),
            weight_names=weight_names,
        )
