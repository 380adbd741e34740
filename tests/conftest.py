"""Test-suite configuration: physics is validated in float64."""

import pathlib

import pytest

import diffsim

diffsim.enable_x64()

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The reference data folder ``../shared/data`` beside the repository."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA
