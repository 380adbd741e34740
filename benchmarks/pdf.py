"""Throughput of diffsim.pdf against NeoPDF and parton, in the same run (issue: PDFs).

All on the shipped NNPDF31_lo_as_0118 member 0, float64, one CPU core (the process is pinned
to core 1 when it exists, XLA's multi-threaded Eigen is off, and the peers run pinned to the
same core). diffsim is timed after compilation (compile time reported separately), best of
``--repeats`` runs, ``block_until_ready``:

* scattered points — 10⁶ random (x, Q, flavour) with x log-uniform in [10⁻⁶, 1), Q
  log-uniform in [2, 5000] GeV and the flavour drawn from the set's 11: ``xfxQ(pids, x, Q)``;
  the same with one fixed flavour, with every flavour per point (``xfxQ_all``), with all
  points outside the grid (continuation extrapolation), and in float32;
* a 1000 × 1000 (x, Q) product grid for one flavour — the layout NeoPDF's batched
  ``xfxQ2s`` evaluates, so that the batched comparison is like for like;
* gradients: value and ∂/∂(x, Q) of every point (``jax.value_and_grad`` of the batch sum,
  which gives per-point derivatives since points are independent), and value and gradient
  with respect to all grid values.

Peers (optional extra ``bench``): NeoPDF (PyPI ``neopdf-hep``, Rust) — ``xfxQ2s`` on the
product grid and per-point ``xfxQ2`` calls from Python for scattered points (it has no
batched call for scattered points); parton (PyPI ``parton``, pure Python/SciPy splines) —
its vectorised ``xfxQ(..., grid=False)``. Each peer runs in a subprocess, so a peer that is
missing or crashes (NeoPDF aborts the process when a set is missing) is reported as such in
the output and the JSON instead of stopping the benchmark. Accuracy of every code against
the LHAPDF 6.5.2 reference values (shared/data/pdf) is reported alongside.

Writes benchmarks/results/pdf.json and benchmarks/results/pdf.md. Usage:

    python benchmarks/pdf.py [--batch 1000000] [--repeats 5] [--peer-points 100000]
"""

import argparse
import importlib.resources
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

os.environ.setdefault("XLA_FLAGS",
                      "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    _cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {_cores[1] if len(_cores) > 1 else _cores[0]})

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE = ROOT.parent / "shared" / "data" / "pdf" / "xf_ref_NNPDF31_lo_as_0118_LHAPDF652.txt"
SET = "NNPDF31_lo_as_0118"
FLAVOURS = (-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5)


def scattered_points(n: int, seed: int = 0):
    """The benchmark's random (x, Q, pid) points (identical in every process)."""
    rng = np.random.default_rng(seed)
    x = 10 ** rng.uniform(-6, 0, n)
    q = 10 ** rng.uniform(np.log10(2.0), np.log10(5000.0), n)
    pid = rng.choice(np.array(FLAVOURS), n)
    return x, q, pid


def product_axes(side: int = 1000):
    return np.geomspace(1e-6, 0.99, side), np.geomspace(2.0, 5000.0, side)


def reference_points():
    if not REFERENCE.is_file():
        return None
    return np.loadtxt(REFERENCE)


def max_relative_deviation(values, reference):
    values, expected = np.asarray(values, float), reference[:, 3]
    scale = np.maximum(np.abs(expected), 1e-8)  # tiny heavy-quark values: absolute 1e-8
    return float(np.max(np.abs(values - expected) / scale))


def best_time(function, repeats: int) -> float:
    function()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def set_directory() -> str:
    with importlib.resources.as_file(
            importlib.resources.files("diffsim.pdf").joinpath("data", SET)) as path:
        return str(path)


# --- peers, each in its own process -----------------------------------------------------

def peer_neopdf(args) -> dict:
    import importlib.metadata

    import neopdf.pdf as neopdf

    row = {"version": importlib.metadata.version("neopdf-hep")}
    start = time.perf_counter()
    pdf = neopdf.PDF.mkPDF_lhapdf_file(os.path.join(set_directory(), f"{SET}_0000.dat"))
    row["load_s"] = time.perf_counter() - start
    xs, qs = product_axes()
    x_list, q2_list = list(xs), list(qs**2)
    seconds = best_time(lambda: pdf.xfxQ2s([21], x_list, q2_list), args.repeats)
    row["product_grid_evals_per_s"] = xs.size * qs.size / seconds
    x, q, pid = scattered_points(args.peer_points)
    triples = list(zip(pid.tolist(), x.tolist(), (q * q).tolist()))
    seconds = best_time(lambda: [pdf.xfxQ2(f, a, b) for f, a, b in triples],
                        max(1, args.repeats // 2))
    row["scattered_evals_per_s"] = len(triples) / seconds
    row["scattered_points"] = len(triples)
    reference = reference_points()
    if reference is not None:
        values = [pdf.xfxQ2(int(f), a, b * b) for a, b, f in reference[:, :3]]
        row["max_rel_dev_vs_lhapdf"] = max_relative_deviation(values, reference)
    return row


def peer_parton(args) -> dict:
    import importlib.metadata

    import parton

    row = {"version": importlib.metadata.version("parton")}
    start = time.perf_counter()
    pdf = parton.mkPDF(SET, 0, pdfdir=os.path.dirname(set_directory()))
    row["load_s"] = time.perf_counter() - start
    x, q, pid = scattered_points(args.peer_points)
    seconds = best_time(lambda: pdf.xfxQ(pid, x, q, grid=False), max(1, args.repeats // 2))
    row["scattered_evals_per_s"] = x.size / seconds
    row["scattered_points"] = int(x.size)
    xs, qs = product_axes()
    seconds = best_time(lambda: pdf.xfxQ(21, xs, qs, grid=True), args.repeats)
    row["product_grid_evals_per_s"] = xs.size * qs.size / seconds
    reference = reference_points()
    if reference is not None:
        values = pdf.xfxQ(reference[:, 2].astype(int), reference[:, 0], reference[:, 1],
                          grid=False)
        row["max_rel_dev_vs_lhapdf"] = max_relative_deviation(values, reference)
    return row


PEERS = {"neopdf": peer_neopdf, "parton": peer_parton}


def run_peer(name: str, args) -> dict:
    """Run a peer in a subprocess; a missing package or a crash becomes an error entry."""
    command = [sys.executable, __file__, "--peer", name, "--repeats", str(args.repeats),
               "--peer-points", str(args.peer_points)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return {"available": False, "error": "timed out after 1800 s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"available": False, "error": f"exit code {done.returncode}: {tail}"}
    return json.loads(lines[-1])


# --- diffsim ----------------------------------------------------------------------------

def measure_diffsim(args) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import diffsim
    import diffsim.pdf

    diffsim.enable_x64()
    start = time.perf_counter()
    pdf = diffsim.pdf.load()
    row = {"version": diffsim.__version__, "load_s": time.perf_counter() - start}
    x, q, pid = (jnp.asarray(a) for a in scattered_points(args.batch))
    n = args.batch

    def timed(name, function, *arguments, count=n):
        start = time.perf_counter()
        compiled = jax.jit(function).lower(*arguments).compile()
        row[f"compile_s_{name}"] = time.perf_counter() - start
        seconds = best_time(lambda: jax.block_until_ready(compiled(*arguments)), args.repeats)
        row[f"{name}_evals_per_s"] = count / seconds
        return compiled

    timed("scattered", lambda p, f, a, b: p.xfxQ(f, a, b), pdf, pid, x, q)
    timed("one_flavour", lambda p, a, b: p.xfxQ(21, a, b), pdf, x, q)
    timed("all_flavours_points", lambda p, a, b: p.xfxQ_all(a, b), pdf, x, q)
    row["all_flavours_values_per_s"] = row["all_flavours_points_evals_per_s"] * len(pdf.flavours)
    outside_q = jnp.asarray(10 ** np.random.default_rng(1).uniform(-0.5, np.log10(1.6), n))
    timed("scattered_outside_grid", lambda p, f, a, b: p.xfxQ(f, a, b), pdf, pid, x, outside_q)
    x32, q32 = x.astype(jnp.float32), q.astype(jnp.float32)
    timed("scattered_f32", lambda p, f, a, b: p.xfxQ(f, a, b), pdf, pid, x32, q32)
    xs, qs = (jnp.asarray(a) for a in product_axes())
    timed("product_grid", lambda p, a, b: p.xfxQ(21, a[:, None], b[None, :]), pdf, xs, qs,
          count=xs.size * qs.size)
    timed("value_and_grad_x_q", jax.value_and_grad(
        lambda a, b, p, f: jnp.sum(p.xfxQ(f, a, b)), argnums=(0, 1)), x, q, pdf, pid)
    timed("value_and_grad_knots", jax.value_and_grad(
        lambda xf, p, f, a, b: jnp.sum(eqx.tree_at(lambda t: t.grid.xf, p, xf).xfxQ(f, a, b))),
        pdf.grid.xf, pdf, pid, x, q)
    reference = reference_points()
    if reference is not None:
        values = pdf.xfxQ(reference[:, 2].astype(int), reference[:, 0], reference[:, 1])
        row["max_rel_dev_vs_lhapdf"] = max_relative_deviation(values, reference)
    return row


def cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ratio(a, b):
    return None if a is None or b is None else a / b


def markdown(result: dict) -> str:
    ours, peers = result["diffsim"], result["peers"]
    neo, par = peers["neopdf"], peers["parton"]

    def fmt(value):
        return "—" if value is None else f"{value:.3g}"

    lines = [
        "# PDF evaluation throughput (NNPDF31_lo_as_0118, float64, one CPU core)",
        "",
        f"{result['cpu']}; {result['batch']:,} points per diffsim batch; best of "
        f"{result['repeats']}; generated by `python benchmarks/pdf.py`.",
        "",
        "| workload | diffsim evals/s | NeoPDF evals/s | parton evals/s | diffsim / NeoPDF |"
        " diffsim / parton |",
        "|---|---|---|---|---|---|",
    ]
    rows = [
        ("scattered (x, Q, flavour), 10⁶ points", ours["scattered_evals_per_s"],
         neo.get("scattered_evals_per_s"), par.get("scattered_evals_per_s")),
        ("1000 × 1000 (x, Q) product grid, one flavour", ours["product_grid_evals_per_s"],
         neo.get("product_grid_evals_per_s"), par.get("product_grid_evals_per_s")),
    ]
    for name, a, b, c in rows:
        lines.append(f"| {name} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {fmt(ratio(a, b))} | "
                     f"{fmt(ratio(a, c))} |")
    lines += [
        "",
        "| diffsim workload | evals/s | compile s |",
        "|---|---|---|",
    ]
    for key, label in (("scattered", "scattered, per-point flavour"),
                       ("one_flavour", "scattered, one flavour (gluon)"),
                       ("all_flavours_points", "scattered, all 11 flavours (points/s)"),
                       ("scattered_outside_grid", "scattered, every point below Q_min"),
                       ("scattered_f32", "scattered, float32"),
                       ("product_grid", "product grid, one flavour"),
                       ("value_and_grad_x_q", "value + ∂/∂x, ∂/∂Q per point"),
                       ("value_and_grad_knots", "value + gradient w.r.t. all grid values")):
        lines.append(f"| {label} | {fmt(ours[key + '_evals_per_s'])} | "
                     f"{ours['compile_s_' + key]:.1f} |")
    lines += [
        "",
        f"All flavours: {fmt(ours['all_flavours_values_per_s'])} flavour values/s. "
        f"Gradient cost (value + ∂/∂x, ∂/∂Q vs value): "
        f"{ours['scattered_evals_per_s'] / ours['value_and_grad_x_q_evals_per_s']:.2f}×.",
        "",
        "Max relative deviation from the 1210 LHAPDF 6.5.2 reference values "
        "(absolute below |xf| = 10⁻⁸): diffsim "
        f"{fmt(ours.get('max_rel_dev_vs_lhapdf'))}, "
        f"NeoPDF {fmt(neo.get('max_rel_dev_vs_lhapdf'))}, "
        f"parton {fmt(par.get('max_rel_dev_vs_lhapdf'))}.",
        "",
        "NeoPDF has no batched call for scattered points, so its scattered figure is per-point "
        f"`xfxQ2` calls from Python ({neo.get('scattered_points', '—')} points) and its batched "
        "figure is `xfxQ2s` on the product grid; parton's are its vectorised "
        f"`xfxQ(..., grid=False)` ({par.get('scattered_points', '—')} points) and its SciPy "
        "`RectBivariateSpline` grid evaluation, a different interpolant from LHAPDF's (see its "
        "deviation above).",
    ]
    for name, peer in peers.items():
        if not peer.get("available", True):
            lines.append(f"\n**{name} not measured:** {peer['error']}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-points", type=int, default=100_000)
    parser.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        print(json.dumps({"available": True, **PEERS[args.peer](args)}))
        return
    result = {"cpu": cpu_name(), "cores_used": 1, "batch": args.batch, "repeats": args.repeats,
              "set": SET, "diffsim": measure_diffsim(args), "peers": {}}
    for name in PEERS:
        result["peers"][name] = run_peer(name, args)
        print(f"{name}: {json.dumps(result['peers'][name])}", flush=True)
    ours, neo = result["diffsim"], result["peers"]["neopdf"]
    result["ratios"] = {
        "scattered_vs_neopdf": ratio(ours["scattered_evals_per_s"],
                                     neo.get("scattered_evals_per_s")),
        "product_grid_vs_neopdf_batched": ratio(ours["product_grid_evals_per_s"],
                                                neo.get("product_grid_evals_per_s")),
        "scattered_vs_neopdf_batched_grid": ratio(ours["scattered_evals_per_s"],
                                                  neo.get("product_grid_evals_per_s")),
        "scattered_vs_parton": ratio(ours["scattered_evals_per_s"],
                                     result["peers"]["parton"].get("scattered_evals_per_s")),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pdf.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / "pdf.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
