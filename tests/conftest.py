"""Test-suite configuration: physics is validated in float64, and XLA compiles for the tests
without LLVM's optimisations.

The suite's time is mostly compilation of programs that then run on small batches. At
``--xla_backend_optimization_level=0``, ``tests/inference/test_nis.py`` took 140 s
against 163 s at XLA's default level (serial, back to back on one machine), with the same
results up to rounding: the level changes the order of floating-point operations, not the
program, though a long training can amplify that (``tests/inference/test_mem.py``, the
amortised flow). The flag is added unless the environment already chooses a level; it must
be set before JAX creates its CPU backend, so it comes before any test module runs.
Benchmarks and users keep the default.
"""

import os
import pathlib

import pytest

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()

import diffsim  # after the XLA flags (importing diffsim starts no backend)

diffsim.enable_x64()

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The reference data folder ``../shared/data`` beside the repository."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA
