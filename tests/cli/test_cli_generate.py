"""``diffsim generate``: streamed, cached, resumable, byte-identical after an interruption.

e⁺e⁻ → μ⁺μ⁻ at the Z pole (cheap to compile) with chunks of 2000 weighted points (``--batch-size``), so a run
of 2500 events spans several chunks. An interrupted run (the ``DIFFSIM_STOP_AFTER_CHUNKS``
hook raises ``KeyboardInterrupt`` after a chunk, as Ctrl-C would) leaves ``<name>.part``;
rerun with the same arguments it resumes, and the finished file equals the uninterrupted
one byte for byte, plain and gzip. The console script itself is run once in a subprocess.
"""

import gzip
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pylhe
import pytest
from tolerance import assert_close, assert_within_sigma

from diffsim.cli import main
from diffsim.cli.card import load_card
from diffsim.cli.errors import EXIT_INTERRUPTED
from diffsim.cli.generate import STOP_AFTER_CHUNKS
from diffsim.events import read_lhe

REFERENCE_PB = 2.099266e03  # e+e- -> mu+mu- at 91.188 GeV, shared/data/xsec/analytic_numbers.txt
ARGS = ["generate", "e+ e- > mu+ mu-", "--sqrt-s", "91.188", "-n", "2500", "--batch-size", "2000",
        "--train-iterations", "3", "--pilot-points", "10000", "--quiet"]


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    """Uninterrupted runs, plain and gzip (sharing one trained sampler through the cache).

    The run card in the header records the output path, so reruns write to the same paths."""
    folder = tmp_path_factory.mktemp("runs")

    files = {}
    for suffix in ("lhe", "lhe.gz"):
        path = folder / f"mumu.{suffix}"
        assert main([*ARGS, "-o", str(path)]) == 0
        files[suffix] = (path, path.read_bytes())
    return files


def test_events_are_physical_and_carry_their_card(reference_files):
    events, run_info = read_lhe(reference_files["lhe"][0])
    assert events.n_events == 2500
    ids = np.asarray(events.pdg_id)
    assert (ids == [-11, 11, -13, 13]).all()
    momenta = np.asarray(events.momenta)
    assert_close(momenta[:, :2].sum(1), momenta[:, 2:].sum(1), atol=1e-9, what="momentum conservation")
    assert_close(momenta[:, 2:, 0], 91.188 / 2, rtol=1e-12, what="muon energies")
    # σ of the <init> block (pilot sample) against the closed form; events carry σ/N each.
    process = run_info.processes[0]
    assert_within_sigma(process.cross_section, process.error, REFERENCE_PB, what="σ in <init>")
    weights = np.asarray(events.weight)
    assert np.all(weights >= process.cross_section / 2500 * (1 - 1e-12))
    # Forward-backward asymmetry at the Z pole is small: A_FB = 3/4 A_e A_mu ≈ 0.016 (±0.03 at 5σ here).
    cos_theta = momenta[:, 3, 3] / np.linalg.norm(momenta[:, 3, 1:], axis=1)
    a_fb = np.mean(np.sign(cos_theta))
    assert abs(a_fb - 0.016) < 5 / math.sqrt(2500)
    card = load_card(str(reference_files["lhe"][0]))
    assert card.process == "e+ e- > mu+ mu-" and card.sqrt_s == 91.188 and card.n_events == 2500
    assert len(next(iter(pylhe.LHEFile.fromfile(str(reference_files["lhe.gz"][0])).events)).particles) == 4


@pytest.mark.parametrize("suffix", ["lhe", "lhe.gz"])
def test_interrupted_run_resumes_to_identical_file(run_cli, reference_files, monkeypatch, suffix):
    output, expected = reference_files[suffix]
    output.unlink()
    part = output.with_name(output.name + ".part")
    monkeypatch.setenv(STOP_AFTER_CHUNKS, "1")
    status, _, err = run_cli(*ARGS, "-o", output)
    assert status == EXIT_INTERRUPTED and "resume" in err
    assert not output.exists() and part.exists()
    monkeypatch.delenv(STOP_AFTER_CHUNKS)
    status, out, _ = run_cli(*ARGS, "-o", output)
    assert status == 0 and "(resumed)" in out
    assert output.read_bytes() == expected
    assert not part.exists()
    if suffix == "lhe.gz":
        with gzip.open(output) as handle:
            assert handle.read().count(b"<event>") == 2500


def test_console_script_killed_and_rerun(reference_files):
    """The installed ``diffsim`` script (``pip install -e .`` puts it beside the Python
    interpreter): interrupted after two chunks it exits with 130, and rerun it completes
    the same file."""
    output, expected = reference_files["lhe"]
    output.unlink()
    script = pathlib.Path(sys.executable).parent / "diffsim"
    assert script.is_file(), f"console script {script} missing: run `pip install -e .`"
    command = [str(script), *ARGS, "-o", str(output)]
    environment = {**os.environ, STOP_AFTER_CHUNKS: "2"}
    first = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == EXIT_INTERRUPTED, first.stderr
    assert "Traceback" not in first.stderr and not output.exists()
    environment.pop(STOP_AFTER_CHUNKS)
    second = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr
    assert output.read_bytes() == expected
