"""Physical momenta for matrix-element tests."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from diffsim.phasespace import RamboOnDiet

SQRT_S = 1500.0
"""Default collision energy of the test events (GeV)."""


def on_shell_momenta(process, n, seed, sqrt_s=SQRT_S):
    """Physical momenta (n, n_external, 4): beams along ±z, final state by RAMBO."""
    masses = np.asarray(process.masses(), dtype=float)
    e = sqrt_s / 2
    beams = np.zeros((n, 2, 4))
    beams[:, :, 0] = e
    beams[:, 0, 3] = np.sqrt(e**2 - masses[0] ** 2)
    beams[:, 1, 3] = -np.sqrt(e**2 - masses[1] ** 2)
    rambo = RamboOnDiet(masses[2:])
    r = jax.random.uniform(jax.random.key(seed), (n, rambo.n_random), dtype=jnp.float64)
    final, _ = eqx.filter_jit(rambo.forward)(r, jnp.array([sqrt_s, 0.0, 0.0, 0.0]))
    return jnp.concatenate([jnp.asarray(beams), final], axis=-2)
