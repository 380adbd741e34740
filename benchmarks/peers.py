"""Bridges from diffsim's JAX benchmark integrands to the peer integrators vegas and MadNIS.

Benchmarks only: nothing in the package or the tests imports this module. The integrands
are the one JAX implementation in :mod:`diffsim.inference.toys`, jitted once and called on
NumPy batches (vegas, PyPI ``vegas`` 6.4.1) or on PyTorch tensors via NumPy (MadNIS, PyPI
``madnis`` 1.0.0, CPU torch). Both runners return the same metrics
(shared/data/benchmarks/integrands.md):

* ``value``, ``error``, ``pull = (value − exact)/error`` — from ``n_eval`` *fresh* points of
  the trained sampler (importance sampling only: vegas's map without its stratification,
  MadNIS's flow), so every tool's error is a plain Monte Carlo error of the same kind;
* ``rel_std = std(w)/mean(w)`` of those weights; for multi-channel samplers the optimal-
  allocation value ``Σ_c σ_c / I`` (σ_c the standard deviation of channel c's weights;
  MadNIS's ``rel_stddev_opt``), with the fresh points allocated ``n_c ∝ σ_c`` as estimated
  during training;
* ``unweighting_efficiency = mean(w)/w_max`` with ``w_max`` the median over bootstrap
  replicas of the maximum of the sample (:func:`unweighting_efficiency`); for multi-channel
  ``Σ_c (I_c/I) ε_c`` and, as ``unweighting_efficiency_global``, the same with one global
  maximum over the combined sample (weights ``w·N/n_c``);
* ``train_cpu_s`` (``time.process_time()``, all threads of the process, JAX compilation of
  the bridge excluded: it is warmed up first) and ``train_calls`` (integrand evaluations
  before the evaluation sample); ``eval_calls``.

Usage (smoke run at a reduced budget)::

    python benchmarks/peers.py --calls 100000
"""

import argparse
import json
import time

import jax
import numpy as np

import diffsim
from diffsim.inference.toys import Camel4, DrellYanZPrimeToy, Prod2x, RingLine

__all__ = [
    "JaxBridge",
    "channel_metrics",
    "run_madnis",
    "run_vegas",
    "unweighting_efficiency",
]


# ----------------------------------------------------------------------------- bridge ---
class JaxBridge:
    """A JAX function of points ``(N, dim)`` jitted once and called on NumPy batches.

    Batches are cut into chunks of ``chunk`` points (the last one zero-padded), so a single
    compiled shape serves every batch size; ``calls`` counts the real (unpadded) points.
    ``fn`` returns one array ``(N, ...)`` or a tuple of them.
    """

    def __init__(self, fn, dim: int, chunk: int):
        self.dim = dim
        self.chunk = chunk
        self.calls = 0
        self._fn = jax.jit(lambda x: fn(x))  # fn may be a module holding arrays (not hashable)

    def warm_up(self) -> None:
        """Compile for the one chunk shape (not counted as calls)."""
        jax.block_until_ready(self._fn(np.full((self.chunk, self.dim), 0.5)))

    def __call__(self, x: np.ndarray):
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, self.dim)
        n = len(x)
        self.calls += n
        n_pad = -n % self.chunk
        if n_pad:
            x = np.concatenate([x, np.full((n_pad, self.dim), 0.5)])
        parts = [self._fn(x[i : i + self.chunk]) for i in range(0, len(x), self.chunk)]
        single = not isinstance(parts[0], tuple)
        if single:
            parts = [(p,) for p in parts]
        out = tuple(
            np.concatenate([np.asarray(p[k]) for p in parts])[:n]
            for k in range(len(parts[0]))
        )
        return out[0] if single else out


def _channel_fn(toy, c: int):
    def fn(r):
        point = toy.channel_integrand(c, r)
        return point.weight, point.prior, point.features

    return fn


def _has_channels(toy) -> bool:
    return hasattr(toy, "channel_integrand")


# ----------------------------------------------------------------------------- metrics --
def unweighting_efficiency(
    weights: np.ndarray, *, n_replicas: int = 1000, seed: int = 0
) -> float:
    """``mean(w)/w_max``, ``w_max`` the median over bootstrap replicas of the sample maximum.

    A bootstrap replica of ``n`` points drawn with replacement from the sorted weights has
    its maximum at sorted index ``k`` with ``P(k' ≤ k) = (k/n)^n``; the replica maxima are
    drawn exactly from that distribution (``k = ⌈n U^{1/n}⌉``, U uniform) instead of
    resampling ``n`` points per replica. Negative weights (e.g. from a PDF set that dips
    below zero at large x) count with their magnitude, as hit-or-miss unweighting with
    signed events does: ``mean(|w|)/w_max`` with ``w_max`` from ``|w|``.
    """
    w = np.sort(np.abs(np.asarray(weights, dtype=np.float64)))
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError("unweighting efficiency needs a non-empty sample of finite weights")
    n = w.size
    u = np.random.default_rng(seed).random(n_replicas)
    k = np.clip(np.ceil(n * u ** (1.0 / n)).astype(np.int64), 1, n)
    w_max = np.median(w[k - 1])
    return float(np.mean(w) / w_max) if w_max > 0 else float("nan")


def channel_metrics(channel_weights: list[np.ndarray], *, seed: int = 0) -> dict:
    """Metrics of a stratified (multi-channel) sample: value, error, rel_std, efficiencies.

    ``channel_weights[c]`` are the weights ``α_c f |J_c| / q_c`` of the ``n_c`` fresh points
    of channel c (their mean estimates ``I_c``). ``value = Σ I_c``, ``error² = Σ σ_c²/n_c``;
    ``rel_std = Σ_c σ_c / I`` (optimal allocation); ``unweighting_efficiency = Σ_c (I_c/I)
    ε_c``; ``unweighting_efficiency_global`` with one maximum over the weights ``w N/n_c``.
    With a single channel these reduce to the plain sample's metrics.
    """
    means = np.array([np.mean(w) for w in channel_weights])
    sigmas = np.array([np.std(w) for w in channel_weights])
    counts = np.array([len(w) for w in channel_weights])
    value = float(np.sum(means))
    error = float(np.sqrt(np.sum(sigmas**2 / counts)))
    effs = np.array(
        [
            unweighting_efficiency(w, seed=seed + c)
            for c, w in enumerate(channel_weights)
        ]
    )
    n = counts.sum()
    combined = np.concatenate([w * n / len(w) for w in channel_weights])
    return {
        "value": value,
        "error": error,
        "rel_std": float(np.sum(sigmas) / value),
        "rel_std_as_sampled": float(error * np.sqrt(n) / value),
        "unweighting_efficiency": float(np.sum(means / value * effs)),
        "unweighting_efficiency_global": unweighting_efficiency(
            combined, seed=seed + 997
        ),
        "channel_values": means.tolist(),
        "channel_counts": counts.tolist(),
        "channel_rel_std": (sigmas / means).tolist(),
    }


def _drop_channel_keys(metrics: dict) -> None:
    """Remove the per-channel entries of :func:`channel_metrics` for a single-channel run."""
    for key in ("unweighting_efficiency_global", "channel_values", "channel_counts", "channel_rel_std"):
        metrics.pop(key)


def _allocate(n: int, sigmas: np.ndarray) -> np.ndarray:
    """``n_c ∝ σ_c`` (at least 1% of ``n`` per channel), summing to ``n``."""
    p = np.maximum(sigmas / np.sum(sigmas), 0.01)
    p = p / p.sum()
    counts = np.floor(p * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    return counts


def _finish(result: dict, toy, **extra) -> dict:
    result.update(extra)
    result["exact"] = float(toy.exact)
    result["pull"] = (result["value"] - result["exact"]) / result["error"]
    result["toy"] = type(toy).__name__
    return result


# ----------------------------------------------------------------------------- vegas ----
def run_vegas(
    toy,
    *,
    seed: int,
    n_train_calls: int = 1_000_000,
    n_eval: int = 1_000_000,
    multichannel_grids: bool = False,
    nitn: int = 10,
    chunk: int = 16384,
    stratified_eval: bool = True,
) -> dict:
    """Train vegas (6.4.1) on ``toy`` and evaluate on fresh importance-sampled points.

    Single grid: ``vegas.Integrator`` over ``[0, 1]^dim`` on ``toy(x)``, ``nitn`` adaptive
    iterations of ``n_train_calls/nitn`` calls (stratification and map adaptation on, as
    vegas does by default). ``multichannel_grids=True`` (toys with ``channel_integrand``,
    MG5-style): one grid per channel c trained on ``α_c f |J_c|`` with ``n_train_calls/C``
    calls; the channels add up. The evaluation draws ``n_eval`` uniform ``y`` through the
    frozen map(s) (``x = map(y)``, weight ``f(x)·∂x/∂y``; channels allocated ``n_c ∝ σ_c``
    from their last training iteration). ``train_value``/``train_error``/``train_chi2_dof``
    report vegas's own cumulative training estimate (with stratification; sum over grids).

    ``stratified_eval`` (default True) adds vegas's own frozen-grid estimate *with* its
    adaptive stratification from another ``n_eval`` fresh calls (same allocation; keys
    ``strat_*``, calls ``strat_eval_calls``): value, error, pull, the effective
    ``strat_rel_std = √calls · error / value`` (vegas rounds the calls per hypercube, so
    ``strat_eval_calls`` is close to, not exactly, ``n_eval``) and the unweighting efficiency of the
    stratified weights ``n_c · wgt · f`` (:func:`_vegas_stratified`).
    """
    import vegas

    if multichannel_grids and not _has_channels(toy):
        raise ValueError(
            f"{type(toy).__name__} has no channel mappings for multichannel_grids"
        )
    rng = np.random.default_rng(seed)
    if multichannel_grids:
        bridges = [
            JaxBridge(_channel_fn(toy, c), toy.dim, chunk)
            for c in range(toy.n_channels)
        ]

        def make_f(c):
            bridge = bridges[c]

            @vegas.lbatchintegrand
            def f(x):
                w, prior, _ = bridge(x)
                return w * prior[:, c]

            return f

        functions = [make_f(c) for c in range(toy.n_channels)]
    else:
        bridges = [JaxBridge(toy, toy.dim, chunk)]
        functions = [vegas.lbatchintegrand(lambda x, b=bridges[0]: b(x))]
    for bridge in bridges:
        bridge.warm_up()

    n_grids = len(functions)
    integrators = []
    train_results = []
    t0 = time.process_time()
    for f in functions:
        integ = vegas.Integrator(
            [[0.0, 1.0]] * toy.dim, ran_array_generator=lambda size: rng.random(size)
        )
        res = integ(f, nitn=nitn, neval=max(n_train_calls // (nitn * n_grids), 1000))
        integrators.append(integ)
        train_results.append(res)
    train_cpu = time.process_time() - t0
    train_calls = sum(b.calls for b in bridges)

    # sigma of the last training iteration per grid (only used for the allocation)
    last = [r.itn_results[-1] for r in train_results]
    sigmas = np.array([abs(l.sdev) for l in last]) * np.sqrt(
        train_calls / (nitn * n_grids)
    )
    counts = _allocate(n_eval, sigmas) if n_grids > 1 else np.array([n_eval])
    channel_weights = []
    for integ, f, n_c in zip(integrators, functions, counts):
        y = rng.random((int(n_c), toy.dim))
        x = np.empty_like(y)
        jac = np.empty(len(y))
        integ.map.map(y, x, jac)
        channel_weights.append(np.asarray(f(x)) * jac)
    metrics = channel_metrics(channel_weights, seed=seed)
    if n_grids == 1:
        _drop_channel_keys(metrics)
    eval_calls = sum(b.calls for b in bridges) - train_calls
    if stratified_eval:
        strat = [
            _vegas_stratified(integ, f, int(n_c))
            for integ, f, n_c in zip(integrators, functions, counts)
        ]
        value = sum(v for v, _, _ in strat)
        error = float(np.sqrt(sum(e**2 for _, e, _ in strat)))
        strat_calls = int(sum(b.calls for b in bridges) - train_calls - eval_calls)
        metrics.update(
            strat_value=value,
            strat_error=error,
            strat_pull=(value - toy.exact) / error,
            strat_rel_std=float(error * np.sqrt(strat_calls) / value),
            strat_unweighting_efficiency=float(
                sum(
                    v / value * unweighting_efficiency(w, seed=seed + 11 * c)
                    for c, (v, _, w) in enumerate(strat)
                )
            ),
            strat_eval_calls=strat_calls,
        )
    train_value = sum(r.mean for r in train_results)
    train_error = float(np.sqrt(sum(r.sdev**2 for r in train_results)))
    return _finish(
        metrics,
        toy,
        tool="vegas",
        variant="3 grids (MG5-style)" if multichannel_grids else "1 grid",
        seed=seed,
        train_cpu_s=train_cpu,
        train_calls=int(train_calls),
        eval_calls=int(eval_calls),
        train_value=float(train_value),
        train_error=train_error,
        train_chi2_dof=[float(r.chi2 / max(r.dof, 1)) for r in train_results],
    )


def _vegas_stratified(integ, f, n: int) -> tuple[float, float, np.ndarray]:
    """One frozen-grid vegas iteration of ``n`` calls with its stratification.

    Uses ``random_batch(yield_hcube=True)``: the estimate is ``Σ wgt·f``, its variance
    ``Σ_h (n_h Σ_h (wgt f)² − (Σ_h wgt f)²)/(n_h − 1)`` over hypercubes h (vegas's formula);
    the per-point weights ``n · wgt · f`` (mean = the integral) are returned for the
    unweighting efficiency.
    """
    integ.set(neval=n, adapt=False)
    parts, cubes = [], []
    for x, wgt, hcube in integ.random_batch(yield_hcube=True):
        parts.append(wgt * np.asarray(f(x)))
        cubes.append(hcube)
    wf = np.concatenate(parts)
    h = np.concatenate(cubes)
    h = np.unique(h, return_inverse=True)[1]
    n_h = np.bincount(h)
    s_h = np.bincount(h, weights=wf)
    q_h = np.bincount(h, weights=wf**2)
    var = np.sum((n_h * q_h - s_h**2) / np.maximum(n_h - 1, 1))
    return float(np.sum(wf)), float(np.sqrt(var)), len(wf) * wf


# ----------------------------------------------------------------------------- madnis ---
def run_madnis(
    toy,
    *,
    seed: int,
    n_train_calls: int = 1_000_000,
    n_eval: int = 1_000_000,
    channels=None,
    vegas_init: bool = False,
    vegas_fraction: float = 0.2,
    batch_size: int = 1024,
    chunk: int = 1024,
    torch_threads: int | None = 1,
) -> dict:
    """Train a MadNIS (1.0.0) integrator on ``toy`` and evaluate on fresh flow samples.

    ``channels``:

    * ``None`` — single channel, one flow on ``toy(x)`` (KL loss, MadNIS's default);
    * ``"mapped"`` — the toy's channel mappings (``toy.channel_integrand``): MadNIS
      ``Integrand`` with ``channel_count = C``, ``remapped_dim`` = the feature dimension (the
      channel-weight network's input) and ``has_channel_weight_prior=True`` (the single-
      diagram priors, refined by the trained channel-weight network); stratified-variance
      loss (MadNIS's multi-channel default);
    * an int ``n`` — ``n`` channels that all use the identity mapping, channel weights
      learned from a uniform start (no prior).

    ``vegas_init``: MadNIS's ``VegasPreTraining`` (one vegas grid per channel) trained with
    ``vegas_fraction`` of the budget in 10 iterations, then the flows are initialised from the
    grids (``initialize_integrator``) and trained with the rest. Training steps of
    ``batch_size`` points run until ``n_train_calls`` integrand calls are spent. The
    evaluation draws ``n_eval`` points with MadNIS's ``sample`` (channels allocated by their
    variance, i.e. optimally) and the metrics are computed here from the raw per-channel
    weights ``α_c f / q`` (:func:`channel_metrics`). Seeds: ``torch.manual_seed(seed)`` and
    the vegas pre-training's NumPy generator. ``torch_threads`` (default 1; ``None`` keeps
    torch's setting): torch's intra-op threads for the run, restored afterwards — on the
    shared 2-core machine two torch threads spin against each other and against XLA, and a
    1024×32 linear layer costs ~30× more CPU time than with one thread.
    """
    import torch

    previous = torch.get_num_threads()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    try:
        return _run_madnis(
            toy,
            seed=seed,
            n_train_calls=n_train_calls,
            n_eval=n_eval,
            channels=channels,
            vegas_init=vegas_init,
            vegas_fraction=vegas_fraction,
            batch_size=batch_size,
            chunk=chunk,
            threads=torch.get_num_threads(),
        )
    finally:
        torch.set_num_threads(previous)


def _run_madnis(
    toy,
    *,
    seed,
    n_train_calls,
    n_eval,
    channels,
    vegas_init,
    vegas_fraction,
    batch_size,
    chunk,
    threads,
) -> dict:
    import torch
    from madnis.integrator import Integrand, Integrator, VegasPreTraining

    torch.manual_seed(seed)
    dim = toy.dim
    if channels is None:
        bridge = JaxBridge(toy, dim, chunk)
        bridges = [bridge]
        n_channels = None

        def function(x):
            return torch.as_tensor(bridge(x.detach().numpy()), dtype=x.dtype)

        integrand = Integrand(function, input_dim=dim)
    elif channels == "mapped":
        if not _has_channels(toy):
            raise ValueError(f"{type(toy).__name__} has no channel mappings")
        n_channels = toy.n_channels
        bridges = [
            JaxBridge(_channel_fn(toy, c), dim, chunk) for c in range(n_channels)
        ]

        def function(x, chans):
            x_np = x.detach().numpy()
            chans_np = chans.numpy()
            f = np.zeros(len(x_np))
            y = np.zeros((len(x_np), toy.n_features))
            alpha = np.zeros((len(x_np), n_channels))
            for c in range(n_channels):
                mask = chans_np == c
                if mask.any():
                    f[mask], alpha[mask], y[mask] = bridges[c](x_np[mask])
            as_t = lambda a: torch.as_tensor(a, dtype=x.dtype)
            return as_t(f), as_t(y), as_t(alpha)

        integrand = Integrand(
            function,
            input_dim=dim,
            channel_count=n_channels,
            remapped_dim=toy.n_features,
            has_channel_weight_prior=True,
        )
    elif isinstance(channels, int) and channels >= 1:
        n_channels = channels
        bridge = JaxBridge(toy, dim, chunk)
        bridges = [bridge]

        def function(x, chans):
            return torch.as_tensor(bridge(x.detach().numpy()), dtype=x.dtype)

        integrand = Integrand(function, input_dim=dim, channel_count=n_channels)
    else:
        raise ValueError(
            f"channels must be None, 'mapped' or a positive int, got {channels!r}"
        )
    for b in bridges:
        b.warm_up()

    def calls():
        return sum(b.calls for b in bridges)

    integrator = Integrator(integrand, batch_size=batch_size)
    t0 = time.process_time()
    if vegas_init:
        pre = VegasPreTraining(integrator)
        pre.rng = np.random.default_rng(seed)  # MadNIS seeds it from entropy otherwise
        per_iteration = int(vegas_fraction * n_train_calls / (10 * (n_channels or 1)))
        pre.train([per_iteration] * 10)
        pre.initialize_integrator()
    steps = 0
    while calls() < n_train_calls:
        integrator.train_step()
        steps += 1
    train_cpu = time.process_time() - t0
    train_calls = calls()

    with torch.no_grad():
        samples = integrator.sample(n_eval)
    if n_channels is None:
        channel_weights = [(samples.func_vals / samples.q_sample).double().numpy()]
    else:
        alpha = torch.gather(samples.alphas, index=samples.channels[:, None], dim=1)[
            :, 0
        ]
        raw = (alpha * samples.func_vals / samples.q_sample).double().numpy()
        chans = samples.channels.numpy()
        channel_weights = [
            raw[chans == c] for c in range(n_channels) if np.any(chans == c)
        ]
    metrics = channel_metrics(channel_weights, seed=seed)
    if n_channels is None:
        _drop_channel_keys(metrics)
    if channels is None:
        variant = "1 channel"
    elif channels == "mapped":
        variant = f"{n_channels} mapped channels"
    else:
        variant = f"{n_channels} learned channels"
    return _finish(
        metrics,
        toy,
        tool="madnis",
        variant=variant + (", VEGAS-initialised" if vegas_init else ""),
        seed=seed,
        torch_threads=threads,
        train_cpu_s=train_cpu,
        train_calls=int(train_calls),
        train_steps=steps,
        eval_calls=int(calls() - train_calls),
    )


# ----------------------------------------------------------------------------- smoke ----
def _smoke(calls: int, n_eval: int, seed: int) -> list[dict]:
    dy = DrellYanZPrimeToy()
    runs = [
        ("vegas", Prod2x(), {}),
        ("vegas", Camel4(), {}),
        ("vegas", RingLine(), {}),
        ("vegas", dy, {}),
        ("vegas", dy, {"multichannel_grids": True}),
        ("madnis", Prod2x(), {}),
        ("madnis", Camel4(), {}),
        ("madnis", Camel4(), {"vegas_init": True}),
        ("madnis", RingLine(), {"channels": 2}),
        ("madnis", dy, {"channels": "mapped"}),
        ("madnis", dy, {"channels": "mapped", "vegas_init": True}),
    ]
    out = []
    for tool, toy, kwargs in runs:
        run = run_vegas if tool == "vegas" else run_madnis
        r = run(toy, seed=seed, n_train_calls=calls, n_eval=n_eval, **kwargs)
        out.append(r)
        print(
            f"{tool:6s} {r['toy']:18s} {r['variant']:34s} value {r['value']:.6g} ± {r['error']:.2g} "
            f"pull {r['pull']:+.2f}  rel_std {r['rel_std']:.3f}  eff {r['unweighting_efficiency']:.3f}  "
            f"train {r['train_cpu_s']:.1f} CPU s / {r['train_calls']} calls",
            flush=True,
        )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--eval", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()
    diffsim.enable_x64()
    results = _smoke(args.calls, args.eval, args.seed)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
