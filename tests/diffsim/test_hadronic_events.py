"""Hadronic events for LHE output: colour flows against real generator files, and
unweighted Drell–Yan events from the multi-channel sampler written to LHE and read back."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pylhe
import pytest
from tolerance import assert_close, assert_within_sigma

from diffsim import pdf as pdfs
from diffsim.events import LHEWriter, RunInfo, ProcessInfo, read_lhe
from diffsim.hadronic import FixedScale, HadronicChannels, HadronicIntegrand, colour_flow, hadronic_events
from diffsim.inference.generation import unweighted_events
from diffsim.inference.multichannel import multichannel_sampler
from diffsim.inference.nis import sample_weighted
from diffsim.inference.unweighting import bootstrap_max_weight
from diffsim.models import zprime


def _connectivity(pdg_ids, colour):
    """Colour lines as sets of (particle, slot) pairs: a flow up to the tags' names."""
    lines = {}
    for i, (c, a) in enumerate(colour):
        for slot, tag in ((0, c), (1, a)):
            if tag:
                lines.setdefault(int(tag), set()).add((i, slot))
    return sorted(tuple(sorted(v)) for v in lines.values())


@pytest.mark.parametrize(
    "name", ["pylhe-testfile-pythia-6.413-ttbar.lhe", "pylhe-testfile-pythia-8.3.14-weakbosons.lhe"]
)
def test_colour_flows_match_generator_files(shared_data, name):
    """The hard process of every event (the incoming partons and the particles whose
    mothers are both of them) of Pythia's u ū → t t̄ and q q̄′ → V V files has the colour
    connectivity :func:`colour_flow` gives for its flavours (events with gluons skipped)."""
    events, _ = read_lhe(shared_data / "lhe" / name)
    checked = 0
    for k in range(events.n_events):
        mothers = np.asarray(events.mothers[k])
        hard = np.asarray(events.mask[k]) & (
            (np.asarray(events.status[k]) == -1) | ((mothers[:, 0] == 1) & (mothers[:, 1] == 2))
        )
        ids = tuple(int(p) for p in np.asarray(events.pdg_id[k])[hard])
        if 21 in ids:  # g g → t t̄ has two flows (test_colour_flow_errors_for_several_flows)
            continue
        ours = colour_flow(ids)
        assert _connectivity(ids, ours) == _connectivity(ids, np.asarray(events.colour[k])[hard]), ids
        checked += 1
    assert checked >= 10


def test_colour_flow_errors_for_several_flows():
    with pytest.raises(ValueError, match="not unique"):
        colour_flow((21, 21, 6, -6))
    assert not colour_flow((11, -11, 13, -13)).any()


def test_unweighted_drell_yan_events_round_trip_through_lhe(tmp_path):
    integrand = HadronicIntegrand(zprime.hadronic_process("p p > e+ e-"), pdfs.load(), 13000.0,
                                  mu_f=FixedScale(91.188), s_hat_min=60.0**2, s_hat_max=500.0**2)
    channels = HadronicChannels(integrand, (integrand.s_hat_map,))  # one channel keeps compilation short
    sampler = multichannel_sampler(jax.random.key(0), 1, channels.dim, 4, n_layers=2, n_bins=4, hidden=8, depth=1)
    sample = sample_weighted(jax.random.key(1), sampler, channels, 6000)
    w_max = bootstrap_max_weight(jax.random.key(2), sample.global_weights())
    to_events = functools.partial(hadronic_events, channels=channels)
    events, overweights = unweighted_events(jax.random.key(3), sample, w_max,
                                            lambda k, c, r, w: to_events(k, c=c, r=r, weight=w))
    result = sample.result()
    # The unweighted events' weights sum to an unbiased estimate of σ.
    assert_within_sigma(float(jnp.sum(events.weight)), 3 * float(result.error) + 1e-9, float(result.value),
                        what="Σ event weights")
    assert 0 < events.n_events < 6000 and overweights < events.n_events
    momenta = np.asarray(events.momenta)
    assert_close(momenta[:, :2].sum(1), momenta[:, 2:].sum(1), atol=1e-8 * 13000, what="momentum conservation")
    ids = np.asarray(events.pdg_id)
    assert set(ids[:, 2]) == {-11} and set(ids[:, 3]) == {11}
    assert np.all(ids[:, 0] == -ids[:, 1]) and set(np.abs(ids[:, 0])) <= {1, 2, 3, 4, 5}
    assert {1, 2} <= set(np.abs(ids[:, 0])), "u and d quarks both appear"
    info = RunInfo(beam_ids=(2212, 2212), beam_energies=(6500.0, 6500.0), pdf_groups=(0, 0), pdf_sets=(0, 0),
                   weighting_strategy=3, processes=(ProcessInfo(1, float(result.value), float(result.error), 1.0),))
    path = tmp_path / "dy.lhe"
    with LHEWriter(path, info) as writer:
        writer.write(events)
    read = list(pylhe.LHEFile.fromfile(path).events)
    assert len(read) == events.n_events
    first = read[0].particles
    assert_close([p.px for p in first], momenta[0, :, 1], rtol=1e-15)
    assert [int(p.color1) for p in first][:2] in ([501, 0], [0, 501])
