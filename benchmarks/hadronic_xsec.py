"""Reference hadronic cross sections through the full differentiable chain (issue 4).

* σ(p p → t t̄) at √S = 13 TeV, NNPDF31_lo_as_0118, μ_F = μ_R = 173 GeV fixed, αs = 0.118
  fixed, m_t = 173 GeV, to 0.1 % Monte Carlo precision;
* σ(p p → e⁺e⁻, m_ℓℓ > 15 GeV) at 13 TeV in the Z′ model (M_Z′ = 400, Γ_Z′ = 0.5 GeV,
  Z-like couplings), μ_F = M_Z, αs irrelevant at this order.

Two routes over the same integrands (each integrand's unit hypercube; the Drell–Yan range of
ŝ is split into pieces with a power-law map below the Z, Breit–Wigner maps on the Z and the
Z′, and a power law above):

* flat Monte Carlo, batches accumulated until the requested relative error is reached, with
  a progress line per batch;
* product Gauss–Legendre cubature (:func:`diffsim.inference.integrate_gauss_legendre`) with
  ``n × n`` nodes in (ŝ, rapidity), ``--angle-nodes`` in the polar angle and one in the
  azimuth, at ``n = --nodes / 2`` and ``--nodes``; their difference is quoted as its error.
  These are the references of the physics rows of ``benchmarks/integrators.py``, whose
  errors are far below the Monte Carlo ones here.

Writes benchmarks/results/hadronic_xsec.json and .md.
"""

import argparse
import json
import math
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import diffsim
from diffsim import pdf as pdfs
from diffsim.hadronic import FixedScale, HadronicIntegrand
from diffsim.inference import integrate_gauss_legendre
from diffsim.models import ZPrimeModel, sm, zprime
from diffsim.phasespace import BreitWignerInvariant, PowerLawInvariant

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def integrate(integrands, target, batch, max_batches, seed):
    """Sum of flat Monte Carlo estimates of ``integrands`` (pb) to relative error ``target``."""
    sums = [[0.0, 0.0, 0] for _ in integrands]
    evaluate = [eqx.filter_jit(lambda r, f=f: f(r).weight) for f in integrands]
    key = jax.random.key(seed)
    start = time.perf_counter()
    for index in range(max_batches):
        for i, (integrand, function) in enumerate(zip(integrands, evaluate)):
            key, subkey = jax.random.split(key)
            w = function(jax.random.uniform(subkey, (batch, integrand.n_dims), dtype=jnp.float64))
            sums[i][0] += float(w.sum())
            sums[i][1] += float((w**2).sum())
            sums[i][2] += batch
        value = sum(s / n for s, _, n in sums)
        error = math.sqrt(sum((s2 / n - (s / n) ** 2) / n for s, s2, n in sums))
        print(f"  batch {index + 1}: {value:.6g} ± {error:.2g} pb ({error / value:.2e}), "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        if error / value < target:
            break
    return value, error, sum(n for _, _, n in sums), time.perf_counter() - start


def quadrature(integrands, nodes, angle_nodes):
    """Product Gauss–Legendre sums of ``integrands`` (pb) at ``nodes // 2`` and ``nodes`` nodes
    in (ŝ, y): ``(value at nodes, |difference|, seconds)``."""
    start = time.perf_counter()
    values = [
        sum(float(integrate_gauss_legendre(lambda r, f=f: f(r).weight, (n, n, angle_nodes, 1))) for f in integrands)
        for n in (nodes // 2, nodes)
    ]
    return values[1], abs(values[1] - values[0]), time.perf_counter() - start


def ttbar(pdf):
    process = sm.hadronic_process("p p > t t~")
    return [HadronicIntegrand(process, pdf, 13000.0, mu_f=FixedScale(173.0), alpha_s="model")], 1


def drell_yan_zprime(pdf):
    params = ZPrimeModel()
    process = zprime.hadronic_process("p p > e+ e-", params)
    mz, wz = float(params.sm.mz), float(params.sm.wz)
    pieces = [
        (15.0**2, 60.0**2, PowerLawInvariant(nu=1.0)),
        (60.0**2, 250.0**2, BreitWignerInvariant(mz, wz)),
        (250.0**2, 700.0**2, BreitWignerInvariant(params.mzp, params.wzp)),
        (700.0**2, None, PowerLawInvariant(nu=1.0)),
    ]
    integrands = [
        HadronicIntegrand(process, pdf, 13000.0, mu_f=FixedScale(mz), s_hat_min=lo, s_hat_max=hi,
                          s_hat_map=mapping, alpha_s="model")
        for lo, hi, mapping in pieces
    ]
    return integrands, 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=1e-3, help="relative MC error to reach")
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--max-batches", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=256, help="Gauss–Legendre nodes in ŝ and in rapidity")
    parser.add_argument("--angle-nodes", type=int, default=32, help="Gauss–Legendre nodes in the polar angle")
    args = parser.parse_args()
    diffsim.enable_x64()
    pdf = pdfs.load()
    rows = {}
    for name, run in (("p p > t t~ (13 TeV, muF=muR=mt, aS=0.118)", ttbar),
                      ("p p > e+ e- (Z' model, 13 TeV, mll>15, muF=MZ)", drell_yan_zprime)):
        print(name, flush=True)
        integrands, seed = run(pdf)
        value, error, calls, seconds = integrate(integrands, args.target, args.batch, args.max_batches, seed)
        exact, exact_error, exact_seconds = quadrature(integrands, args.nodes, args.angle_nodes)
        print(f"  quadrature: {exact:.9g} ± {exact_error:.1g} pb, {exact_seconds:.0f} s", flush=True)
        rows[name] = {"value_pb": value, "error_pb": error, "relative_error": error / value,
                      "calls": calls, "seconds": seconds, "quadrature_pb": exact,
                      "quadrature_error_pb": exact_error, "quadrature_seconds": exact_seconds}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hadronic_xsec.json").write_text(json.dumps({"pdf": "NNPDF31_lo_as_0118/0", "rows": rows}, indent=2))
    lines = ["| process | σ (pb), flat MC | error (pb) | rel. error | calls | seconds | σ (pb), quadrature | "
             "its error (pb) | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {v['value_pb']:.6g} | {v['error_pb']:.3g} | {v['relative_error']:.1e} | {v['calls']} | "
              f"{v['seconds']:.0f} | {v['quadrature_pb']:.9g} | {v['quadrature_error_pb']:.1g} | "
              f"{v['quadrature_seconds']:.0f} |" for k, v in rows.items()]
    lines += ["", f"Quadrature: {args.nodes} × {args.nodes} Gauss–Legendre nodes in (ŝ, y), {args.angle_nodes} in "
              f"the polar angle, error = difference to {args.nodes // 2} × {args.nodes // 2}."]
    (RESULTS / "hadronic_xsec.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
