"""Our LHE files in the tools physicists run: pylhe reads them, Pythia 8 showers them.

``diffsim generate "p p > e+ e-" --model zprime`` (one channel and a small VEGAS budget to
keep compilation short) writes 300 events; pylhe reads all of them; Pythia 8
(``pythia8mc``, ``Beams:frameType = 4``) takes every event, reports no error or warning
but the end-of-file notice every LHE input ends with, and the leptons of its hard-process record carry the momenta of the file to 1e-6.
Showers, MPI and hadronisation are off: what is tested is the file, not Pythia's physics.
"""

import re

import numpy as np
import pylhe
import pytest
import pythia8mc as pythia8
from tolerance import assert_close

from diffsim.cli import main

N_EVENTS = 300
END_OF_FILE = "Abort from Pythia::next: reached end of Les Houches Events File"
"""The one message Pythia gives for any LHE file: how it learns that the events are over."""
SETTINGS = ("Beams:frameType = 4", "PartonLevel:ISR = off", "PartonLevel:FSR = off", "PartonLevel:MPI = off",
            "HadronLevel:all = off", "Check:event = on", "Next:numberCount = 0",
            # Keep the file's (massless, as in the sm model) leptons: by default Pythia puts them
            # on its own mass shell, moving their momenta by ~m_e²/E.
            "LesHouches:setLeptonMass = 0")


@pytest.fixture(scope="module")
def drell_yan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dy") / "dy.lhe"
    status = main(["generate", "p p > e+ e-", "--model", "zprime", "-n", str(N_EVENTS), "-o", str(path),
                   "--single-channel", "--train-iterations", "3", "--batch-size", "4000", "--pilot-points", "8000",
                   "--quiet"])
    assert status == 0
    return path


def test_pylhe_reads_every_event(drell_yan_file):
    lhe = pylhe.LHEFile.fromfile(str(drell_yan_file))
    info = lhe.init.initInfo
    assert (info.beamA, info.beamB, info.energyA, info.PDFsetA, info.weightingStrategy) == (2212, 2212, 6500.0,
                                                                                         315000, 3)
    events = list(lhe.events)
    assert len(events) == N_EVENTS
    assert all([int(p.id) for p in e.particles][2:] == [-11, 11] for e in events)


def test_pythia_showers_without_complaints(drell_yan_file, capfd):
    pythia = pythia8.Pythia("", False)
    for setting in (*SETTINGS, f"Beams:LHEF = {drell_yan_file}"):
        assert pythia.readString(setting)
    assert pythia.init()
    leptons = []
    while pythia.next():
        leptons.append([[p.px(), p.py(), p.pz(), p.e()] for p in pythia.process if p.idAbs() == 11])
    info = pythia.infoPython()
    assert info.atEndOfFile()
    pythia.stat()
    output = capfd.readouterr().out
    assert len(leptons) == N_EVENTS == info.nAccepted()
    statistics = output[output.index("Error and Warning Messages Statistics"):output.index("End PYTHIA Error")]
    messages = {m.group(2) for m in re.finditer(r"\|\s+(\d+)\s+(\S.*?)\s*\|", statistics)} - {"times   message"}
    assert messages <= {END_OF_FILE}, messages
    before = output[:output.index("Error and Warning Messages Statistics")]
    assert "PYTHIA Error" not in before and "PYTHIA Warning" not in before, before[-3000:]
    expected = [[[p.px, p.py, p.pz, p.e] for p in e.particles if abs(int(p.id)) == 11]
                for e in pylhe.LHEFile.fromfile(str(drell_yan_file)).events]
    # Every component relative to the lepton's energy (soft leptons have tiny components).
    leptons, expected = np.array(leptons), np.array(expected)
    assert_close(leptons / expected[..., 3:], expected / expected[..., 3:], atol=1e-6, what="lepton momenta / E")
