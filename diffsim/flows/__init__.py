"""Normalizing flows: rational-quadratic spline couplings on [0, 1]^d and ℝ^d.

Importance samplers (MadNIS, arXiv:2212.06172) and conditional transfer functions
(matrix-element method, arXiv:2210.00019) as immutable ``equinox.Module`` pytrees:

- :mod:`~diffsim.flows.spline`: the monotone rational-quadratic spline (arXiv:1906.04032);
- :mod:`~diffsim.flows.masks`: which axes each coupling layer transforms;
- :mod:`~diffsim.flows.coupling`: the spline coupling layer with its MLP conditioner;
- :mod:`~diffsim.flows.flow`: :class:`Flow` and the constructors
  :func:`unit_hypercube_flow` and :func:`real_flow`.
"""

from diffsim.flows.coupling import SplineCoupling
from diffsim.flows.flow import Flow, real_flow, unit_hypercube_flow
from diffsim.flows.masks import coupling_masks
from diffsim.flows.spline import (
    rational_quadratic_bin,
    rational_quadratic_spline,
    spline_knots,
    spline_parameter_count,
)

__all__ = [
    "Flow",
    "SplineCoupling",
    "coupling_masks",
    "rational_quadratic_bin",
    "rational_quadratic_spline",
    "real_flow",
    "spline_knots",
    "spline_parameter_count",
    "unit_hypercube_flow",
]
