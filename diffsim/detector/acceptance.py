"""Smooth, differentiable acceptance × efficiency in transverse momentum and pseudorapidity.

A hard cut ``pT > pT_min, |η| < η_max`` has zero gradient almost everywhere and a delta
function at the edge. Here each step is a logistic sigmoid of named width, so the
efficiency and its derivatives w.r.t. the thresholds, the widths and the momenta exist:

    ε(p) = sigmoid((pT − pT_min) / w_pT) · sigmoid((η_max − |η|) / w_η),

``ε → 1`` well inside, ``→ 0`` well outside, ``ε = 1/2`` on a threshold (times the other
factor); as the widths go to zero it becomes the hard cut. The plateau efficiency of a
real detector (e.g. 0.95 for ATLAS electrons in the Delphes card) is not modelled: the
plateau is 1.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from diffsim.detector.coordinates import check_momenta
from diffsim.detector.parameters import as_parameter, checked, validate_parameter
from diffsim.kinematics import pseudorapidity, pt

__all__ = ["Acceptance"]

_POSITIVE = {"pt_min": False, "eta_max": True, "pt_width": True, "eta_width": True}


class Acceptance(eqx.Module):
    """Smooth efficiency ``ε(p) = sigmoid((pT − pt_min)/pt_width) · sigmoid((eta_max − |η|)/eta_width)``.

    Attributes:
        pt_min: transverse-momentum threshold [GeV] (non-negative).
        eta_max: pseudorapidity coverage ``|η| < eta_max`` (positive).
        pt_width: width of the ``pT`` turn-on [GeV] (positive).
        eta_width: width of the ``|η|`` edge (positive).

    Concrete bad values raise ``ValueError`` at construction; inside ``jit`` they raise
    through ``eqx.error_if`` at use.
    """

    pt_min: Array = eqx.field(converter=as_parameter)
    eta_max: Array = eqx.field(converter=as_parameter)
    pt_width: Array = eqx.field(converter=as_parameter)
    eta_width: Array = eqx.field(converter=as_parameter)

    def __check_init__(self):
        for name, positive in _POSITIVE.items():
            validate_parameter(getattr(self, name), f"Acceptance.{name}", positive=positive)

    def _arguments(self, p) -> tuple[Array, Array]:
        """The sigmoid arguments ``(pT − pt_min)/pt_width`` and ``(eta_max − |η|)/eta_width``."""
        p = check_momenta(p, "p")
        pt_min, eta_max, pt_width, eta_width = (
            checked(getattr(self, name), f"Acceptance.{name}", positive=positive, dtype=p.dtype)
            for name, positive in _POSITIVE.items()
        )
        return (pt(p) - pt_min) / pt_width, (eta_max - jnp.abs(pseudorapidity(p))) / eta_width

    def efficiency(self, p: Float[Array, "*batch 4"]) -> Float[Array, "*batch"]:
        """``ε(p)`` in ``[0, 1]`` for momenta ``p`` ``(..., 4)`` [GeV]."""
        along_pt, along_eta = self._arguments(p)
        return jax.nn.sigmoid(along_pt) * jax.nn.sigmoid(along_eta)

    def log_efficiency(self, p: Float[Array, "*batch 4"]) -> Float[Array, "*batch"]:
        """``log ε(p)``, computed with ``log_sigmoid`` (accurate far outside the acceptance)."""
        along_pt, along_eta = self._arguments(p)
        return jax.nn.log_sigmoid(along_pt) + jax.nn.log_sigmoid(along_eta)
