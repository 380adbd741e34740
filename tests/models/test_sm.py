"""The sm and Z′ parameter sets: MadGraph's derived values, gradients, process lookup."""

import jax
import numpy as np
import pytest
from tolerance import assert_close, central_difference

from diffsim.models import StandardModel, ZPrimeModel, sm, zprime
from diffsim.models.registry import parse


def test_derived_parameters_equal_madgraph_param_card():
    # shared/data/me/param_card_sm.dat and the data README: MW = 80.419002, sin²θ_W = 0.222246.
    params = StandardModel()
    assert_close(params.mw, 80.419002, rtol=1e-8)
    assert_close(params.sin2_theta_w, 0.222246, atol=5e-7)


def test_derived_parameters_follow_the_inputs_under_grad():
    def mw_of(inputs):
        mz, gf = inputs
        return StandardModel(mz=mz, gf=gf * 1e-5).mw

    point = np.array([91.188, 1.16639])
    gradient = jax.grad(mw_of)(jax.numpy.asarray(point))
    assert_close(gradient, central_difference(mw_of, point, eps=1e-7), rtol=1e-6)
    assert np.all(np.abs(gradient) > 0)


def test_sin2_theta_w_as_an_input_through_gf():
    """``with_sin2_theta_w`` inverts the scheme: the MadGraph default G_F comes back from the
    default sin²θ_W, and d(MW)/d(sin²θ_W) is the exact −MZ²/(2 MW) at fixed MZ."""
    params = StandardModel()
    assert_close(params.with_sin2_theta_w(params.sin2_theta_w).gf, params.gf, rtol=1e-12)
    assert_close(params.with_sin2_theta_w(0.231).sin2_theta_w, 0.231, rtol=1e-12)
    gradient = jax.grad(lambda s2w: params.with_sin2_theta_w(s2w).mw)(0.231)
    mw = params.with_sin2_theta_w(0.231).mw
    assert_close(gradient, -(params.mz**2) / (2 * mw), rtol=1e-10)


def test_zprime_defaults_are_the_madnis_toy():
    params = ZPrimeModel()
    assert (params.mzp, params.wzp) == (400.0, 0.5)
    fermion = zprime.process("u u~ > e+ e-").externals[0].particle
    assert_close(np.array(params.zprime_coupling(fermion)), np.array(params.sm.z_coupling(fermion)), rtol=1e-15)


def test_unknown_process_lists_available_and_close_matches():
    with pytest.raises(ValueError, match=r"Did you mean 'g g > t t~'.*Available: 'e\+ e- > mu\+ mu-'"):
        sm.process("g g > t t")
    with pytest.raises(ValueError, match="unknown particle 'q'"):
        parse("q q~ > t t~")
    assert sm.process("g  g>t   t~").name == "g g > t t~"


def test_process_bookkeeping():
    gg_ttxg = sm.process("g g > t t~ g")
    assert gg_ttxg.n_diagrams == 16
    assert gg_ttxg.pdg_ids == (21, 21, 6, -6, 21)
    assert sm.process("g g > t t~").n_diagrams == 3
    assert zprime.process("d d~ > e+ e-").n_diagrams == 3
    assert_close(sm.process("e+ e- > t t~").masses(), [0, 0, 173.0, 173.0], rtol=0)
    ee = sm.process("e+ e- > mu+ mu-")
    assert [c.particle.name for d in ee.diagrams for c in d.s_channels] == ["a", "z"]
