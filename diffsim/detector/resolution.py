"""Calorimeter-type energy resolution with stochastic, noise and constant terms.

The standard parametrisation of a calorimeter's relative energy resolution (e.g. Fabjan
and Gianotti, Rev. Mod. Phys. 75 (2003) 1243; the performance goals of the ATLAS detector
paper, JINST 3 (2008) S08003, Table 1.1; the Delphes ``SimpleCalorimeter`` cards) is the
quadrature sum

    σ_E / E = sqrt((a / √E)² + (b / E)² + c²),   i.e.   σ_E = sqrt(a² E + b² + c² E²),

with ``E`` in GeV, the stochastic term ``a`` [√GeV] (shower sampling fluctuations), the
noise term ``b`` [GeV] (electronics and pile-up) and the constant term ``c``
(dimensionless: calibration, non-uniformity). A momentum resolution of a tracker that is
flat in ``pT`` is the constant term alone.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.detector.parameters import as_parameter, is_bad, validate_parameter

__all__ = ["Resolution"]


class Resolution(eqx.Module):
    """Relative energy resolution ``σ_E/E = sqrt((a/√E)² + (b/E)² + c²)`` (module docstring).

    Attributes:
        stochastic: ``a`` [√GeV], e.g. 0.101 for the ATLAS electromagnetic calorimeter.
        noise: ``b`` [GeV].
        constant: ``c`` (dimensionless).

    All three must be non-negative and not all zero (``ValueError`` at construction for
    concrete values, ``eqx.error_if`` at use inside ``jit``).
    """

    stochastic: Array = eqx.field(converter=as_parameter)
    noise: Array = eqx.field(converter=as_parameter)
    constant: Array = eqx.field(converter=as_parameter)

    def __check_init__(self):
        for name in ("stochastic", "noise", "constant"):
            validate_parameter(getattr(self, name), f"Resolution.{name}", positive=False)
        validate_parameter(self.stochastic + self.noise + self.constant,
                           "the sum of the Resolution terms", positive=True)

    def terms(self, dtype) -> tuple[Array, Array, Array]:
        """``(a, b, c)`` cast to ``dtype`` and checked (non-negative, not all zero)."""
        a, b, c = (jnp.asarray(getattr(self, name), dtype) for name in ("stochastic", "noise", "constant"))
        bad = is_bad(a, False) | is_bad(b, False) | is_bad(c, False) | (a + b + c <= 0)
        return eqx.error_if((a, b, c), bad, "Resolution terms must be non-negative, finite and not all zero")

    def sigma(self, energy: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        """Absolute resolution ``σ_E = sqrt(a² E + b² + c² E²)`` [GeV] at ``energy > 0`` [GeV]."""
        energy = jnp.asarray(energy)
        a, b, c = self.terms(energy.dtype)
        return jnp.sqrt(a**2 * energy + b**2 + c**2 * energy**2)

    def relative(self, energy: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        """Relative resolution ``σ_E / E`` at ``energy > 0`` [GeV]."""
        energy = jnp.asarray(energy)
        return self.sigma(energy) / energy
