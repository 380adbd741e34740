"""Test-suite configuration: physics is validated in float64, and the XLA programs compiled
during one run are shared through JAX's persistent compilation cache.

Many tests compile the same programs (a process's |M|², the hadronic integrand, a flow's
training step) in different test files and in both xdist workers; compiling dominates the
suite's time on the CPU. The cache folder belongs to one run: the first process (the xdist
controller, or the only process) makes a fresh folder and names it in an environment
variable that the workers it starts inherit, and removes it when the run ends, so no run
reuses another's work and the timings stay honest. Cached programs are the same
executables, bit for bit.
"""

import os
import pathlib
import shutil
import tempfile

import jax
import pytest

import diffsim

diffsim.enable_x64()

_CACHE_VARIABLE = "DIFFSIM_TEST_XLA_CACHE"
_OWNS_CACHE = _CACHE_VARIABLE not in os.environ
if _OWNS_CACHE:
    os.environ[_CACHE_VARIABLE] = tempfile.mkdtemp(prefix="diffsim-test-xla-cache-")
COMPILATION_CACHE = pathlib.Path(os.environ[_CACHE_VARIABLE])
jax.config.update("jax_compilation_cache_dir", str(COMPILATION_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_unconfigure(config):
    """Remove this run's compilation cache (in the process that made it, after the workers)."""
    if _OWNS_CACHE:
        shutil.rmtree(COMPILATION_CACHE, ignore_errors=True)


SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The reference data folder ``../shared/data`` beside the repository."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA
