"""Opt-in double precision and reproducible CPU compilation.

diffsim never changes JAX's global configuration on import. Physics is validated in
float64, so scripts, the command line, benchmarks and the test suite call
:func:`enable_x64` once at start-up, before the first computation.

Reproducibility: jaxlib 0.10's CPU compiler can hand some computations to its YNNPACK
fusions (``--xla_cpu_experimental_ynn_fusion_type``). In float64 this intermittently
miscompiles: the same jitted function on the same inputs returned the right result in
some processes and a different one in others. The pattern was a small MLP feeding a
softmax over ``(3333, 3)`` rows, which are the multi-channel weights ``α_c(x)``. About one
compile in three was wrong, so a fixed key did not give a fixed result. :func:`enable_x64`
therefore switches those fusions off. On this machine they were also slower for the flows:
a flow's sample step took 0.35 s without them and 0.41 s with them.
"""

import os
import warnings

import jax
import jaxlib
from jax._src import xla_bridge  # no public way to ask without initialising a backend

__all__ = ["enable_x64"]

_YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
_YNN_JAXLIB = ((0, 10),)
"""jaxlib minor versions known to accept the flag (an unknown XLA flag aborts the process)."""


def enable_x64(enabled: bool = True) -> None:
    """Switch JAX's default floating-point precision to 64 bits (or back with ``False``),
    and make CPU compilation reproducible (see the module docstring).

    This sets the process-wide ``jax_enable_x64`` flag; call it before creating arrays.
    The compiler setting only applies if no computation has run yet. If one has, a
    :class:`RuntimeWarning` says so. A ``--xla_cpu_experimental_ynn_fusion_type`` already
    in ``XLA_FLAGS`` is left as the user set it.
    """
    jax.config.update("jax_enable_x64", bool(enabled))
    _disable_ynn_fusions()


def _disable_ynn_fusions() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    version = tuple(int(part) for part in jaxlib.__version__.split(".")[:2])
    if _YNN_FLAG in flags or version not in _YNN_JAXLIB:
        return
    os.environ["XLA_FLAGS"] = f"{flags} {_YNN_FLAG}=".strip()
    if xla_bridge.backends_are_initialized():
        warnings.warn(
            "diffsim.enable_x64() ran after JAX's first computation, so XLA_FLAGS no longer "
            "applies and CPU compilation may not be reproducible; call it at start-up",
            RuntimeWarning,
            stacklevel=3,
        )
