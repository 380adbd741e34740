"""Command-line tests: a private sampler cache, and running ``diffsim`` in-process."""

import pytest

from diffsim.cli import main


@pytest.fixture(scope="session", autouse=True)
def sampler_cache(tmp_path_factory):
    """Every test of the session (module-scoped fixtures included) shares one fresh
    ``$DIFFSIM_CACHE``, never ``~/.cache``."""
    folder = tmp_path_factory.getbasetemp() / "diffsim-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIFFSIM_CACHE", str(folder))
        yield folder


@pytest.fixture
def run_cli(capsys):
    """``run_cli(*args) -> (exit status, stdout, stderr)`` of ``diffsim.cli.main`` in-process."""

    def run(*args):
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
