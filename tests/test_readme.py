"""The README is true: its quickstart runs as written and agrees with closed forms, and every
`diffsim` command it shows is run (with a small event count) by the command-line tests."""

import math
import pathlib
import re

import numpy as np
import pytest
from tolerance import assert_within_sigma

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def sigma_hat_gg_ttbar(mt, sqrt_s=1000.0, alpha_s=0.118):
    """Closed-form σ̂(g g → t t̄) in pb (Combridge 1979; Ellis–Stirling–Webber eq. 10.12)."""
    s = sqrt_s**2
    rho = 4 * mt**2 / s
    beta = math.sqrt(1 - rho)
    bracket = (1 + rho + rho**2 / 16) * math.log((1 + beta) / (1 - beta)) - beta * (7 / 4 + 31 / 16 * rho)
    return math.pi * alpha_s**2 / (3 * s) * bracket * 0.3893794e9


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"## Quickstart\n\n```python\n(.*?)```", README.read_text(), re.S)[1]
    assert len(code.strip().splitlines()) <= 20
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert "σ̂ =" in capsys.readouterr().out
    w = np.asarray(namespace["w"])
    assert_within_sigma(float(namespace["sigma"]), w.std() / math.sqrt(len(w)), sigma_hat_gg_ttbar(173.0),
                        what="σ̂(gg → tt̄)")
    # The derivative against the closed form's, with the Monte Carlo error of the per-point derivatives.
    w_dot = np.asarray(namespace["w_dot"])
    exact = (sigma_hat_gg_ttbar(173.0 + 1e-3) - sigma_hat_gg_ttbar(173.0 - 1e-3)) / 2e-3
    assert_within_sigma(float(namespace["d_sigma_d_mt"]), w_dot.std() / math.sqrt(len(w_dot)), exact,
                        what="dσ̂/dm_t")


def readme_commands():
    """Every `diffsim …` command in the README: lines of its bash blocks and inline code."""
    text = README.read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    commands = [line.strip() for line in blocks.splitlines() if line.strip().startswith("diffsim ")]
    commands += re.findall(r"`(diffsim (?:processes|xsec|generate|plot)[^`]*)`", text)
    return commands


@pytest.mark.slow
def test_readme_commands_run(tmp_path, monkeypatch, capsys):
    """The README's shell commands, in its order, with the event count cut to 300 (the
    generation path is the same) and the sampler cache in a scratch folder. Slow: training
    the three Drell–Yan channels compiles for minutes (the default suite's CLI tests run
    the same paths on smaller processes)."""
    import shlex

    from diffsim.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIFFSIM_CACHE", str(tmp_path / "cache"))
    commands = readme_commands()
    assert {c.split()[1] for c in commands} >= {"generate", "plot", "processes", "xsec"}
    for command in commands:
        args = shlex.split(command)[1:]
        if "-n" in args:
            args[args.index("-n") + 1] = "300"
        assert main(args) in (0, None), command
    assert (tmp_path / "dy.lhe.gz").is_file() and (tmp_path / "mll.png").stat().st_size > 10_000
    assert '"unit": "pb"' in capsys.readouterr().out
