"""Integrators on the common benchmark integrands: diffsim against vegas and MadNIS (issue 5).

One run, the same JAX integrands (:mod:`diffsim.inference.toys`, bridged to NumPy/PyTorch
for the peers by ``benchmarks/peers.py``), the same budgets (``--calls`` training calls,
``--eval`` fresh evaluation points, ``--seeds`` seeds) and the same metric formulas
(``peers.channel_metrics``: value ± error and pull, rel_std at the optimal allocation,
unweighting efficiency with the bootstrap-median w_max, training CPU seconds and calls).

diffsim's samplers:

* ``vegas``: our VEGAS grid(s) alone — one grid, or one per channel (MG5-style) on the
  Drell–Yan toy — with the prior channel weights;
* ``flow``: one flow on the single-channel integrand (for the Drell–Yan toy the photon
  mapping only), buffered variance training;
* ``mc``: the multi-channel sampler (flows per channel, trained channel weights, stratified
  variance loss), buffered training; ``mc+vegas``: the same after VEGAS initialisation;
  ``mc+vegas+pathwise``: VEGAS initialisation, then pathwise (reparametrisation) training
  through the differentiable integrand; ``mc+vegas+pathwise+unweighting``: the same with
  the stratified 8-spread in place of the variance (``weight_moment``, for samplers meant
  for unweighted events).

Training CPU seconds are ``time.process_time()`` (all threads) around the training; the
first seed of each configuration also compiles, so its time is reported separately as
``compile_cpu_s`` (first seed minus the mean of the others) and the mean excludes it.
Honest errors: every trained sampler is evaluated on ``--pull-runs`` further independent
samples of ``--eval`` // 10 points, and the mean squared pull over all of them is reported.

Usage::

    python benchmarks/integrators.py                      # the full study (about an hour)
    python benchmarks/integrators.py --calls 100000 --eval 100000 --seeds 1 --toys dy_zprime

Writes benchmarks/results/integrators.json and integrators.md.
"""

import argparse
import json
import os
import pathlib
import sys
import time

# One XLA thread, as the peers get one torch thread (peers.run_madnis): on the shared 2-core
# machine a second thread mostly spins on small arrays and inflates the CPU seconds.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import equinox as eqx
import jax
import numpy as np
import optax

import diffsim
from diffsim import pdf as pdfs
from diffsim.channels import EdgeMapped, SingleChannel
from diffsim.hadronic import FixedScale, HadronicChannels, HadronicIntegrand
from diffsim.inference.multichannel import multichannel_sampler, vegas_initialise
from diffsim.inference.nis import sample_weighted
from diffsim.inference.toys import Camel4, DrellYanZPrimeToy, Prod2x, RingLine
from diffsim.inference.training import train
from diffsim.kernel_compilation import uses_amplitude_kernels
from diffsim.models import sm, zprime

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import peers

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
TOYS = {"prod2x": Prod2x, "camel4": Camel4, "ringline": RingLine, "dy_zprime": DrellYanZPrimeToy}


class PhysicsTarget(eqx.Module):
    """A hadronic cross section in the toys' interface: ``dim``, ``n_channels``,
    ``channel_integrand`` (diagram channels), ``__call__`` (channel 0's weight, pb) and
    ``exact``: the reference value (pb) of ``benchmarks/results/hadronic_xsec.json``, a
    product Gauss–Legendre cubature of the same integrand to about 1e-6 (``quadrature_pb``)."""

    channels: HadronicChannels
    exact: float = eqx.field(static=True)
    n_channels: int = eqx.field(static=True)
    dim: int = eqx.field(static=True)

    def __init__(self, channels, exact):
        self.channels, self.exact = channels, exact
        self.n_channels, self.dim = channels.n_channels, channels.dim

    @property
    def amplitude_kernels(self):
        return uses_amplitude_kernels(self.channels)

    def channel_integrand(self, c, r):
        return self.channels.channel_integrand(c, r)

    def channel_integrands(self, channels, rs):
        return self.channels.channel_integrands(channels, rs)

    def __call__(self, r):
        return self.channels.integrand(r).weight


def reference(name):
    results = json.loads((RESULTS / "hadronic_xsec.json").read_text())
    return next(v for k, v in _flatten(results) if name in k and k.endswith("/quadrature_pb"))


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flatten(value, f"{prefix}/{key}")
    else:
        yield prefix, tree


def drell_yan_zprime():
    """p p > e+ e- (Z′ model), 13 TeV, NNPDF31_lo, m_ℓℓ > 15 GeV, μ_F = M_Z: γ, Z, Z′ channels."""
    integrand = HadronicIntegrand(zprime.hadronic_process("p p > e+ e-"), pdfs.load(), 13000.0,
                                  mu_f=FixedScale(91.188), s_hat_min=15.0**2)
    return PhysicsTarget(HadronicChannels.from_diagrams(integrand), reference("e+ e-"))


def top_pairs():
    """p p > t t~, 13 TeV, NNPDF31_lo, μ = 173 GeV, αs = 0.118 (one channel: no s-channel resonance)."""
    integrand = HadronicIntegrand(sm.hadronic_process("p p > t t~"), pdfs.load(), 13000.0,
                                  mu_f=FixedScale(173.0), alpha_s="model")
    channels = HadronicChannels(integrand, (integrand.s_hat_map,))
    return PhysicsTarget(channels, reference("t t~"))


PHYSICS = {"pp_ee_zprime": drell_yan_zprime, "pp_tt": top_pairs}
PATHWISE = ("mc+vegas+pathwise", "mc+vegas+pathwise+unweighting")
OURS = ("vegas", "flow", "mc", "mc+vegas", *PATHWISE)
MOMENTS = {"mc+vegas+pathwise+unweighting": 8.0}
"""``weight_moment`` of pathwise training per method (2, the variance, otherwise). On the
Drell–Yan toy (1e6 calls, seeds 0/1/2, the BUDGETS below): p = 3 gave rel_std 0.0392–0.0406
and unweighting efficiency 0.435–0.477, p = 4 0.041–0.042 and 0.474–0.494, p = 6
0.044–0.046 and 0.470–0.509, p = 8 0.048–0.049 and 0.492–0.533; p = 10 0.053–0.054 and
0.559 in two seeds, while the third diverged (moments then taken without logarithms); the
variance: 0.039 and 0.38–0.46."""
FLOW = dict(n_layers=4, n_bins=16, hidden=32, depth=2)
FLOWS = {(DrellYanZPrimeToy, method): dict(n_layers=6, n_bins=32, hidden=64, depth=2) for method in PATHWISE}
"""Flow sizes per (integrand, method) where they differ from ``FLOW``. On the Drell–Yan toy
(1e6 calls, seed 0) pathwise training reached rel_std 0.081 with the default flows and 0.054
with 6 layers of 32-bin splines and 64-unit conditioners; the width mattered most (32 units:
0.075). Buffered score-function training gained nothing from the larger flows (0.098 against
0.097) at 2.5 times the CPU time, so mc+vegas keeps the default."""
BATCH = {"buffered": 1024, "pathwise": 256}
"""Points per channel per draw: pathwise training takes one step per draw, so smaller draws
give it as many optimiser steps as buffered training gets from reusing each draw."""
LEARNING_RATE = 3e-3
WARMUP_DIVISOR = 20
"""The learning rate rises linearly over the first 1/20 of the steps, then decays (cosine) to
5 %. Without the warm-up, Adam's first full-size step through the wider Drell–Yan flows moved
the buffered samples' densities so far that the reused draw gave a negative variance
estimate at step 1 and NaN parameters at step 2."""
BUFFER_REUSE = 3
VEGAS_FRACTION = 0.3
VEGAS_ITERATIONS = 10
VEGAS_ALPHA = 0.5
BUDGETS = {
    **{(DrellYanZPrimeToy, method): dict(vegas_fraction=0.55, learning_rate=5e-3) for method in PATHWISE},
    (Camel4, "mc+vegas"): dict(vegas_alpha=0.3),
}
"""Share of the training calls given to VEGAS initialisation, the VEGAS grid's damping
exponent and the peak learning rate, per (integrand, method) where they differ from
``VEGAS_FRACTION``, ``VEGAS_ALPHA`` and ``LEARNING_RATE``. A VEGAS
call costs far less than a pathwise one (Drell–Yan toy at share 0.55: 0.53 CPU s for the
VEGAS iterations, 8.3 s for the 585 pathwise steps), so a larger VEGAS share buys training
time. Pathwise on the Drell–Yan toy, 1e6 calls, one XLA thread, rel_std of seeds 0/1/2 and
warm training CPU s: share 0.3, rate 3e-3: 0.0395/0.0394, 13.1 s; share 0.55, rate 3e-3:
0.0397/0.0411, 8.9 s; rate 5e-3: 0.0382/0.0388/0.0391, 8.9–9.3 s; rate 7e-3: 0.0378/0.0385/0.0392; share 0.6,
rate 3e-3: 0.0409/0.0422/0.0417, 8.1–9.7 s; share 0.7: 0.046, 6.2–6.9 s.

camel4, ``mc+vegas``, seeds 0/1/2: the damping sets how sharply the fixed grid under the
flow separates the two peaks into 2 of 16 orthants of its coordinates, whose edges the flow
must then learn. alpha 0.5: rel_std 0.272/0.286/0.369; 0.3: 0.218/0.194/0.199; 0.2:
0.202/0.190/0.266; 0.1: 0.298/0.188/0.322 (32 grid bins instead of 256 at 0.5:
0.46/0.39/0.43). The damping is not general: at 0.3 the Drell–Yan pathwise sampler got
0.041–0.045 (0.038–0.039 at 0.5) and ringline ``mc+vegas`` 0.37–0.91 (0.46–0.54)."""


EDGE_MAPS = {DrellYanZPrimeToy: {1: 2.0}, PhysicsTarget: {1: 2.0}}
"""Kumaraswamy pre-maps (``diffsim.channels.EdgeMapped``) of our multi-channel samplers. On the
Drell–Yan toy the parton luminosity vanishes like ``(1 − x)^β`` (β = 3 for u, 4 for d, 7
for the sea) at both ends of ``r_1`` (``x_1 = τ^{r_1}``), and without the map 60–70 % of the
trained samplers' weight variance came from the two outer tenths of ``r_1``, where the
flows' density stays finite. Pathwise training, 1e6 calls, seed 0 (1): no map rel_std 0.0555
(0.0561); power 1.5 0.0436; power 2 0.0392 (0.0404); power 3 0.0437. ``r_0`` (ŝ) is left
alone: in the Breit–Wigner channels the integrand does not vanish like a power of
``1 − r_0`` (ŝ → S is a sliver of ``r_0`` near 1), and a power there gave unbounded weights.
The physics integrands take the same map of their rapidity coordinate ``r_1``
(:class:`~diffsim.phasespace.PartonFractions`), whose faces are ``x₁ → 1`` and ``x₂ → 1``."""


def channel_integrand(toy, method):
    """The toy as a channel integrand: its physics channels for ``mc*`` and ``vegas`` on the
    Drell–Yan toy (seen through :data:`EDGE_MAPS` by the ``mc*`` samplers), else the
    single-channel form (``toy(r)`` on the unit hypercube)."""
    if hasattr(toy, "channel_integrand") and method != "flow":
        edges = EDGE_MAPS.get(type(toy)) if method.startswith("mc") else None
        return EdgeMapped(toy, edges) if edges else toy
    return SingleChannel(toy, toy.dim)


class Configuration:
    """One of diffsim's samplers on one toy; keeps its optimiser across seeds (compiled once)."""

    def __init__(self, toy, method, calls):
        self.toy, self.method, self.calls = toy, method, calls
        self.integrand = channel_integrand(toy, method)
        n_channels = self.integrand.n_channels
        budget = BUDGETS.get((type(toy), method), {})
        self.vegas_calls = int(budget.get("vegas_fraction", VEGAS_FRACTION) * calls) if "vegas" in method else 0
        if method == "vegas":
            self.vegas_calls = calls
        self.mode = "pathwise" if "pathwise" in method else "buffered"
        self.batch = BATCH[self.mode]
        draws = max((calls - self.vegas_calls) // (self.batch * n_channels), 1)
        self.steps = draws if self.mode == "pathwise" else draws * (1 + BUFFER_REUSE)
        rate = budget.get("learning_rate", LEARNING_RATE)
        self.vegas_alpha = budget.get("vegas_alpha", VEGAS_ALPHA)
        self.optimizer = optax.adam(optax.warmup_cosine_decay_schedule(
            0.0, rate, max(self.steps // WARMUP_DIVISOR, 1), self.steps, end_value=0.05 * rate))

    def train(self, key):
        """Returns ``(sampler, fractions, calls)`` after training."""
        n_features = self.integrand.channel_integrand(0, jax.numpy.full((2, self.toy.dim), 0.5)).features.shape[-1]
        flow = FLOWS.get((type(self.toy), self.method), FLOW)
        sampler = multichannel_sampler(key, self.integrand.n_channels, self.toy.dim, n_features, **flow)
        calls = 0
        if self.vegas_calls:
            per_iteration = self.vegas_calls // (VEGAS_ITERATIONS * self.integrand.n_channels)
            sampler, calls = vegas_initialise(
                jax.random.fold_in(key, 1), sampler, self.integrand, n_iterations=VEGAS_ITERATIONS,
                n_per_iteration=per_iteration, n_bins=256, alpha=self.vegas_alpha, smooth=self.mode == "pathwise",
            )
        if self.method == "vegas":
            pilot = sample_weighted(jax.random.fold_in(key, 2), sampler, self.integrand, 10_000 * sampler.n_channels)
            sigmas = np.array([np.std(np.asarray(w)) for w in pilot.weights])
            return sampler, sigmas / sigmas.sum(), calls + 10_000 * sampler.n_channels
        state = train(
            jax.random.fold_in(key, 3), sampler, self.integrand, n_steps=self.steps, batch_size=self.batch,
            optimizer=self.optimizer, mode=self.mode, buffer_reuse=BUFFER_REUSE, progress=False,
            weight_moment=MOMENTS.get(self.method, 2.0),
        )
        return state.sampler, np.asarray(state.allocation), calls + int(state.calls)


def run_ours(config, seed, n_eval, pull_runs):
    key = jax.random.key(seed)
    start = time.process_time()
    sampler, fractions, calls = config.train(key)
    train_cpu = time.process_time() - start
    sample = sample_weighted(jax.random.fold_in(key, 4), sampler, config.integrand, n_eval, fractions=fractions)
    result = peers.channel_metrics([np.asarray(w) for w in sample.weights], seed=seed)
    pulls = []
    for run in range(pull_runs):
        extra = sample_weighted(jax.random.fold_in(key, 100 + run), sampler, config.integrand, n_eval // 10,
                                fractions=fractions).result()
        pulls.append((float(extra.value) - config.toy.exact) / float(extra.error))
    result.update(train_cpu_s=train_cpu, train_calls=calls, eval_calls=n_eval, extra_pulls=pulls)
    return peers._finish(result, config.toy, tool=f"diffsim {config.method}", seed=seed)


PEERS = ("peer-vegas", "peer-madnis", "peer-madnis+vegas")


def run_peer(tool, toy, seed, calls, n_eval):
    """``peer-vegas`` (one grid per channel on multi-channel integrands, MG5-style),
    ``peer-madnis`` (mapped channels on the Drell–Yan toy, 2 learned channels on ringline,
    one flow otherwise) and ``peer-madnis+vegas`` (the same, VEGAS-initialised; one flow on
    ringline, since MadNIS 1.0.0's VEGAS pre-training needs channel-weight priors, which
    learned channels do not have: it fails there with a ``TypeError`` in ``torch.gather``)."""
    if tool == "peer-vegas":
        grids = getattr(toy, "n_channels", 1) > 1
        row = peers.run_vegas(toy, seed=seed, n_train_calls=calls, n_eval=n_eval, multichannel_grids=grids)
    else:
        vegas_init = tool == "peer-madnis+vegas"
        learned = 2 if isinstance(toy, RingLine) and not vegas_init else None
        channels = "mapped" if getattr(toy, "n_channels", 1) > 1 else learned
        row = peers.run_madnis(toy, seed=seed, n_train_calls=calls, n_eval=n_eval, channels=channels,
                               vegas_init=vegas_init)
    row["tool"] = tool
    return row


def summarise(rows):
    """Mean over seeds per (toy, tool): value, error, pull, rel_std, efficiencies, CPU, calls."""
    table = {}
    for row in rows:
        table.setdefault((row["toy"], row["tool"]), []).append(row)
    summary = []
    for (toy, tool), group in table.items():
        cpu = [r["train_cpu_s"] for r in group]
        compile_s = cpu[0] - float(np.mean(cpu[1:])) if len(cpu) > 1 and tool.startswith("diffsim") else None
        warm = cpu[1:] if compile_s is not None else cpu
        pulls = [r["pull"] for r in group] + [p for r in group for p in r.get("extra_pulls", [])]
        summary.append({
            "toy": toy, "tool": tool, "seeds": len(group),
            "value": float(np.mean([r["value"] for r in group])),
            "error": float(np.mean([r["error"] for r in group])),
            "exact": group[0]["exact"],
            "pulls": [r["pull"] for r in group],
            "mean_sq_pull": float(np.mean(np.square(pulls))), "n_pulls": len(pulls),
            "rel_std": float(np.mean([r["rel_std"] for r in group])),
            "rel_std_spread": float(np.std([r["rel_std"] for r in group])),
            "unweighting_efficiency": float(np.mean([r["unweighting_efficiency"] for r in group])),
            "unweighting_efficiency_global": float(np.mean([r.get("unweighting_efficiency_global", np.nan) for r in group])),
            "train_cpu_s": float(np.mean(warm)), "compile_cpu_s": compile_s,
            "train_calls": int(np.mean([r["train_calls"] for r in group])),
        })
    return summary


def markdown(summary, args):
    lines = [
        f"Training budget {args.calls:.0e} calls, evaluation {args.eval:.0e} fresh points, {args.seeds} seeds "
        "(means over seeds; pulls include the extra evaluation runs).", "",
        "| integrand | tool | result ± error (exact) | mean pull² (n) | rel_std | unw. eff (global) | train CPU s (compile) | train calls |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        compile_s = f" (+{s['compile_cpu_s']:.0f})" if s["compile_cpu_s"] is not None else ""
        lines.append(
            f"| {s['toy']} | {s['tool']} | {s['value']:.6g} ± {s['error']:.2g} ({s['exact']:.6g}) | "
            f"{s['mean_sq_pull']:.2f} ({s['n_pulls']}) | {s['rel_std']:.3g} | {s['unweighting_efficiency']:.3f} "
            f"({s['unweighting_efficiency_global']:.3f}) | {s['train_cpu_s']:.1f}{compile_s} | {s['train_calls']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="training calls per tool and seed")
    parser.add_argument("--eval", type=int, default=1_000_000, help="fresh evaluation points")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pull-runs", type=int, default=4, help="extra evaluation runs per trained sampler")
    parser.add_argument("--toys", nargs="*", default=list(TOYS))
    parser.add_argument("--tools", nargs="*", default=[*OURS, *PEERS], choices=[*OURS, *PEERS])
    parser.add_argument("--output", default="integrators")
    args = parser.parse_args()
    diffsim.enable_x64()
    rows = []
    for name in args.toys:
        toy = TOYS[name]() if name in TOYS else PHYSICS[name]()
        for tool in args.tools:
            config = Configuration(toy, tool, args.calls) if tool in OURS else None
            for seed in range(args.seeds):
                row = run_ours(config, seed, args.eval, args.pull_runs) if config else run_peer(
                    tool, toy, seed, args.calls, args.eval)
                row["toy"] = name  # the command-line name: both physics targets share a class
                rows.append(row)
                print(f"{name:10s} {row['tool']:24s} seed {seed}: {row['value']:.6g} ± {row['error']:.2g} "
                      f"pull {row['pull']:+.2f} rel_std {row['rel_std']:.3g} "
                      f"eff {row['unweighting_efficiency']:.3f} cpu {row['train_cpu_s']:.1f}s", flush=True)
    summary = summarise(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps({"settings": vars(args), "summary": summary, "runs": rows},
                                                            indent=1, default=float))
    (RESULTS / f"{args.output}.md").write_text(markdown(summary, args))
    print(markdown(summary, args))


if __name__ == "__main__":
    main()
