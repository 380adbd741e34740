"""Compiling the derivative checks quickly.

Reverse-mode derivatives through the helicity amplitudes are slow for XLA's CPU compiler to
build with the default (multi-threaded) CPU settings the tests run with: its fusion pass copies the shared elementwise chains of the reverse pass into every
reduction over a helicity axis (``e+ e- > mu+ mu-``, one event: 9.7k HLO lines before
optimisation, 148k after; 23–26 s of compilation). With fusion switched off the same
program compiles in 3.5 s. Fusion only decides which loops are merged, not the arithmetic,
so the finite-difference checks test the same numbers; the shipped code and the benchmarks
keep XLA's default pipeline.
"""

import jax

__all__ = ["jit_unfused"]

UNFUSED = {"xla_disable_hlo_passes": "fusion"}


def jit_unfused(function, **kwargs):
    """``jax.jit(function)`` compiled without XLA's fusion pass (module docstring)."""
    return jax.jit(function, compiler_options=UNFUSED, **kwargs)
