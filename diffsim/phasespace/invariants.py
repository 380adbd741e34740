"""One-dimensional mappings of an invariant (``s`` or ``-t``, GeV²) from the unit interval.

Each map samples ``s ∈ [s_min, s_max]`` from ``r ∈ [0, 1]`` with a density shaped like a
propagator, so that ``∫ ds f(s) = E_r[f(s(r)) · w(r)]`` with ``w = ds/dr``. These are the
importance-sampling blocks of multi-channel integration (MadGraph's ``genps``; Sherpa's
``Channel_Basics``; see also Byckling & Kajantie, *Particle Kinematics*, ch. V):

* :class:`FlatInvariant`: ``s = s_min + r (s_max - s_min)``;
* :class:`BreitWignerInvariant`: density ∝ ``1/((s - M²)² + M²Γ²)`` via ``s = M² + MΓ tan y``;
* :class:`PowerLawInvariant`: density ∝ ``(s - pole)^(-ν)`` for massless propagators
  (``pole = 0`` for an s-channel photon; for ``-t`` of a t-channel propagator of mass ``m``
  use ``pole = -m²``).

``forward(r, s_min, s_max) -> (s, log_w)``; ``inverse(s, s_min, s_max) -> (r, log_w)``
returns the same ``log_w = log(ds/dr)`` evaluated at the point, so a sample's weight is
available in either direction. Mass, width and pole are leaves: gradients reach them.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

__all__ = ["BreitWignerInvariant", "FlatInvariant", "InvariantMap", "PowerLawInvariant"]

Scalar = Float[Array, "*batch"]


class InvariantMap(eqx.Module):
    """Interface: a bijection ``[0, 1] → [s_min, s_max]`` with weight ``ds/dr``."""

    def forward(self, r: Scalar, s_min: ArrayLike, s_max: ArrayLike) -> tuple[Scalar, Scalar]:
        """Map ``r ∈ [0, 1]`` to ``s`` (GeV²); returns ``(s, log(ds/dr))``."""
        raise NotImplementedError

    def inverse(self, s: Scalar, s_min: ArrayLike, s_max: ArrayLike) -> tuple[Scalar, Scalar]:
        """Map ``s`` back to ``r``; returns ``(r, log(ds/dr))`` at that point."""
        raise NotImplementedError


class FlatInvariant(InvariantMap):
    """Uniform sampling of ``s`` in ``[s_min, s_max]``; weight ``s_max - s_min``."""

    def forward(self, r, s_min, s_max):
        width = s_max - s_min
        return s_min + r * width, jnp.log(width) * jnp.ones_like(r)

    def inverse(self, s, s_min, s_max):
        width = s_max - s_min
        return (s - s_min) / width, jnp.log(width) * jnp.ones_like(s)


class BreitWignerInvariant(InvariantMap):
    """Breit–Wigner (arctan) mapping for a massive s-channel propagator.

    ``s = M² + MΓ tan y`` with ``y`` uniform in ``[y(s_min), y(s_max)]``,
    ``y(s) = arctan((s - M²)/(MΓ))``; the weight is
    ``ds/dr = (y_max - y_min) ((s - M²)² + M²Γ²)/(MΓ)``, exactly the inverse of the
    normalised Breit–Wigner density. ``mass`` and ``width`` in GeV (``width > 0``).
    """

    mass: Float[Array, ""] | float
    width: Float[Array, ""] | float

    def _angles(self, s_min, s_max):
        m2, mg = self.mass**2, self.mass * self.width
        return jnp.arctan((s_min - m2) / mg), jnp.arctan((s_max - m2) / mg)

    def _log_weight(self, s, y_min, y_max):
        m2, mg = self.mass**2, self.mass * self.width
        return jnp.log(y_max - y_min) + jnp.log(((s - m2) ** 2 + mg**2) / mg)

    def forward(self, r, s_min, s_max):
        y_min, y_max = self._angles(s_min, s_max)
        y = y_min + r * (y_max - y_min)
        s = self.mass**2 + self.mass * self.width * jnp.tan(y)
        return s, self._log_weight(s, y_min, y_max)

    def inverse(self, s, s_min, s_max):
        y_min, y_max = self._angles(s_min, s_max)
        y = jnp.arctan((s - self.mass**2) / (self.mass * self.width))
        return (y - y_min) / (y_max - y_min), self._log_weight(s, y_min, y_max)


class PowerLawInvariant(InvariantMap):
    """Power-law mapping with density ∝ ``(s - pole)^(-ν)`` on ``[s_min, s_max]``.

    With ``a = s_min - pole``, ``b = s_max - pole`` (both > 0) and ``ν ≠ 1``:
    ``s - pole = (a^(1-ν) + r (b^(1-ν) - a^(1-ν)))^(1/(1-ν))``; for ``ν = 1`` the map is
    logarithmic, ``s - pole = a (b/a)^r``. The weight is
    ``ds/dr = (s - pole)^ν (b^(1-ν) - a^(1-ν))/(1-ν)`` (``(s - pole) ln(b/a)`` for ν = 1).
    ``nu`` is a static tuning exponent (MadGraph and Sherpa use values near 1);
    ``pole`` (GeV²) is a differentiable leaf.
    """

    nu: float = eqx.field(static=True, default=1.0)
    pole: Float[Array, ""] | float = 0.0

    def _normalisation(self, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        if self.nu == 1.0:
            return jnp.log(b / a)
        return (b ** (1.0 - self.nu) - a ** (1.0 - self.nu)) / (1.0 - self.nu)

    def forward(self, r, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        if self.nu == 1.0:
            x = a * (b / a) ** r
        else:
            e = 1.0 - self.nu
            x = (a**e + r * (b**e - a**e)) ** (1.0 / e)
        log_w = self.nu * jnp.log(x) + jnp.log(self._normalisation(s_min, s_max))
        return self.pole + x, log_w

    def inverse(self, s, s_min, s_max):
        a, b = s_min - self.pole, s_max - self.pole
        x = s - self.pole
        if self.nu == 1.0:
            r = jnp.log(x / a) / jnp.log(b / a)
        else:
            e = 1.0 - self.nu
            r = (x**e - a**e) / (b**e - a**e)
        log_w = self.nu * jnp.log(x) + jnp.log(self._normalisation(s_min, s_max))
        return r, log_w
