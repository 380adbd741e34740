"""``diffsim xsec`` against the closed forms of shared/data/xsec/analytic_numbers.txt.

Each run asks for relative precision 3e-3 with a small VEGAS budget; the result must lie
within 5σ of the closed form and its error must meet the precision. The card written by
``--save-card`` reruns the same computation (from the sampler cache: same numbers).
"""

import json
import re

import pytest
from tolerance import assert_within_sigma

PRECISION = 3e-3
BUDGET = ["--train-iterations", "3", "--batch-size", "2000", "--pilot-points", "4000", "--quiet"]


def _reference(shared_data, pattern: str) -> float:
    text = (shared_data / "xsec" / "analytic_numbers.txt").read_text()
    return float(re.search(pattern, text).group(1))


CASES = [
    ("e+ e- > mu+ mu-", 91.188, r"sqrt\(s\)=  91\.188.*gamma\+Z ([0-9.e+-]+) pb"),
    ("e+ e- > mu+ mu-", 200.0, r"sqrt\(s\)= 200\.000.*gamma\+Z ([0-9.e+-]+) pb"),
    ("e+ e- > t t~", 500.0, r"t t~ \(mt=173, Nc=3\) sqrt\(s\)=   500  sigma = ([0-9.e+-]+) pb"),
]


@pytest.mark.parametrize("process, sqrt_s, pattern", CASES, ids=[f"{c[0]} {c[1]:g}" for c in CASES])
def test_xsec_matches_closed_form(run_cli, shared_data, process, sqrt_s, pattern):
    status, out, _ = run_cli("xsec", process, "--sqrt-s", sqrt_s, "--precision", PRECISION, "--json", *BUDGET)
    assert status == 0
    result = json.loads(out)  # exactly one JSON object on stdout
    assert result["unit"] == "pb" and result["process"] == process and result["sqrt_s"] == sqrt_s
    assert result["error"] <= PRECISION * result["value"]
    assert_within_sigma(result["value"], result["error"], _reference(shared_data, pattern), what=process)


def test_card_reruns_the_same_computation(run_cli, tmp_path):
    card = tmp_path / "run.toml"
    args = ["e+ e- > mu+ mu-", "--sqrt-s", 200, "--precision", PRECISION, "--param", "mz=91.188", *BUDGET]
    status, out, _ = run_cli("xsec", *args, "--json", "--save-card", card)
    assert status == 0
    first = json.loads(out)
    assert 'process = "e+ e- > mu+ mu-"' in card.read_text() and "mz = 91.188" in card.read_text()
    status, out, _ = run_cli("xsec", "--card", card, "--json", "--quiet")
    assert status == 0
    again = json.loads(out)
    assert again["cached"] and (again["value"], again["error"]) == (first["value"], first["error"])
    status, out, _ = run_cli("xsec", "--card", card, "--quiet")
    assert status == 0 and out.startswith("σ(e+ e- > mu+ mu-, √s = 200 GeV) = ") and " pb" in out


def test_max_calls_guard_reports_failure(run_cli):
    status, out, err = run_cli("xsec", "e+ e- > mu+ mu-", "--sqrt-s", 200, "--precision", 1e-6,
                               "--max-calls", 6000, *BUDGET)
    assert status == 2 and out == ""
    assert "not the requested 1e-06" in err and "--max-calls" in err


@pytest.mark.slow
@pytest.mark.parametrize("integrator", ["nis", "madnis"])
def test_flow_integrators_match_closed_form(run_cli, shared_data, integrator):
    """The flow samplers (VEGAS-initialised, a few training steps) on e⁺e⁻ → μ⁺μ⁻ at 200 GeV
    (one channel, so ``madnis`` trains one flow without channel weights)."""
    status, out, _ = run_cli("xsec", "e+ e- > mu+ mu-", "--sqrt-s", 200, "--precision", PRECISION, "--json",
                             "--integrator", integrator, "--train-steps", 8, "--train-batch", 256, *BUDGET)
    assert status == 0
    result = json.loads(out)
    assert result["integrator"] == integrator and result["error"] <= PRECISION * result["value"]
    assert_within_sigma(result["value"], result["error"], _reference(shared_data, CASES[1][2]), what=integrator)
