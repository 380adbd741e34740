"""A persistent on-disk cache of compiled XLA programs, so that a rerun skips compilation.

diffsim's integrands compile for seconds to minutes on CPU (the matrix elements, their
derivatives, the flows' training steps), and a rerun of the same computation in a new
process compiles them again. JAX can store every compiled executable in a folder, keyed by
the program, its shapes, the JAX/XLA versions and the compiler flags; a later process that
compiles the same program loads it instead. :func:`enable_compilation_cache` switches that
on for all programs, however short their compilation (JAX's default only stores programs
that took over a second, which leaves out most of a diffsim run's many small programs).

The command line uses ``$DIFFSIM_CACHE/xla`` (``diffsim.cli.sampler.cache_folder``): an
interrupted ``diffsim generate`` resumes without recompiling. Like ``enable_x64`` this
changes JAX's process-wide configuration, so diffsim never calls it on import.
"""

import contextlib
import os
import pathlib

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = ["enable_compilation_cache", "using_compilation_cache"]

_SETTINGS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")


def enable_compilation_cache(folder: str | os.PathLike) -> pathlib.Path:
    """Store and reuse compiled programs in ``folder`` (created if missing); returns its path.

    Takes effect for the next compilation, also when computations have already run in this
    process. The folder may be shared by concurrent processes; delete it to reclaim the
    space (entries are a few kB to a few MB each).
    """
    folder = pathlib.Path(folder).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    compilation_cache.set_cache_dir(str(folder))
    compilation_cache.reset_cache()  # JAX decides whether to use a cache once, at its first compile
    return folder


@contextlib.contextmanager
def using_compilation_cache(folder: str | os.PathLike):
    """:func:`enable_compilation_cache` for the duration of a ``with`` block; JAX's previous
    cache settings are restored afterwards (the command line runs its commands in one, so
    calling ``diffsim.cli.main`` from Python leaves the process's configuration as it was)."""
    previous = {name: getattr(jax.config, name) for name in _SETTINGS}
    try:
        yield enable_compilation_cache(folder)
    finally:
        for name, value in previous.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
