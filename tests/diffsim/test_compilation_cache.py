"""diffsim.enable_compilation_cache / using_compilation_cache: compiled programs go to disk and
come back from it."""

import jax
import jax.numpy as jnp
import pytest
from tolerance import assert_close

from diffsim.compilation_cache import using_compilation_cache


@pytest.fixture
def cache_events():
    """JAX's compilation-cache monitoring events during the test."""
    events = []
    listener = lambda event, **kwargs: events.append(event)
    jax.monitoring.register_event_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_listener(listener)


def test_a_recompiled_program_is_loaded_from_the_folder(tmp_path, cache_events):
    """Also when computations ran before; the settings are the process's again afterwards."""
    jnp.ones(3).block_until_ready()
    before = jax.config.jax_compilation_cache_dir
    program = jax.jit(lambda x: jnp.sin(x) * 3.25 + x**2)
    x = jnp.linspace(0.0, 1.0, 7)
    with using_compilation_cache(tmp_path / "xla") as folder:
        first = program(x)
        stored = sorted(path.name for path in folder.iterdir())
        assert any(name.startswith("jit__lambda") for name in stored)
        assert "/jax/compilation_cache/cache_hits" not in cache_events
        program.clear_cache()  # forget the in-memory executable: the next call compiles or loads
        assert_close(program(x), first, rtol=0.0)
        assert "/jax/compilation_cache/cache_hits" in cache_events
        assert sorted(path.name for path in folder.iterdir()) == stored
    assert jax.config.jax_compilation_cache_dir == before
