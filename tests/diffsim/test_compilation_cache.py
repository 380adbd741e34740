"""diffsim.enable_compilation_cache: compiled programs go to disk and come back from it."""

import jax
import jax.numpy as jnp
import pytest
from jax.experimental.compilation_cache import compilation_cache
from tolerance import assert_close

import diffsim


@pytest.fixture
def cache_events():
    """JAX's compilation-cache monitoring events during the test; the process's cache
    settings are restored afterwards (the cache is process-wide)."""
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    previous = {name: getattr(jax.config, name) for name in names}
    events = []
    listener = lambda event, **kwargs: events.append(event)
    jax.monitoring.register_event_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_listener(listener)
        for name, value in previous.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()


def test_a_recompiled_program_is_loaded_from_the_folder(tmp_path, cache_events):
    jnp.ones(3).block_until_ready()  # a computation before: enabling must still take effect
    folder = diffsim.enable_compilation_cache(tmp_path / "xla")
    program = jax.jit(lambda x: jnp.sin(x) * 3.25 + x**2)
    x = jnp.linspace(0.0, 1.0, 7)
    first = program(x)
    stored = sorted(path.name for path in folder.iterdir())
    assert any(name.startswith("jit__lambda") for name in stored)
    assert "/jax/compilation_cache/cache_hits" not in cache_events
    jax.clear_caches()  # forget the in-memory executable: the next call compiles or loads
    assert_close(program(x), first, rtol=0.0)
    assert "/jax/compilation_cache/cache_hits" in cache_events
    assert sorted(path.name for path in folder.iterdir()) == stored
