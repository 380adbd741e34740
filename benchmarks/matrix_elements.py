"""Throughput of |M|² for every sm / Z′ process on the CPU (issue: helicity amplitudes).

For each process: compile time (separately), evaluations per second at batch 10⁵ after
compilation in float64 and float32, and the throughput of value-and-grad of the batch sum
w.r.t. every model input (the gradient a parameter fit takes) with its cost ratio to the
value alone, and the same for the gradient w.r.t. the momenta (what pathwise training of a
sampler through |M|² differentiates; tracked, no target). The run is pinned to one CPU core
with XLA's multi-threaded Eigen switched off, so "per core" means per core. Times are the
best of ``--repeats`` runs measured as the process's CPU time (the work done on the pinned
core, insensitive to other jobs sharing the machine); the programs of a process (value in
float64 and float32, both value-and-grads) run in turn within each repeat, so that the
grad/value ratios compare runs made under the same conditions. Wall-clock times and the load
average are recorded alongside in the JSON. Targets (issue 3): g g > t t~ ≥ 10⁶
evaluations/s per core in float64, value-and-grad ≤ 3× the value, compile ≤ 10 s per
process. Every program is compiled with diffsim's amplitude-kernel compiler settings
(:mod:`diffsim.kernel_compilation`); the float64 value and the parameter value-and-grad are
also compiled and timed with XLA's default CPU settings, in the same repeats.

Writes benchmarks/results/matrix_elements.json and .md. Usage:

    python benchmarks/matrix_elements.py [--batch 100000] [--repeats 3] [--processes "g g > t t~" ...]
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import diffsim
from diffsim.kernel_compilation import kernel_compiler_options
from diffsim.models import sm, zprime
from diffsim.phasespace import RamboOnDiet

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SQRT_S = 1500.0


def momenta_for(process, batch, dtype):
    masses = np.asarray(process.masses(), dtype=float)
    e = SQRT_S / 2
    beams = np.zeros((batch, 2, 4))
    beams[:, :, 0] = e
    beams[:, 0, 3] = np.sqrt(e**2 - masses[0] ** 2)
    beams[:, 1, 3] = -np.sqrt(e**2 - masses[1] ** 2)
    rambo = RamboOnDiet(masses[2:])
    r = jax.random.uniform(jax.random.key(0), (batch, rambo.n_random), dtype=jnp.float64)
    final, _ = eqx.filter_jit(rambo.forward)(r, jnp.array([SQRT_S, 0.0, 0.0, 0.0]))
    return jnp.concatenate([jnp.asarray(beams), final], axis=-2).astype(dtype)


def compiled(function, *args):
    """``(executable, compile CPU s, compile wall s)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    executable = function.lower(*args).compile()
    return executable, time.process_time() - cpu, time.perf_counter() - wall


def best_times(programs, repeats):
    """Best CPU and wall seconds of each ``(executable, args)`` in ``programs``, run in turn
    ``repeats`` times after a warm-up, so that drifts of the (shared) machine's speed hit
    every program alike and their ratios stay meaningful."""
    for executable, args in programs:
        jax.block_until_ready(executable(*args))
    best_cpu, best_wall = [np.inf] * len(programs), [np.inf] * len(programs)
    for _ in range(repeats):
        for i, (executable, args) in enumerate(programs):
            wall, cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(executable(*args))
            best_wall[i] = min(best_wall[i], time.perf_counter() - wall)
            best_cpu[i] = min(best_cpu[i], time.process_time() - cpu)
    return best_cpu, best_wall


def measure(model_name, name, batch, repeats):
    process = (sm if model_name == "sm" else zprime).process(name)
    row = {"model": model_name, "process": name, "batch": batch, "diagrams": process.n_diagrams,
           "helicities": len(process.helicity_table())}
    programs, keys = [], []

    def add(key, function, args, options):
        executable, row[f"compile_s_{key}"], row[f"compile_wall_s_{key}"] = compiled(
            jax.jit(function, compiler_options=options), *args)
        programs.append((executable, args))
        keys.append(key)

    def total(q, theta):
        return process.matrix_element(q, theta).sum()

    kernel = kernel_compiler_options()
    for dtype in (jnp.float64, jnp.float32):
        p = momenta_for(process, batch, dtype)
        params = jax.tree_util.tree_map(lambda x, dtype=dtype: jnp.asarray(x, dtype), process.model)
        key = "f64" if dtype == jnp.float64 else "f32"
        add(key, process.matrix_element, (p, params), kernel)
        if dtype == jnp.float64:
            row["n_inputs"] = len(jax.tree_util.tree_leaves(params))
            # Gradient w.r.t. the model inputs (argument 1) and w.r.t. the momenta (argument 0).
            add("value_and_grad", jax.value_and_grad(total, argnums=1), (p, params), kernel)
            add("momentum_grad", jax.value_and_grad(total, argnums=0), (p, params), kernel)
            # The same value and parameter gradient with XLA's default CPU settings.
            add("f64_default", process.matrix_element, (p, params), None)
            add("value_and_grad_default", jax.value_and_grad(total, argnums=1), (p, params), None)
    cpu_s, wall_s = best_times(programs, repeats)
    cpu, wall = dict(zip(keys, cpu_s)), dict(zip(keys, wall_s))
    for key in ("f64", "f32", "f64_default"):
        row[f"evals_per_s_{key}"] = batch / cpu[key]
        row[f"evals_per_wall_s_{key}"] = batch / wall[key]
    for suffix in ("", "_default"):
        row[f"value_and_grad_per_s_f64{suffix}"] = batch / cpu[f"value_and_grad{suffix}"]
        row[f"grad_cost_ratio{suffix}"] = cpu[f"value_and_grad{suffix}"] / cpu[f"f64{suffix}"]
        row[f"grad_cost_ratio_wall{suffix}"] = wall[f"value_and_grad{suffix}"] / wall[f"f64{suffix}"]
    row["momentum_grad_cost_ratio"] = cpu["momentum_grad"] / cpu["f64"]
    row["momentum_grad_cost_ratio_wall"] = wall["momentum_grad"] / wall["f64"]
    row["load_average"] = os.getloadavg()[0]
    return row


def markdown(rows):
    lines = [
        (
            "| process | diagrams | f64 evals/s/core | f32 evals/s/core | value+grad evals/s "
            "| grad/value cost | momentum grad/value cost | compile s (value / value+grad / momentum grad) "
            "| XLA defaults: f64 evals/s, value+grad evals/s, grad/value, compile s | load |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['process']}` ({r['model']}) | {r['diagrams']} | {r['evals_per_s_f64']:.3g} | "
            f"{r['evals_per_s_f32']:.3g} | {r['value_and_grad_per_s_f64']:.3g} | {r['grad_cost_ratio']:.2f} | "
            f"{r['momentum_grad_cost_ratio']:.2f} | {r['compile_s_f64']:.1f} / {r['compile_s_value_and_grad']:.1f} / "
            f"{r['compile_s_momentum_grad']:.1f} | {r['evals_per_s_f64_default']:.3g}, "
            f"{r['value_and_grad_per_s_f64_default']:.3g}, {r['grad_cost_ratio_default']:.2f}, "
            f"{r['compile_s_f64_default']:.1f} / {r['compile_s_value_and_grad_default']:.1f} | "
            f"{r['load_average']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"Batch {rows[0]['batch']}, one pinned core; times are process CPU time (best of repeats), "
        "load = 1-minute load average of the (shared) machine during the row. Compiled with "
        "diffsim's amplitude-kernel settings (`diffsim.kernel_compiler_options()`), except the "
        "XLA-defaults column (same programs, XLA's default CPU settings, same run). Momentum grad: "
        "value and gradient of the batch sum w.r.t. the momenta (what pathwise training through "
        "|M|² takes); no target in issue 3."
    )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", nargs="*", default=None, help="subset of process strings")
    args = parser.parse_args()
    diffsim.enable_x64()
    todo = [("sm", n) for n in sm.PROCESSES] + [("zprime", n) for n in zprime.PROCESSES]
    if args.processes:
        todo = [(m, n) for m, n in todo if n in args.processes]
    rows = []
    for model_name, name in todo:
        row = measure(model_name, name, args.batch, args.repeats)
        rows.append(row)
        print(f"{name:>16} ({model_name}): {row['evals_per_s_f64']:.3g}/s f64, {row['evals_per_s_f32']:.3g}/s f32, "
              f"grad ratio {row['grad_cost_ratio']:.2f}, momentum grad ratio {row['momentum_grad_cost_ratio']:.2f}, "
              f"compile {row['compile_s_f64']:.1f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "cores": 1,
            "timing": "best of repeats, process CPU time (wall-clock in *_wall_* fields)",
            "targets": {"g g > t t~ f64 evals/s/core": 1e6, "grad/value cost": 3.0, "compile s": 10.0}}
    (RESULTS / "matrix_elements.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (RESULTS / "matrix_elements.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
