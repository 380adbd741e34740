"""|M|² of the sm processes against MadGraph's own numbers (madgraph4gpu CUDACPP dumps).

512 phase-space points per process at √s = 1500 GeV (shared/data/me). The top momenta in
those files are massless while the HELAS routines use MT = 173 (see the data README), so
this is an exact regression test of the HELAS conventions rather than on-shell physics.
MadGraph's own double-precision tolerance is 1e-6; we require 1e-10 relative.
"""

import re

import equinox as eqx
import numpy as np
import pytest
from tolerance import assert_close

from diffsim.models import sm

DUMPS = {
    "e+ e- > mu+ mu-": "dump_CPUTest.Sigma_sm_epem_mupmum.txt",
    "u u~ > d d~": "dump_CPUTest.Sigma_sm_uux_ddx.txt",
    "u u~ > t t~": "dump_CPUTest.Sigma_sm_uux_ttx.txt",
    "g g > t t~": "dump_CPUTest.Sigma_sm_gg_ttx.txt",
    "g g > t t~ g": "dump_CPUTest.Sigma_sm_gg_ttxg.txt",
}


def read_dump(path):
    """(momenta (n_events, n_particles, 4), |M|² (n_events,)) from a CUDACPP dump."""
    events, values, current = [], [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "Event":
            current = []
            events.append(current)
        elif fields[0] == "ME":
            values.append(float(fields[1]))
        elif re.fullmatch(r"\d+", fields[0]) and len(fields) == 5:
            current.append([float(x) for x in fields[1:]])
    return np.array(events), np.array(values)


@pytest.mark.parametrize("name", DUMPS)
def test_matrix_elements_equal_madgraph(name, shared_data):
    momenta, expected = read_dump(shared_data / "me" / DUMPS[name])
    assert momenta.shape[0] == expected.shape[0] == 512
    process = sm.process(name)
    ours = eqx.filter_jit(process.matrix_element)(momenta)
    assert_close(ours, expected, rtol=1e-10, what=name)
