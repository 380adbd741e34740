"""Compiling the derivative checks quickly.

Reverse-mode derivatives through the helicity amplitudes are slow for XLA's CPU compiler to
build with the settings the tests run with (XLA's multi-threaded CPU runtime, LLVM at -O0:
``tests/conftest.py``). Its fusion pass copies the shared elementwise chains of the reverse
pass into every reduction over a helicity axis (``e+ e- > mu+ mu-``, one event: 9.7k HLO
lines before optimisation, 148k after). Value and momentum gradient of that event compile
in 20.5 s with fusion and 3.2 s without (23–26 s and 3.5 s at LLVM's default level).
Fusion only decides which loops are merged, not the arithmetic, so the finite-difference
checks test the same numbers; the shipped code and the benchmarks keep XLA's default
pipeline.
"""

import jax

__all__ = ["jit_unfused"]

UNFUSED = {"xla_disable_hlo_passes": "fusion"}


def jit_unfused(function, **kwargs):
    """``jax.jit(function)`` compiled without XLA's fusion pass (module docstring)."""
    return jax.jit(function, compiler_options=UNFUSED, **kwargs)
