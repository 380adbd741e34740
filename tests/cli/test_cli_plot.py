"""``diffsim plot`` on real generator files (Pythia 8 weak bosons, MadGraph W b j): the
histogram holds the summed event weights of the selection, computed independently with
pylhe; the image is a PNG."""

import numpy as np
import pylhe
import pytest
from tolerance import assert_close

from diffsim.cli.errors import EXIT_USER_ERROR
from diffsim.cli.plot import fill_histogram

PYTHIA = "pylhe-testfile-pythia-8.3.14-weakbosons.lhe"


def _pylhe_selection(path, ids):
    """Per event: (weight, invariant mass ``sign(m²)√|m²|`` of the outgoing particles with
    |id| in ids) via pylhe (a single massless-ish lepton can round to m² < 0)."""
    rows = []
    for event in pylhe.LHEFile.fromfile(str(path)).events:
        chosen = [p for p in event.particles if int(p.status) == 1 and abs(int(p.id)) in ids]
        if chosen:
            e, px, py, pz = (sum(getattr(p, k) for p in chosen) for k in ("e", "px", "py", "pz"))
            m2 = e**2 - px**2 - py**2 - pz**2
            rows.append((event.eventinfo.weight, np.sign(m2) * np.sqrt(abs(m2))))
    return np.array(rows)


def test_mll_histogram_matches_pylhe(shared_data):
    path = shared_data / "lhe" / PYTHIA
    expected = _pylhe_selection(path, {11, 13})
    assert len(expected) > 10
    histogram = fill_histogram(path, "mll", particles="11,-11,13,-13", bins=20, value_range=(0.0, 200.0))
    inside = (expected[:, 1] >= 0) & (expected[:, 1] < 200)
    assert_close(histogram.sum(flow=True).value, expected[:, 0].sum(), rtol=1e-12, what="Σ weights")
    counts, _ = np.histogram(expected[inside, 1], bins=20, range=(0, 200), weights=expected[inside, 0])
    assert_close(histogram.values(), counts, rtol=1e-9, atol=1e-12 * abs(counts).max(), what="bin contents")


@pytest.mark.parametrize("observable", ["pt", "eta", "y", "phi", "e"])
def test_per_particle_observables_fill_one_entry_per_particle(shared_data, observable):
    path = shared_data / "lhe" / "pylhe-testfile-madgraph-2.0.0-wbj.lhe"
    events = list(pylhe.LHEFile.fromfile(str(path)).events)
    expected = sum(e.eventinfo.weight * sum(int(p.status) == 1 for p in e.particles) for e in events)
    histogram = fill_histogram(path, observable, bins=10)
    assert_close(histogram.sum(flow=True).value, expected, rtol=1e-12, what=observable)
    assert histogram.sum(flow=False).value == histogram.sum(flow=True).value, "auto range holds every entry"


def test_plot_command_writes_png(run_cli, shared_data, tmp_path):
    out = tmp_path / "mll.png"
    status, stdout, _ = run_cli("plot", shared_data / "lhe" / PYTHIA, "--observable", "mll", "--particles", "e-,e+",
                                "--out", out, "--log")
    assert status == 0 and "wrote" in stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, err = run_cli("plot", shared_data / "lhe" / PYTHIA, "--observable", "mlll", "--out", out)
    assert status == EXIT_USER_ERROR and "'mll'" in err
    status, _, err = run_cli("plot", shared_data / "lhe" / PYTHIA, "--observable", "pt", "--particles", "zz",
                             "--out", out)
    assert status == EXIT_USER_ERROR and "unknown particle 'zz'" in err
