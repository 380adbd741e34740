"""`diffsim.enable_x64`: double precision and reproducible CPU compilation."""

import os
import subprocess
import sys

# The pattern that jaxlib 0.10's YNNPACK fusions miscompiled intermittently in float64: a
# small MLP feeding a softmax over (3333, 3) rows (the multi-channel weights). Without the
# setting that enable_x64 makes, about one compile in three gave uniform rows; 20 fresh
# compiles then all come out right with probability ~1e-4.
SOFTMAX_OF_MLP = """
import diffsim
diffsim.enable_x64()
import equinox as eqx, jax, jax.numpy as jnp, numpy as np
k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
prior = jax.random.uniform(k1, (3333, 3)) + 1e-3
features = 2 * jax.random.normal(k2, (3333, 4))
net = eqx.nn.MLP(4, 3, 32, 2, activation=jax.nn.gelu, key=k3)
net = eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), net,
                  (jnp.zeros((3, 32)), jnp.zeros(3)))
alphas = lambda p, x: jax.nn.softmax(jnp.log(p) + jax.vmap(net)(x), axis=-1)
exact = np.asarray(prior / prior.sum(1, keepdims=True))  # the last layer is zero
wrong = 0
for _ in range(20):
    wrong += np.abs(np.asarray(jax.jit(alphas)(prior, features)) - exact).max() > 1e-12
    jax.clear_caches()
print(wrong)
"""


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )


def test_enable_x64_makes_repeated_compiles_agree():
    out = _run(SOFTMAX_OF_MLP, XLA_FLAGS="")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_enable_x64_switches_precision_and_sets_the_compiler_flag():
    code = (
        "import os, jax, diffsim; diffsim.enable_x64(); "
        "print(jax.numpy.ones(1).dtype, os.environ['XLA_FLAGS'])"
    )
    out = _run(code, XLA_FLAGS="--xla_cpu_enable_fast_math=false")
    assert out.returncode == 0, out.stderr
    dtype, *flags = out.stdout.split()
    assert dtype == "float64"
    assert flags == [
        "--xla_cpu_enable_fast_math=false",
        "--xla_cpu_experimental_ynn_fusion_type=",
    ]


def test_enable_x64_leaves_a_user_ynn_setting_alone():
    code = "import os, diffsim; diffsim.enable_x64(); print(os.environ['XLA_FLAGS'])"
    out = _run(code, XLA_FLAGS="--xla_cpu_experimental_ynn_fusion_type=invalid")
    assert out.stdout.strip() == "--xla_cpu_experimental_ynn_fusion_type=invalid"


def test_enable_x64_after_the_first_computation_warns():
    code = "import jax, diffsim; jax.numpy.ones(1).block_until_ready(); diffsim.enable_x64()"
    out = _run(code, XLA_FLAGS="", PYTHONWARNINGS="error::RuntimeWarning")
    assert out.returncode != 0
    assert "ran after JAX's first computation" in out.stderr


def test_enable_x64_can_switch_back():
    code = "import jax, diffsim; diffsim.enable_x64(); diffsim.enable_x64(False); print(jax.numpy.ones(1).dtype)"
    assert _run(code).stdout.strip() == "float32"
