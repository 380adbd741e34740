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
from diffsim.events import LHEWriter, ProcessInfo, RunInfo, read_lhe
from diffsim.hadronic import (
    FixedScale,
    HadronicChannels,
    HadronicIntegrand,
    hadronic_events,
    sample_colour_flows,
)
from diffsim.inference.generation import unweighted_events
from diffsim.inference.multichannel import multichannel_sampler
from diffsim.inference.nis import sample_weighted
from diffsim.inference.unweighting import bootstrap_max_weight
from diffsim.models import StandardModel, sm, zprime
from diffsim.models.colour_flows import leading_colour_tags
from diffsim.phasespace import RamboOnDiet


def _connectivity(pdg_ids, colour):
    """Colour lines as sets of (particle, slot) pairs: a flow up to the tags' names."""
    lines = {}
    for i, (c, a) in enumerate(colour):
        for slot, tag in ((0, c), (1, a)):
            if tag:
                lines.setdefault(int(tag), set()).add((i, slot))
    return sorted(tuple(sorted(v)) for v in lines.values())


def _our_flows(ids):
    """The colour flows our processes give to the hard process ``ids`` (incoming first, the
    file's order): q q̄′ → colourless from the colour tensor δ_ij; q q̄ → t t̄ and g g → t t̄
    from the sm processes, rows put in the file's order (light-quark flavour is irrelevant)."""
    if all(abs(p) > 6 and p != 21 for p in ids[2:]):
        return [leading_colour_tags(np.eye(3), ids)]
    process = sm.process("g g > t t~" if ids[:2] == (21, 21) else "u u~ > t t~")

    def kind(pid):
        return pid if pid in (21, 6, -6) else int(np.sign(pid))

    ours = [kind(p) for p in process.pdg_ids]
    order, used = [], set()
    for leg, pid in enumerate(ids):
        match = next(i for i, q in enumerate(ours) if q == kind(pid) and i not in used and (i < 2) == (leg < 2))
        used.add(match)
        order.append(match)
    return [np.array(tags)[order] for tags in process.colour_tags]


@pytest.mark.parametrize(
    "name", ["pylhe-testfile-pythia-6.413-ttbar.lhe", "pylhe-testfile-pythia-8.3.14-weakbosons.lhe"]
)
def test_colour_flows_match_generator_files(shared_data, name):
    """The hard process of every event (the incoming partons and the particles whose
    mothers are both of them) of Pythia's q q̄ / g g → t t̄ and q q̄′ → V V files has the colour
    connectivity of one of our flows for its flavours (the unique one without gluons)."""
    events, _ = read_lhe(shared_data / "lhe" / name)
    checked, gluons = 0, 0
    for k in range(events.n_events):
        mothers = np.asarray(events.mothers[k])
        hard = np.asarray(events.mask[k]) & (
            (np.asarray(events.status[k]) == -1) | ((mothers[:, 0] == 1) & (mothers[:, 1] == 2))
        )
        ids = tuple(int(p) for p in np.asarray(events.pdg_id[k])[hard])
        theirs = _connectivity(ids, np.asarray(events.colour[k])[hard])
        assert theirs in [_connectivity(ids, ours) for ours in _our_flows(ids)], ids
        checked += 1
        gluons += 21 in ids
    assert checked >= 10
    if "ttbar" in name:
        assert gluons >= 1, "the tt̄ file has g g → t t̄ events"


def _gg_ttbar_momenta(r, mt):
    """g g → t t̄ momenta (N, 4, 4) at √ŝ = 1 TeV from RAMBO on diet."""
    final, _ = RamboOnDiet(masses=[mt, mt]).forward(r, jnp.array([1000.0, 0, 0, 0]))
    beams = jnp.broadcast_to(jnp.array([[500.0, 0, 0, 500.0], [500.0, 0, 0, -500.0]]), (len(r), 2, 4))
    return jnp.concatenate([beams, final], axis=1)


def test_gg_ttbar_flow_weights_are_the_colour_ordered_squares():
    """The two leading-colour weights of g g → t t̄ are the colour-ordered squares
    Σ_hel |A(1,2)|² and Σ_hel |A(2,1)|². For massless quarks the MHV amplitudes give
    Σ_hel |A(1,2,3,4)|² ∝ t′(t′² + u′²)/(s² u′) with t′ = 2 p₁·p₃, u′ = 2 p₂·p₃, so the ratio is
    (t′/u′)^±2; checked with m_t = 10⁻³ GeV at √ŝ = 1 TeV (mass effects ~10⁻¹²), and the flows
    add up to |M|² up to the 1/N_c² suppressed interference."""
    process = sm.process("g g > t t~")
    params = StandardModel(mt=1e-3)
    p = _gg_ttbar_momenta(jax.random.uniform(jax.random.key(3), (6, 2)), 1e-3)
    w = np.asarray(process.colour_flow_squares(p, params))

    def dot(a, b):
        return a[..., 0] * b[..., 0] - jnp.sum(a[..., 1:] * b[..., 1:], axis=-1)

    ratio = np.asarray(dot(p[:, 0], p[:, 2]) / dot(p[:, 1], p[:, 2])) ** 2
    # The flow joining t to gluon 1 dominates where t′ = 2 p₁·p₃ → 0 (the t-channel pole).
    first = _connectivity((21, 21, 6, -6), np.array(process.colour_tags[0]))
    t_to_gluon_1 = ((0, 0), (2, 0)) in first
    assert_close(w[:, 0] / w[:, 1], ratio if not t_to_gluon_1 else 1 / ratio, rtol=1e-9)
    total = np.asarray(process.matrix_element(p, params))
    assert np.all(np.abs(w.sum(1) / total - 1) < 1 / 3)


def test_sampled_colour_flows_follow_the_weights():
    """Per-event flow choice: the fraction of events given flow 0 at one phase-space point is
    its weight share, within 5σ (binomial)."""
    process = sm.process("g g > t t~")
    p = jnp.broadcast_to(_gg_ttbar_momenta(jnp.array([[0.3, 0.6]]), 173.0), (20000, 4, 4))
    w = np.asarray(process.colour_flow_squares(p[:1]))[0]
    tags = np.asarray(sample_colour_flows(jax.random.key(0), process, p))
    share = np.mean(np.all(tags == np.array(process.colour_tags[0]), axis=(1, 2)))
    expected = w[0] / w.sum()
    assert_within_sigma(share, np.sqrt(expected * (1 - expected) / len(tags)), expected, what="flow share")


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


def test_top_pair_events_carry_a_flow_of_their_subprocess():
    """p p → t t̄ events (g g and q q̄ channels): every event's colour tags are one of the
    flows of its own subprocess (rows in beam order), and both g g flows occur."""
    integrand = HadronicIntegrand(sm.hadronic_process("p p > t t~"), pdfs.load(), 13000.0,
                                  mu_f=FixedScale(173.0), alpha_s="model")
    channels = HadronicChannels(integrand, (integrand.s_hat_map,))
    r = jax.random.uniform(jax.random.key(4), (400, channels.dim))
    events = hadronic_events(jax.random.key(5), channels, 0, r, jnp.ones(400))
    ids, colour = np.asarray(events.pdg_id), np.asarray(events.colour)
    seen = set()
    for k in range(events.n_events):
        flows = [_connectivity(tuple(ids[k]), f) for f in _our_flows(tuple(int(p) for p in ids[k]))]
        line = _connectivity(tuple(ids[k]), colour[k])
        assert line in flows, (ids[k], colour[k])
        if ids[k][0] == 21:
            seen.add(flows.index(line))
    assert seen == {0, 1}
