"""Consumers of the differentiable chain: integrators, unweighting, MEM, fits.

Installed as ``diffsim.inference`` (source folder ``inference/``). Generic over
integrands; never imports :mod:`diffsim.models`.
"""

__all__: list[str] = []
