"""Throughput of |M|² for every sm / Z′ process on the CPU (issue: helicity amplitudes).

For each process: compile time (separately), evaluations per second at batch 10⁵ after
compilation in float64 and float32, and the throughput of value-and-grad of the batch sum
w.r.t. every model input (the gradient a parameter fit takes) with its cost ratio to the
value alone. The run is pinned to one CPU core with XLA's multi-threaded Eigen switched off,
so "per core" means per core. Times are the best of ``--repeats`` runs measured as the
process's CPU time (the work done on the pinned core, insensitive to other jobs sharing the
machine); wall-clock times and the load average are recorded alongside in the JSON. Targets (issue 3): g g > t t~ ≥ 10⁶ evaluations/s per core in
float64, value-and-grad ≤ 3× the value, compile ≤ 10 s per process.

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


def timed(function, *args, repeats):
    """Compile and run times (s): ``(compile_cpu, best_cpu, compile_wall, best_wall)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    compiled = function.lower(*args).compile()
    compile_wall, compile_cpu = time.perf_counter() - wall, time.process_time() - cpu
    jax.block_until_ready(compiled(*args))  # warm-up
    best_wall = best_cpu = np.inf
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(compiled(*args))
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return compile_cpu, best_cpu, compile_wall, best_wall


def measure(model_name, name, batch, repeats):
    process = (sm if model_name == "sm" else zprime).process(name)
    row = {"model": model_name, "process": name, "batch": batch, "diagrams": process.n_diagrams,
           "helicities": len(process.helicity_table())}
    for dtype in (jnp.float64, jnp.float32):
        p = momenta_for(process, batch, dtype)
        params = jax.tree_util.tree_map(lambda x, dtype=dtype: jnp.asarray(x, dtype), process.model)
        value = jax.jit(lambda q, theta: process.matrix_element(q, theta))
        compile_s, seconds, compile_wall, seconds_wall = timed(value, p, params, repeats=repeats)
        key = "f64" if dtype == jnp.float64 else "f32"
        row[f"compile_s_{key}"] = compile_s
        row[f"evals_per_s_{key}"] = batch / seconds
        row[f"compile_wall_s_{key}"] = compile_wall
        row[f"evals_per_wall_s_{key}"] = batch / seconds_wall
        if dtype == jnp.float64:
            grad = jax.jit(jax.value_and_grad(lambda theta, q: process.matrix_element(q, theta).sum()))
            compile_g, seconds_g, compile_g_wall, seconds_g_wall = timed(grad, params, p, repeats=repeats)
            row["compile_s_value_and_grad"] = compile_g
            row["value_and_grad_per_s_f64"] = batch / seconds_g
            row["grad_cost_ratio"] = seconds_g / seconds
            row["compile_wall_s_value_and_grad"] = compile_g_wall
            row["grad_cost_ratio_wall"] = seconds_g_wall / seconds_wall
            row["n_inputs"] = len(jax.tree_util.tree_leaves(params))
    row["load_average"] = os.getloadavg()[0]
    return row


def markdown(rows):
    lines = [
        (
            "| process | diagrams | f64 evals/s/core | f32 evals/s/core | value+grad evals/s "
            "| grad/value cost | compile s (value / value+grad) | load |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['process']}` ({r['model']}) | {r['diagrams']} | {r['evals_per_s_f64']:.3g} | "
            f"{r['evals_per_s_f32']:.3g} | {r['value_and_grad_per_s_f64']:.3g} | {r['grad_cost_ratio']:.2f} | "
            f"{r['compile_s_f64']:.1f} / {r['compile_s_value_and_grad']:.1f} | {r['load_average']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"Batch {rows[0]['batch']}, one pinned core; times are process CPU time (best of repeats), "
        "load = 1-minute load average of the (shared) machine during the row."
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
              f"grad ratio {row['grad_cost_ratio']:.2f}, compile {row['compile_s_f64']:.1f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "cores": 1,
            "timing": "best of repeats, process CPU time (wall-clock in *_wall_* fields)",
            "targets": {"g g > t t~ f64 evals/s/core": 1e6, "grad/value cost": 3.0, "compile s": 10.0}}
    (RESULTS / "matrix_elements.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (RESULTS / "matrix_elements.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
