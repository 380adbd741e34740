"""Opt-in double precision.

diffsim never changes JAX's global configuration on import. Physics is validated in
float64, so scripts, the command line, benchmarks and the test suite call
:func:`enable_x64` once at start-up.
"""

import jax

__all__ = ["enable_x64"]


def enable_x64(enabled: bool = True) -> None:
    """Switch JAX's default floating-point precision to 64 bits (or back with ``False``).

    This sets the process-wide ``jax_enable_x64`` flag; call it before creating arrays.
    """
    jax.config.update("jax_enable_x64", bool(enabled))
