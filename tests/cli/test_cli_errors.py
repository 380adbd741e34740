"""User errors: one line on stderr, exit status 2, no traceback; and ``diffsim processes``."""

import json

import pytest

from diffsim.cli.errors import EXIT_USER_ERROR

CASES = [
    (["xsec", "e+ e- > mu+ mu", "--sqrt-s", 91.188], ["unknown process", "'e+ e- > mu+ mu-'"]),
    (["xsec", "p p > e+ e-", "--model", "zprim"], ["unknown model", "'zprime'"]),
    (["xsec", "p p > t t~", "--model", "zprime"], ["unknown process", "model 'sm'"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 500, "--param", "mtt=170"], ["unknown parameter 'mtt'", "'mt'"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 500, "--param", "mt=-173"], ["mt is a mass", ">= 0"]),
    (["xsec", "p p > e+ e-", "--model", "zprime", "--param", "wzp=-1"], ["wzp is a width"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 300], ["below the threshold 346 GeV"]),
    (["xsec", "p p > t t~", "--sqrt-s", 300], ["below the threshold 346 GeV"]),
    (["xsec", "p p > e+ e-", "--pdf", "CT18NNLO"], ["PDF set 'CT18NNLO'", "lhapdf install", "LHAPDF_DATA_PATH"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 500, "--param", "mt"], ["bad --param 'mt'", "NAME=VALUE"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 500, "--param", "mt=heavy"], ["bad --param"]),
    (["xsec", "e+ e- > t t~"], ["--sqrt-s"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", "fast"], ["invalid float value"]),
    (["xsec", "e+ e- > t t~", "--sqrt-s", 500, "--integrator", "vega"], ["unknown integrator", "'vegas'"]),
    (["xsec", "p p > e+ e-", "--cut", "mll>>15"], ["bad cut"]),
    (["xsec", "p p > e+ e-", "--cut", "ptt>15"], ["unknown cut observable", "'pt'"]),
    (["xsec", "p p > e+ e-", "--model", "zprime", "--cut", "pt>20"], ["massless final state", "mll>15"]),
    (["generate", "e+ e- > mu+ mu-", "--sqrt-s", 91.188, "-n", 10, "-o", "out.txt"], [".lhe or .lhe.gz"]),
    (["generate", "e+ e- > mu+ mu-", "--sqrt-s", 91.188, "-n", 10], ["-o FILE.lhe"]),
    (["xsec", "--card", "missing.toml"], ["run card 'missing.toml' not found"]),
    (["plot", "missing.lhe", "--observable", "mll", "--out", "x.png"], ["no such file"]),
    (["frobnicate"], ["invalid choice"]),
    ([], ["choose a command"]),
]


@pytest.mark.parametrize("args, fragments", CASES, ids=[" ".join(map(str, c[0]))[:60] for c in CASES])
def test_user_errors_are_one_line(run_cli, args, fragments):
    status, out, err = run_cli(*args)
    assert status == EXIT_USER_ERROR
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diffsim: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_bad_card_settings(run_cli, tmp_path):
    card = tmp_path / "bad.toml"
    card.write_text('process = "e+ e- > mu+ mu-"\nsqrt_ss = 91.188\n')
    status, _, err = run_cli("xsec", "--card", card)
    assert status == EXIT_USER_ERROR and "unknown setting 'sqrt_ss'" in err and "'sqrt_s'" in err
    card.write_text('process = "e+ e- > mu+ mu-"\nsqrt_s = "high"\n')
    status, _, err = run_cli("xsec", "--card", card)
    assert status == EXIT_USER_ERROR and "'sqrt_s' must be of type float" in err


def test_processes_lists_models_processes_and_parameters(run_cli):
    status, out, _ = run_cli("processes")
    assert status == 0
    for text in ("model sm", "model zprime", "e+ e- > mu+ mu-", "g g > t t~", "p p > t t~", "p p > e+ e-",
                 "mt=173", "mzp=400", "wzp=0.5"):
        assert text in out, text
    status, out, _ = run_cli("processes", "--json")
    listing = json.loads(out)
    assert listing["sm"]["parameters"]["mz"] == 91.188
    assert "p p > t t~" in listing["sm"]["hadronic"] and "p p > t t~" not in listing["zprime"]["hadronic"]
    assert listing["zprime"]["hadronic"] == ["p p > e+ e-", "p p~ > e+ e-"]
