"""On-shell physics of the sm and Z′ processes against closed forms.

Differential cross sections point by point against textbook formulas (PDG "Cross-section
formulae"; Combridge, Nucl. Phys. B151 (1979) 429; Ellis–Stirling–Webber ch. 9–10) and
total cross sections, integrated over the angle by Gauss–Legendre quadrature, against
shared/data/xsec/analytic_numbers.txt (printed to 7 significant digits).
"""

import math
import re

import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close

from diffsim.models import StandardModel, ZPrimeModel, sm, zprime
from diffsim.models.particles import lookup

GEV2_TO_PB = 0.3893794e9
PARAMS = StandardModel()
MZ, WZ, MT = 91.188, 2.441404, 173.0
ALPHA = 1 / 132.507
GF = 1.16639e-5
# MW from (α, G_F, MZ) as in param_card_sm.dat's comment (the printed 80.419002 is rounded).
MW = math.sqrt(MZ**2 / 2 + math.sqrt(MZ**4 / 4 - ALPHA * math.pi * MZ**2 / (GF * math.sqrt(2))))
SW2 = 1.0 - (MW / MZ) ** 2
ALPHA_S = 0.118


def two_to_two(sqrt_s, m3, m4, cos_theta, phi=0.3):
    """On-shell CM momenta (…, 4, 4) for massless beams along ±z."""
    cos_theta = np.asarray(cos_theta, dtype=float)
    s = sqrt_s**2
    p = math.sqrt((s - (m3 + m4) ** 2) * (s - (m3 - m4) ** 2)) / (2 * sqrt_s)
    sin_theta = np.sqrt(1 - cos_theta**2)
    direction = np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=-1)
    e3, e4 = math.sqrt(p**2 + m3**2), math.sqrt(p**2 + m4**2)
    shape = cos_theta.shape
    beam = np.broadcast_to([sqrt_s / 2, 0, 0, sqrt_s / 2], shape + (4,))
    beam2 = np.broadcast_to([sqrt_s / 2, 0, 0, -sqrt_s / 2], shape + (4,))
    p3 = np.concatenate([np.full(shape + (1,), e3), p * direction], axis=-1)
    p4 = np.concatenate([np.full(shape + (1,), e4), -p * direction], axis=-1)
    return np.stack([beam, beam2, p3, p4], axis=-2), p


def dsigma_dcos(process, sqrt_s, cos_theta, params=None):
    """dσ/dcos θ (pb) = (1/2s) |M|² p/(16π²√s) · 2π = |M|² p/(16π s^{3/2}) (|M|² φ-independent)."""
    masses = [float(m) for m in process.masses(params)]
    momenta, p = two_to_two(sqrt_s, masses[2], masses[3], cos_theta)
    me = np.asarray(process.matrix_element(jnp.asarray(momenta), params))
    return me * p / (16 * math.pi * sqrt_s**3) * GEV2_TO_PB


def total(process, sqrt_s, params=None, order=48):
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return float(np.sum(weights * dsigma_dcos(process, sqrt_s, nodes, params)))


def neutral_current_dsigma(sqrt_s, cos_theta, initial, final, colour, zprime_params=None):
    """dσ/dcos θ (pb) of f f̄ → F F̄ via γ, Z (and a Z′), massless f, massive F.

    Chiral amplitudes ``g_{λλ'} = Q_f Q_F + Σ_V χ_V c^V_{fλ} c^V_{Fλ'}`` with
    ``c_{L,R} = κ_V v ± κ_A a``, ``v = T₃ − 2Q s²``, ``a = T₃`` and
    ``χ_V = s/(s − M_V² + i M_V Γ_V)/(4 s² c²)``; splitting the final current into vector
    and axial parts,

        dσ/dc = C πα²β/(2s) [(1+β²c²) V + (1−β²) V + β²(1+c²) A + 4βc X],

    V = ½Σ_λ|g_{λ+} + g_{λ−}|²/4, A = ½Σ_λ|g_{λ+} − g_{λ−}|²/4, X the λ-odd mixture
    (PDG "Cross-section formulae"; for β = 1 it is ¼Σ|g_{λλ'}|²(1 + λλ'c)²). ``θ`` is the
    angle between the incoming and outgoing fermions.
    """
    s = sqrt_s**2
    f, big_f = lookup(initial), lookup(final)
    beta = math.sqrt(1 - 4 * PARAMS.mass(big_f) ** 2 / s)
    bosons = [(MZ, WZ, (1.0, 1.0), (1.0, 1.0))]
    if zprime_params is not None:
        p = zprime_params
        quark, lepton = (p.kappa_vector_quark, p.kappa_axial_quark), (p.kappa_vector_lepton, p.kappa_axial_lepton)
        bosons.append((p.mzp, p.wzp, quark if abs(f.colour) == 3 else lepton, quark if abs(big_f.colour) == 3 else lepton))

    def chiral(particle, helicity, kappa):
        v, a = particle.isospin - 2 * particle.charge * SW2, particle.isospin
        return kappa[0] * v + helicity * kappa[1] * a

    g = {}
    for li in (1, -1):
        for lf in (1, -1):
            g[li, lf] = f.charge * big_f.charge + sum(
                s / (s - m**2 + 1j * m * w) / (4 * SW2 * (1 - SW2)) * chiral(f, li, k_i) * chiral(big_f, lf, k_f)
                for m, w, k_i, k_f in bosons
            )
    vector = {li: (g[li, 1] + g[li, -1]) / 2 for li in (1, -1)}
    axial = {li: (g[li, 1] - g[li, -1]) / 2 for li in (1, -1)}
    vv = sum(abs(vector[li]) ** 2 for li in (1, -1)) / 2
    aa = sum(abs(axial[li]) ** 2 for li in (1, -1)) / 2
    va = sum(li * (vector[li] * np.conj(axial[li])).real for li in (1, -1)) / 2
    c = np.asarray(cos_theta)
    bracket = (1 + beta**2 * c**2) * vv + (1 - beta**2) * vv + beta**2 * (1 + c**2) * aa + 4 * beta * c * va
    return colour * math.pi * ALPHA**2 * beta / (2 * s) * bracket * GEV2_TO_PB


def analytic_numbers(shared_data):
    text = (shared_data / "xsec" / "analytic_numbers.txt").read_text()
    table = {}
    for line in text.splitlines():
        if m := re.match(r"e\+e- -> mu\+mu-\s+sqrt\(s\)=\s*([\d.]+).*gamma\+Z ([\d.e+-]+) pb", line):
            table[("e+ e- > mu+ mu-", float(m[1]))] = float(m[2])
        elif m := re.match(r"e\+e- -> t t~.*sqrt\(s\)=\s*([\d.]+)\s+sigma = ([\d.e+-]+)", line):
            table[("e+ e- > t t~", float(m[1]))] = float(m[2])
        elif m := re.match(r"([ud]) \1~ -> e\+e-.*sqrt\(shat\)=\s*([\d.]+)\s+sigma = ([\d.e+-]+)", line):
            table[(f"{m[1]} {m[1]}~ > e+ e-", float(m[2]))] = float(m[3])
        elif m := re.match(r"sqrt\(shat\)=\s*([\d.]+)\s+sigmahat\(q q~ -> t t~\)=([\d.e+-]+) pb\s+sigmahat\(g g -> t t~\)=([\d.e+-]+)", line):
            table[("u u~ > t t~", float(m[1]))] = float(m[2])
            table[("g g > t t~", float(m[1]))] = float(m[3])
    return table


def test_analytic_table_is_complete(shared_data):
    assert len(analytic_numbers(shared_data)) == 4 + 4 + 4 + 8


@pytest.mark.parametrize(
    "name", ["e+ e- > mu+ mu-", "e+ e- > t t~", "u u~ > e+ e-", "d d~ > e+ e-", "u u~ > t t~", "g g > t t~"]
)
def test_total_cross_sections_match_analytic_numbers(name, shared_data):
    # The closed forms have no width in the t-channel top propagator of g g > t t~.
    process = sm.process(name, StandardModel(wt=0.0))
    cases = {energy: value for (key, energy), value in analytic_numbers(shared_data).items() if key == name}
    assert cases
    for sqrt_s, expected in cases.items():
        # Table values carry 7 significant digits.
        assert_close(total(process, sqrt_s), expected, rtol=1e-6, what=f"{name} at {sqrt_s}")
    if name == "u u~ > t t~":  # b b~ > t t~ is the same QCD process with a massive b (small effect)
        bb = total(sm.process("b b~ > t t~"), 1000.0)
        assert bb != cases[1000.0]
        assert_close(bb, cases[1000.0], rtol=1e-3)


@pytest.mark.parametrize(
    "name, initial, final, colour, sqrt_s",
    [
        ("e+ e- > mu+ mu-", "e-", "mu-", 1.0, 91.188),
        ("e+ e- > mu+ mu-", "e-", "mu-", 1.0, 200.0),
        ("e+ e- > t t~", "e-", "t", 3.0, 500.0),
        ("u u~ > e+ e-", "u", "e-", 1 / 3, 200.0),
        ("d d~ > e+ e-", "d", "e-", 1 / 3, 91.188),
    ],
)
def test_neutral_current_differential_cross_sections(name, initial, final, colour, sqrt_s):
    cos_theta = np.linspace(-0.95, 0.95, 11)
    process = sm.process(name)
    ours = dsigma_dcos(process, sqrt_s, cos_theta)
    # θ is measured between beam 1 and particle 3; the closed form's θ is between the
    # incoming and outgoing fermions (e.g. e+ e- > t t~: θ(e⁻, t) = π − θ(e⁺, t)).
    beam, third = process.externals[0].particle, process.externals[2].particle
    sign = 1.0 if beam.is_antiparticle == third.is_antiparticle else -1.0
    expected = neutral_current_dsigma(sqrt_s, sign * cos_theta, initial, final, colour)
    assert_close(ours, expected, rtol=1e-10, what=name)


def test_qqbar_and_gg_to_ttbar_differential_match_combridge():
    """Combridge (1979): Σ|M|²/(4·9) for qq̄ → tt̄ and /(4·64) for gg → tt̄."""
    sqrt_s = 700.0
    s = sqrt_s**2
    g4 = (4 * math.pi * ALPHA_S) ** 2
    cos_theta = np.linspace(-0.9, 0.9, 7)
    momenta, _ = two_to_two(sqrt_s, MT, MT, cos_theta)
    t = MT**2 - s / 2 * (1 - np.sqrt(1 - 4 * MT**2 / s) * cos_theta)
    u = 2 * MT**2 - s - t
    tau1, tau2, rho = (MT**2 - t) / s, (MT**2 - u) / s, 4 * MT**2 / s
    qq = g4 * 4 / 9 * (tau1**2 + tau2**2 + rho / 2)
    gg = g4 * (1 / (6 * tau1 * tau2) - 3 / 8) * (tau1**2 + tau2**2 + rho - rho**2 / (4 * tau1 * tau2))
    # Width in the t-channel top propagator (MadGraph's fixed-width scheme) shifts gg by
    # ~(MT·WT)²/(m² − t)² ~ 1e-5; compare the zero-width limit at the same precision.
    narrow = StandardModel(wt=0.0)
    assert_close(sm.process("u u~ > t t~").matrix_element(jnp.asarray(momenta)), qq, rtol=1e-12)
    assert_close(sm.process("g g > t t~", narrow).matrix_element(jnp.asarray(momenta)), gg, rtol=1e-12)


def test_zprime_drell_yan_against_closed_form():
    """γ + Z + Z′ (couplings κ × Z's) against the chiral closed form, on and off the Z′ peak."""
    params = ZPrimeModel(mzp=400.0, wzp=0.5, kappa_vector_quark=0.7, kappa_axial_quark=1.3,
                         kappa_vector_lepton=1.1, kappa_axial_lepton=0.6)
    cos_theta = np.linspace(-0.9, 0.9, 9)
    for sqrt_s in (200.0, 399.0, 400.0, 600.0):
        for quark in ("u", "d"):
            ours = dsigma_dcos(zprime.process(f"{quark} {quark}~ > e+ e-", params), sqrt_s, cos_theta, params)
            expected = neutral_current_dsigma(sqrt_s, -cos_theta, quark, "e-", 1 / 3, params)
            assert_close(ours, expected, rtol=1e-10, what=f"{quark} at {sqrt_s}")
