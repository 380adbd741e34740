"""The runnable studies in examples/, each run in its fast mode and checked against
closed forms or the reference data; every example must write its plot."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest
from tolerance import assert_close, assert_within_sigma, central_difference

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def afb_closed_form(sqrt_s, sin2_theta_w, mz=91.188, wz=2.441404):
    """Tree-level A_FB of e⁺e⁻ → μ⁺μ⁻ (massless, γ + fixed-width Z) from the helicity
    amplitudes A_ij = Q_e Q_μ/s + g_i g_j/(s − MZ² + i MZ ΓZ) (couplings in units of e,
    g_L = (T₃ − Q s²)/(s c), g_R = −Q s/c): A_FB = ¾ (S − D)/(S + D) with S the same-helicity
    and D the opposite-helicity squares."""
    s = sqrt_s**2
    sw, cw = math.sqrt(sin2_theta_w), math.sqrt(1 - sin2_theta_w)
    g = {"L": (-0.5 + sin2_theta_w) / (sw * cw), "R": sw / cw}  # muon: T₃ = −½, Q = −1
    z = 1 / (s - mz**2 + 1j * mz * wz)
    amp = {(i, j): 1 / s + g[i] * g[j] * z for i in "LR" for j in "LR"}
    same = abs(amp["L", "L"]) ** 2 + abs(amp["R", "R"]) ** 2
    opposite = abs(amp["L", "R"]) ** 2 + abs(amp["R", "L"]) ** 2
    return 0.75 * (same - opposite) / (same + opposite)


def test_ee_mumu_afb_example(tmp_path):
    example = load("ee_mumu_afb")
    out = tmp_path / "afb.png"
    result = example.main(["--points", "4", "--out", str(out)])
    assert out.stat().st_size > 10_000
    from diffsim.models import StandardModel

    sin2 = float(StandardModel().sin2_theta_w)
    expected = [afb_closed_form(e, sin2) for e in result["sqrt_s"]]
    assert_close(result["afb"], expected, rtol=1e-10)
    for e, gradient in zip(result["sqrt_s"], result["gradient"]):
        fd = central_difference(lambda x, e=e: afb_closed_form(e, float(x[0])), np.array([sin2]), eps=1e-6)
        assert_close(gradient, fd[0], rtol=1e-6, atol=1e-9)


def test_top_pairs_example(tmp_path):
    """σ(p p → t t̄) against the Gauss-quadrature value 575.79 pb of the closed-form σ̂ folded
    with NNPDF31_lo (benchmarks/results/hadronic_xsec.md), and the m_tt̄ histogram: it starts at
    the 2 m_t threshold and holds the cross section below 1.5 TeV."""
    example = load("top_pairs")
    out = tmp_path / "tt.png"
    result = example.main(["--adapt", "3", "--points", "20000", "--iterations", "2", "--out", str(out)])
    assert out.stat().st_size > 10_000
    assert_within_sigma(result["value"], result["error"], 575.79, what="σ(pp → tt̄)")
    assert result["error"] < 0.01 * result["value"]
    below_threshold = result["bins"][1:] <= 2 * 173.0
    assert not result["histogram"][below_threshold].any()
    assert 0.9 * result["value"] < result["histogram"].sum() < result["value"]


@pytest.mark.slow
def test_drell_yan_zprime_example(tmp_path):
    """σ(p p → e⁺e⁻, m_ℓℓ > 15 GeV, Z′ model) against 5008.88 pb, the Gauss–Legendre
    cubature of benchmarks/results/hadronic_xsec.md; the unweighted events read back with
    pylhe and show the Z′ peak."""
    import pylhe

    example = load("drell_yan_zprime")
    out = tmp_path / "dy.png"
    result = example.main(["--steps", "20", "--batch", "128", "--points", "40000", "--out", str(out)])
    assert out.stat().st_size > 10_000
    assert_within_sigma(result["value"], result["error"], 5008.88, what="σ(pp → ee)")
    assert 0 < result["efficiency"] <= 1
    assert pylhe.LHEFile.count_events(result["lhe"]) == result["n_events"]
    assert np.sum(np.abs(result["m_ll"] - 400.0) < 5.0) > 0.005 * result["n_events"]


@pytest.mark.slow  # about 2 minutes: a 200-event fit with its forward-mode Hessian, and a scan
def test_mem_zprime_fit_example(tmp_path):
    """MEM fit of (MZ′, κ) in p p → Z′ → e⁺e⁻ from 200 pseudo-data events: the generated truth
    (400 GeV, 1) lies within 5σ of the Hessian errors, the grid scan of −2ΔlnL has its
    minimum at the fit, and its ±1σ points lie at 1 within 15 % (measured with seed 0:
    0.91 and 1.01; beyond 1σ the likelihood is flatter than the parabola, 5.0 and 7.0 at
    ±3σ instead of 9)."""
    example = load("mem_zprime_fit")
    out = tmp_path / "mem.png"
    result = example.main(["--events", "200", "--grid", "7", "--out", str(out)])
    assert out.stat().st_size > 10_000
    assert result["converged"]
    for name, truth in (("mzp", 400.0), ("kappa", 1.0)):
        assert_within_sigma(result["theta"][name], result["errors"][name], truth, what=f"fitted {name}")
    delta = result["delta_nll2"]
    assert np.argmin(delta) == len(delta) // 2 and abs(delta[len(delta) // 2]) < 1e-6
    assert_close(delta[[2, 4]], [1.0, 1.0], rtol=0.15, what="−2ΔlnL at ±1σ of the Hessian error")
