"""diffsim: a differentiable simulator for LHC physics in JAX.

Conventions (see the README): energies, masses and momenta in GeV, cross sections in pb;
four-momenta are arrays whose last axis is ``(E, px, py, pz)``; particles in MadGraph's
process order (incoming first, beam 1 along +z). Importing diffsim never changes JAX's
global configuration; call :func:`diffsim.enable_x64` for double precision and
:func:`diffsim.enable_compilation_cache` to keep compiled programs across runs;
:func:`diffsim.kernel_jit` compiles a program that is mostly matrix elements with the
settings that suit the amplitude kernels.
"""

from diffsim import kinematics
from diffsim.compilation_cache import enable_compilation_cache
from diffsim.kernel_compilation import kernel_compiler_options, kernel_jit
from diffsim.precision import enable_x64

__all__ = ["enable_compilation_cache", "enable_x64", "kernel_compiler_options", "kernel_jit", "kinematics"]
__version__ = "0.1.0"
