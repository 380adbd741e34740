"""diffsim.amplitudes against MadGraph's HELAS reference wavefunctions and |M|² dumps, Dirac
traces, completeness relations, gauge/Ward identities, explicit metric contractions built
here, finite differences, and jit/vmap/float32 smoke tests."""

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerance import assert_close, central_difference

from diffsim import amplitudes as amp
from diffsim.amplitudes.split import to_complex
from diffsim.amplitudes.vertices import ffv_chiral_amplitudes_wave
from diffsim.amplitudes.wave import from_array

METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
PAULI = [
    np.eye(2),
    np.array([[0, 1], [1, 0]]),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]]),
]
HELICITIES = np.array(list(itertools.product([-1, 1], repeat=4)))[:, None, :]  # (16, 1, 4)


def gammas(basis):
    """γ^μ built here: 'chiral' (HELAS = Peskin–Schroeder) or 'dirac' (Bjorken–Drell)."""
    z = np.zeros((2, 2))
    if basis == "chiral":
        g0 = np.block([[z, PAULI[0]], [PAULI[0], z]])
    else:
        g0 = np.block([[PAULI[0], z], [z, -PAULI[0]]])
    return np.array([g0] + [np.block([[z, s], [-s, z]]) for s in PAULI[1:]], dtype=complex)


def slash(g, a):
    """a̸ = γ^μ g_{μν} a^ν."""
    return np.einsum("...m,mn,nij->...ij", a, METRIC, g)


def dot(a, b):
    return np.einsum("...m,mn,...n->...", a, METRIC, b)


def on_shell(rng, n, mass, scale=200.0):
    spatial = rng.normal(scale=scale, size=(n, 3))
    return np.concatenate([np.sqrt(mass**2 + np.sum(spatial**2, -1))[:, None], spatial], -1)


def wave(flow_momentum, components):
    """A 6-component wavefunction with flow ``flow_momentum`` and given components."""
    flow = np.stack(
        [
            flow_momentum[..., 0] + 1j * flow_momentum[..., 3],
            flow_momentum[..., 1] + 1j * flow_momentum[..., 2],
        ],
        -1,
    )
    return np.concatenate([flow, components], -1)


# ------------------------------------------------------------------ HELAS reference wavefunctions

# testxxx.cc (madgraph4gpu): E = 500 GeV; events 0-15 cycle through 5 massless momenta,
# events 16-31 through 7 massive ones (mass sqrt(E² - p²) = 500 or 400 GeV).
MASSLESS = [
    (500, 0, 0, 500),
    (500, 0, 0, -500),
    (500, 300, 400, 0),
    (500, 180, 240, 400),
    (500, 180, 240, -400),
]
MASSIVE = [
    (500, 0, 0, 0),
    (500, 0, 0, 300),
    (500, 0, 0, -300),
    (500, 180, 240, 0),
    (500, -240, -180, 0),
    (500, 180, 192, 144),
    (500, 180, 192, -144),
]
REFERENCE_MOMENTA = np.array(
    [MASSLESS[i % 5] for i in range(16)] + [MASSIVE[i % 7] for i in range(16)], float
)
LABEL = re.compile(r"itest=(\d+): (\w+)#(\d+) nsp=([-+]?\d+) mass=([-+]?\d+)")
NUMBER = re.compile(r"[-+]?\d\.\d+e[-+]\d+")


def read_reference(path):
    """``{itest: [func, ievt, nsp, mass label (int), 12 reals = 6 complex components]}``."""
    blocks = {}
    for line in path.read_text().splitlines():
        if "itest=" not in line:
            continue
        values, comment = line.split("//")
        itest, func, ievt, nsp, mass = LABEL.search(comment).groups()
        entry = blocks.setdefault(int(itest), [func, int(ievt), int(nsp), int(mass), []])
        entry[4] += [float(x) for x in NUMBER.findall(values)]
    return blocks


def test_all_576_reference_wavefunctions(shared_data):
    """Every reference wavefunction, computed with hel = +1 and nsf/nsv/nss = nsp (the file's
    loop: nsp = -1 then +1, events 0..31, for each event ixxxxx(+m), ixxxxx(-m), i?zxxx,
    vxxxxx(±m), sxxxxx ×2, oxxxxx(±m), o?zxxx), to 1e-12 of each wavefunction's scale."""
    blocks = read_reference(shared_data / "me" / "testxxx_cc_ref.txt")
    assert sorted(blocks) == list(range(576))
    by_func = {}
    for itest, (func, ievt, nsp, mass_label, values) in blocks.items():
        assert len(values) == 12
        p = REFERENCE_MOMENTA[ievt]
        mass = np.sqrt(max(p[0] ** 2 - np.sum(p[1:] ** 2), 0.0))
        assert abs(mass_label) in (0, round(mass))
        by_func.setdefault(func, []).append(
            (p, -mass if mass_label < 0 else mass, nsp, np.array(values))
        )
    assert set(by_func) == {
        "ixxxxx",
        "oxxxxx",
        "vxxxxx",
        "sxxxxx",
        "ipzxxx",
        "imzxxx",
        "ixzxxx",
        "opzxxx",
        "omzxxx",
        "oxzxxx",
    }
    size = max(len(rows) for rows in by_func.values())
    for func, rows in by_func.items():
        rows = rows + [rows[-1]] * (size - len(rows))  # one common shape: one compilation
        p = np.stack([r[0] for r in rows])
        mass = np.array([r[1] for r in rows])
        nsp = np.array([r[2] for r in rows])
        values = np.stack([r[3] for r in rows])
        expected = values[:, 0::2] + 1j * values[:, 1::2]
        if func in ("ixxxxx", "oxxxxx", "vxxxxx"):
            out = getattr(amp, func)(p, mass, 1, nsp)
        elif func == "sxxxxx":
            out = np.concatenate([amp.sxxxxx(p, nsp), np.zeros((len(p), 3))], -1)
        else:
            out = getattr(amp, func)(p, 1, nsp)
        scale = np.max(np.abs(expected), axis=-1, keepdims=True)
        assert_close(np.asarray(out) / scale, expected / scale, atol=1e-12, what=func)


@pytest.mark.parametrize(
    "special, general",
    [
        ("ipzxxx", "ixxxxx"),
        ("imzxxx", "ixxxxx"),
        ("ixzxxx", "ixxxxx"),
        ("opzxxx", "oxxxxx"),
        ("omzxxx", "oxxxxx"),
        ("oxzxxx", "oxxxxx"),
    ],
)
@pytest.mark.parametrize("nsf", [-1, 1])
def test_massless_shortcuts_equal_general_functions(special, general, nsf):
    """Both helicities (the reference file has hel = +1 only); 16 events × 16 helicity rows."""
    momenta = {
        "p": [(500.0, 0, 0, 500), (250.0, 0, 0, 250)],
        "m": [(500.0, 0, 0, -500), (250.0, 0, 0, -250)],
    }
    p = np.array(momenta.get(special[1], [(500.0, 300, 400, 0), (500, 180, 240, -400)]) * 8)
    hel = HELICITIES[..., 0]
    assert_close(
        getattr(amp, special)(p, hel, nsf), getattr(amp, general)(p, 0.0, hel, nsf), atol=1e-12
    )


# ------------------------------------------------------------------ MadGraph |M|² dumps


def read_dump(path, n_events):
    events, current = [], []
    for line in path.read_text().splitlines():
        tokens = line.split()
        if tokens and tokens[0] == "Event":
            current = []
        elif tokens and tokens[0] == "ME":
            events.append((np.array(current), float(tokens[1])))
            if len(events) == n_events:
                break
        elif len(tokens) == 5 and tokens[0].isdigit():
            current.append([float(x) for x in tokens[1:]])
    return np.stack([e[0] for e in events]), np.array([e[1] for e in events])


def test_epem_mupmum_matches_madgraph(shared_data):
    """γ + Z s-channel (FFV1, FFV2_4 with massive current) vs MadGraph, param_card_sm."""
    p, expected = read_dump(shared_data / "me" / "dump_CPUTest.Sigma_sm_epem_mupmum.txt", 16)
    alpha, gf, mz, wz = 1 / 132.507, 1.16639e-5, 91.188, 2.441404
    mw = np.sqrt(mz**2 / 2 + np.sqrt(mz**4 / 4 - alpha * np.pi * mz**2 / (gf * np.sqrt(2))))
    ee, cw = 2 * np.sqrt(np.pi * alpha), mw / mz
    sw = np.sqrt(1 - cw**2)
    gc3, gc50, gc59 = -1j * ee, -1j * cw * ee / (2 * sw), 1j * ee * sw / (2 * cw)
    h = HELICITIES
    e_plus, e_minus = amp.oxxxxx(p[:, 0], 0.0, h[..., 0], -1), amp.ixxxxx(
        p[:, 1], 0.0, h[..., 1], 1
    )
    mu_plus, mu_minus = amp.ixxxxx(p[:, 2], 0.0, h[..., 2], -1), amp.oxxxxx(
        p[:, 3], 0.0, h[..., 3], 1
    )
    photon = amp.ffv_vector_current(e_plus, e_minus, gc3, gc3, 0.0, 0.0)
    z = amp.ffv_vector_current(e_plus, e_minus, gc50 + gc59, 2 * gc59, mz, wz)
    total = amp.ffv_amplitude(mu_minus, mu_plus, photon, gc3, gc3) + amp.ffv_amplitude(
        mu_minus, mu_plus, z, gc50 + gc59, 2 * gc59
    )
    assert_close(jnp.sum(jnp.abs(total) ** 2, 0) / 4, expected, rtol=1e-12)


def test_uux_ddx_matches_madgraph(shared_data):
    """s-channel gluon (FFV1P0_3 + FFV1_0), colour factor (N²-1)/4 = 2, averaged over 4·9."""
    p, expected = read_dump(shared_data / "me" / "dump_CPUTest.Sigma_sm_uux_ddx.txt", 16)
    gc11 = 1j * np.sqrt(4 * np.pi * 0.118)
    h = HELICITIES
    u, u_bar = amp.ixxxxx(p[:, 0], 0.0, h[..., 0], 1), amp.oxxxxx(p[:, 1], 0.0, h[..., 1], -1)
    d, d_bar = amp.oxxxxx(p[:, 2], 0.0, h[..., 2], 1), amp.ixxxxx(p[:, 3], 0.0, h[..., 3], -1)
    gluon = amp.ffv_vector_current(u_bar, u, gc11, gc11, 0.0, 0.0)
    amplitude = amp.ffv_amplitude(d, d_bar, gluon, gc11, gc11)
    assert_close(jnp.sum(jnp.abs(amplitude) ** 2, 0) * 2 / 36, expected, rtol=1e-12)


def test_gg_ttx_matches_madgraph(shared_data):
    """VVV1P0_1, FFV1_0/_1/_2 with MT = 173 on massless momenta and the top width in the
    t/u-channel propagators (as the CUDACPP dumps have it); MadGraph's colour flows
    JAMP = (i A1 - A2, -i A1 - A3), colour matrix [[16, -2], [-2, 16]]/3, average 1/256."""
    p, expected = read_dump(shared_data / "me" / "dump_CPUTest.Sigma_sm_gg_ttx.txt", 16)
    g, mt, wt = np.sqrt(4 * np.pi * 0.118), 173.0, 1.4915
    gc10, gc11 = -g, 1j * g
    h = HELICITIES
    g1, g2 = amp.vxxxxx(p[:, 0], 0.0, h[..., 0], -1), amp.vxxxxx(p[:, 1], 0.0, h[..., 1], -1)
    top, antitop = amp.oxxxxx(p[:, 2], mt, h[..., 2], 1), amp.ixxxxx(p[:, 3], mt, h[..., 3], -1)
    a1 = amp.ffv_amplitude(top, antitop, amp.vvv_vector_current(g1, g2, gc10, 0.0, 0.0), gc11, gc11)
    a2 = amp.ffv_amplitude(
        amp.ffv_fermion_out(top, g1, gc11, gc11, mt, wt), antitop, g2, gc11, gc11
    )
    a3 = amp.ffv_amplitude(top, amp.ffv_fermion_in(antitop, g1, gc11, gc11, mt, wt), g2, gc11, gc11)
    jamp = jnp.stack([1j * a1 - a2, -1j * a1 - a3], -1)
    colour = np.array([[16.0, -2.0], [-2.0, 16.0]]) / 3
    me = jnp.einsum("hni,ij,hnj->n", jnp.conj(jamp), colour, jamp).real / 256
    assert_close(me, expected, rtol=1e-12)


# ------------------------------------------------------------------ spinor and vector identities

SPIN_CASES = [("massless", 0.0, 0.0), ("massive", 4.7, 173.0), ("massive-equal", 50.0, 50.0)]


@pytest.mark.parametrize("name, m1, m2", SPIN_CASES)
@pytest.mark.parametrize("g_left, g_right", [(1.0, 1.0), (0.7 - 0.2j, -0.3 + 0.5j)])
def test_spin_sum_equals_dirac_trace(name, m1, m2, g_left, g_right):
    """Σ_hel |ū(p1) Γ·ε v(p2)|² = Tr[(p̸1+m1) Γ·ε (p̸2-m2) Γ̄·ε*] (trace in the Dirac basis)."""
    rng = np.random.default_rng(7)
    p1, p2 = on_shell(rng, 16, m1), on_shell(rng, 16, m2)
    eps = rng.normal(size=(16, 4)) + 1j * rng.normal(size=(16, 4))
    f_bar = amp.oxxxxx(p1, m1, HELICITIES[..., 0], 1)
    f = amp.ixxxxx(p2, m2, HELICITIES[..., 1], -1)
    v = wave(np.zeros((16, 4)), eps)
    # the 16 helicity rows contain each (h1, h2) pair four times
    spin_sum = jnp.sum(jnp.abs(amp.ffv_amplitude(f_bar, f, v, g_left, g_right)) ** 2, axis=0) / 4

    g = gammas("dirac")
    g5 = 1j * g[0] @ g[1] @ g[2] @ g[3]
    pl, pr = (np.eye(4) - g5) / 2, (np.eye(4) + g5) / 2
    gamma_eps = slash(g, eps) @ (g_left * pl + g_right * pr)
    gamma_bar = (np.conj(g_left) * pr + np.conj(g_right) * pl) @ slash(g, np.conj(eps))
    trace = np.einsum(
        "nij,njk,nkl,nli->n",
        slash(g, p1) + m1 * np.eye(4),
        gamma_eps,
        slash(g, p2) - m2 * np.eye(4),
        gamma_bar,
    )
    assert_close(np.imag(trace), 0.0, atol=1e-9 * np.max(np.abs(trace)))
    assert_close(spin_sum, np.real(trace), rtol=1e-12)


COMPLETENESS_MOMENTA = [
    (60.0, 0, 0, 0),
    (500.0, 0, 0, 300),
    (500.0, 0, 0, -300),
    (500.0, 180, 192, 144),
    (500.0, -240, -180, 0),
]


@pytest.mark.parametrize("nsf, sign", [(1, 1.0), (-1, -1.0)])
def test_dirac_completeness(nsf, sign):
    """Σ_h u ū = p̸ + m (nsf = +1) and Σ_h v v̄ = p̸ - m (nsf = -1), chiral basis built here,
    including a particle at rest and momenta along ±z; massless along ±z as well."""
    g = gammas("chiral")
    cases = [
        (np.array(p), np.sqrt(p[0] ** 2 - np.sum(np.square(p[1:])))) for p in COMPLETENESS_MOMENTA
    ]
    cases += [
        (np.array([500.0, 0, 0, 500]), 0.0),
        (np.array([500.0, 0, 0, -500]), 0.0),
        (np.array([500.0, 300, 0, 400]), 0.0),
    ]
    for p, m in cases:
        hel = np.array([-1, 1])
        column = np.asarray(amp.ixxxxx(p, m, hel, nsf))[:, 2:]
        row = np.asarray(amp.oxxxxx(p, m, hel, nsf))[:, 2:]
        assert_close(
            np.einsum("hi,hj->ij", column, row),
            slash(g, p) + sign * m * np.eye(4),
            atol=1e-12 * p[0],
        )


def test_vector_completeness_and_transversality():
    """Σ_λ ε^μ ε^ν* = -g^{μν} + p^μ p^ν/m² (massive, incl. at rest and along z); massless:
    ε·p = 0, ε·ε* = -1, and Σ_± ε^i ε^j* = δ^{ij} - p̂^i p̂^j with ε⁰ = 0."""
    hel = np.array([-1, 0, 1])
    for p in COMPLETENESS_MOMENTA:
        p = np.array(p)
        m = np.sqrt(p[0] ** 2 - np.sum(p[1:] ** 2))
        for nsv in (-1, 1):
            eps = np.asarray(amp.vxxxxx(p, m, hel, nsv))[:, 2:]
            expected = -np.linalg.inv(METRIC) + np.outer(p, p) / m**2
            assert_close(
                np.einsum("hm,hn->mn", eps, eps.conj()),
                expected,
                atol=1e-12 * np.max(np.abs(expected)),
            )
    for p in [
        (500.0, 0, 0, 500),
        (500.0, 0, 0, -500),
        (500.0, 300, 400, 0),
        (500.0, 180, 240, -400),
    ]:
        p = np.array(p)
        eps = np.asarray(amp.vxxxxx(p, 0.0, np.array([-1, 1]), 1))[:, 2:]
        assert_close(dot(eps, p), 0.0, atol=1e-12 * p[0])
        assert_close(dot(eps, eps.conj()), -1.0, atol=1e-12)
        unit = p[1:] / np.linalg.norm(p[1:])
        assert_close(
            np.einsum("hi,hj->ij", eps[:, 1:], eps[:, 1:].conj()),
            np.eye(3) - np.outer(unit, unit),
            atol=1e-12,
        )
        assert_close(eps[:, 0], 0.0, atol=0.0)
    assert_close(amp.vxxxxx(np.array([500.0, 0, 0, 500]), 0.0, 0, 1)[2:], 0.0, atol=0.0)


def test_chirality_of_left_handed_couplings():
    """g_R = 0 kills right-handed massless fermions (incoming u_R or outgoing ū_R) in FFV and
    FFS, for every partner helicity; the left-handed ones survive."""
    rng = np.random.default_rng(3)
    p, q = on_shell(rng, 4, 0.0), on_shell(rng, 4, 0.0)
    v = wave(np.zeros((4, 4)), rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    s = np.concatenate([np.zeros((4, 2)), np.ones((4, 1))], -1) + 0j
    partner = np.array([-1, 1])[:, None]
    for hel, vanishes in ((1, True), (-1, False)):
        amplitudes = [
            amp.ffv_amplitude(
                amp.oxxxxx(q, 0.0, partner, 1), amp.ixxxxx(p, 0.0, hel, 1), v, 1.0, 0.0
            ),
            amp.ffv_amplitude(
                amp.oxxxxx(p, 0.0, hel, 1), amp.ixxxxx(q, 0.0, partner, -1), v, 1.0, 0.0
            ),
            amp.ffs_amplitude(
                amp.oxxxxx(q, 0.0, partner, 1), amp.ixxxxx(p, 0.0, hel, 1), s, 1.0, 0.0
            ),
        ]
        for a in amplitudes:
            size = np.max(np.abs(a))  # amplitudes are O(√(E1 E2)) = O(100) when allowed
            assert size < 1e-10 if vanishes else size > 1.0


# ------------------------------------------------------------------ QED gauge invariance


def annihilation_to_photons(m, polarise_first_with_momentum):
    """e⁻(p1) e⁺(p2) → γ(k1) γ(k2) for 16 directions: both diagrams, all 16 helicities."""
    rng = np.random.default_rng(11)
    n, energy = 16, 250.0
    pz = np.sqrt(energy**2 - m**2)
    p1 = np.tile([energy, 0, 0, pz], (n, 1))
    p2 = np.tile([energy, 0, 0, -pz], (n, 1))
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    k1 = np.concatenate([np.full((n, 1), energy), energy * direction], -1)
    k2 = p1 + p2 - k1
    h = HELICITIES
    e_minus = amp.ixxxxx(p1, m, h[..., 0], 1)
    e_plus = amp.oxxxxx(p2, m, h[..., 1], -1)
    photon1 = amp.vxxxxx(k1, 0.0, h[..., 2], 1)
    photon2 = amp.vxxxxx(k2, 0.0, h[..., 3], 1)
    if polarise_first_with_momentum:
        photon1 = wave(k1, k1 + 0j) + 0 * np.asarray(photon1)
    e = -0.3j
    diagram_a = amp.ffv_amplitude(
        e_plus, amp.ffv_fermion_in(e_minus, photon1, e, e, m, 0.0), photon2, e, e
    )
    diagram_b = amp.ffv_amplitude(
        e_plus, amp.ffv_fermion_in(e_minus, photon2, e, e, m, 0.0), photon1, e, e
    )
    diagram_b_from_out = amp.ffv_amplitude(
        amp.ffv_fermion_out(e_plus, photon1, e, e, m, 0.0), e_minus, photon2, e, e
    )
    return diagram_a, diagram_b, diagram_b_from_out


@pytest.mark.parametrize("m", [0.0, 20.0])
def test_qed_gauge_invariance_and_in_out_consistency(m):
    a, b, b_out = annihilation_to_photons(m, polarise_first_with_momentum=False)
    assert_close(b_out, b, atol=1e-13 * np.max(np.abs(b)))
    scale = np.max(np.abs(a + b))
    a_k, b_k, _ = annihilation_to_photons(m, polarise_first_with_momentum=True)
    assert np.max(np.abs(a_k)) > 1e-3 * scale  # each diagram alone is not gauge invariant
    assert_close(a_k + b_k, 0.0, atol=1e-12 * scale)


# ------------------------------------------------------------------ off-shell self-consistency


def denominator(p, m, w):
    return dot(p, p) - m**2 + 1j * m * w


def transverse(eps, p):
    """ε - p (p·ε)/p², orthogonal to p."""
    return eps - p * (dot(p, eps) / dot(p, p))[..., None]


@pytest.fixture(scope="module")
def lines():
    """Random fermion/vector wavefunctions with their momenta (flows of physical particles)."""
    rng = np.random.default_rng(5)
    n = 4
    p_f, p_fb, k = on_shell(rng, n, 5.0), on_shell(rng, n, 30.0), on_shell(rng, n, 0.0)
    eps = rng.normal(size=(n, 4)) + 1j * rng.normal(size=(n, 4))
    return dict(
        f=amp.ixxxxx(p_f, 5.0, np.array([-1, 1])[:, None], 1),
        p_f=p_f,
        f_bar=amp.oxxxxx(p_fb, 30.0, np.array([1, -1])[:, None], 1),
        p_fb=p_fb,
        v=amp.vxxxxx(k, 0.0, -1, -1),
        k=k,
        eps=eps,
        s=np.concatenate(
            [
                np.stack([-k[:, 0] - 1j * k[:, 3], -k[:, 1] - 1j * k[:, 2]], -1),
                (0.3 + 0.1j) * np.ones((n, 1)),
            ],
            -1,
        ),
    )


G_LEFT, G_RIGHT = 0.4 - 0.1j, -0.2 + 0.3j


@pytest.mark.parametrize("mass, width", [(0.0, 0.0), (91.188, 2.4414)])
def test_vector_current_contracts_to_amplitude(lines, mass, width):
    """D · (ε·V) = ffv_amplitude for ε ⟂ P, with V = ffv_vector_current and P = p_f - p_fb."""
    f, f_bar = lines["f"], lines["f_bar"]
    p = lines["p_f"] - lines["p_fb"]  # flows -p_f and +p_fb: P = -(sum of flows)
    eps = transverse(lines["eps"], p)
    current = amp.ffv_vector_current(f_bar, f, G_LEFT, G_RIGHT, mass, width)
    flow = np.asarray(amp.flow_momentum(current))
    assert_close(flow, np.broadcast_to(-p, flow.shape), atol=1e-10)
    contracted = denominator(p, mass, width) * dot(eps, np.asarray(current)[..., 2:])
    assert_close(
        contracted, amp.ffv_amplitude(f_bar, f, wave(-p, eps), G_LEFT, G_RIGHT), rtol=1e-12
    )


def test_ffv_amplitude_is_linear_in_its_chiral_couplings(lines):
    """g_L A_L + g_R A_R of ffv_chiral_amplitudes_wave equals ffv_amplitude at (g_L, g_R):
    the split that lets processes factor their couplings out of the kernels."""
    f, f_bar, v = lines["f"], lines["f_bar"], lines["v"]
    left, right = (np.asarray(to_complex(a)) for a in ffv_chiral_amplitudes_wave(*map(from_array, (f_bar, f, v))))
    assert np.abs(left).min() > 0 and np.abs(right).min() > 0  # massive spinors: both halves
    assert_close(G_LEFT * left + G_RIGHT * right, amp.ffv_amplitude(f_bar, f, v, G_LEFT, G_RIGHT), rtol=1e-12)


@pytest.mark.parametrize("mass, width", [(173.0, 1.4915), (0.0, 0.0)])
def test_offshell_fermions_invert_to_amplitude(lines, mass, width):
    """With S = i(q̸+M)/D and S⁻¹ = -i D (q̸-M)/(q²-M²), built here:
    ffv_amplitude(f̄, f, v) = -i f̄ S⁻¹ ffv_fermion_in(f, v) = -i ffv_fermion_out(f̄, v) S⁻¹ f,
    and likewise for FFS."""
    g = gammas("chiral")
    f, f_bar, v, s = lines["f"], lines["f_bar"], lines["v"], lines["s"]
    q_in = lines["p_f"] + lines["k"]  # f flows -p_f, v flows -k: q = -(sum)
    q_out = lines["p_fb"] - lines["k"]  # f_bar flows +p_fb: q = +(sum)

    def inverse(q):
        return (-1j * denominator(q, mass, width) / (dot(q, q) - mass**2))[..., None, None] * (
            slash(g, q) - mass * np.eye(4)
        )

    for vertex, offshell_in, offshell_out, boson in (
        (amp.ffv_amplitude, amp.ffv_fermion_in, amp.ffv_fermion_out, v),
        (amp.ffs_amplitude, amp.ffs_fermion_in, amp.ffs_fermion_out, s),
    ):
        expected = vertex(f_bar, f, boson, G_LEFT, G_RIGHT)
        column = np.asarray(offshell_in(f, boson, G_LEFT, G_RIGHT, mass, width))[..., 2:]
        row = np.asarray(offshell_out(f_bar, boson, G_LEFT, G_RIGHT, mass, width))[..., 2:]
        from_in = -1j * np.einsum(
            "...i,...ij,...j->...", np.asarray(f_bar)[..., 2:], inverse(q_in), column
        )
        from_out = -1j * np.einsum(
            "...i,...ij,...j->...", row, inverse(q_out), np.asarray(f)[..., 2:]
        )
        assert_close(from_in, expected, rtol=1e-11)
        assert_close(from_out, expected, rtol=1e-11)


def test_scalar_currents_invert_to_amplitudes(lines):
    """ffs/vvs amplitudes = -D · S_offshell · φ (scalar propagator i/D) and VVS vector current."""
    mass, width = 125.0, 0.0064
    f, f_bar, s = lines["f"], lines["f_bar"], lines["s"]
    p = lines["p_f"] - lines["p_fb"]
    current = np.asarray(amp.ffs_scalar_current(f_bar, f, G_LEFT, G_RIGHT, mass, width))
    assert current.shape[-1] == 3
    assert_close(
        -denominator(p, mass, width) * current[..., 2] * s[:, 2],
        amp.ffs_amplitude(f_bar, f, s, G_LEFT, G_RIGHT),
        rtol=1e-12,
    )

    rng = np.random.default_rng(9)
    k1, k2 = on_shell(rng, 4, 80.4), on_shell(rng, 4, 80.4)
    v1, v2 = amp.vxxxxx(k1, 80.4, np.array([-1, 0, 1])[:, None], -1), amp.vxxxxx(k2, 80.4, 0, -1)
    coupling = 0.7j
    p_s = k1 + k2
    scalar = np.asarray(amp.vvs_scalar_current(v1, v2, coupling, mass, width))
    assert_close(
        -denominator(p_s, mass, width) * scalar[..., 2] * s[:, 2],
        amp.vvs_amplitude(v1, v2, s, coupling),
        rtol=1e-12,
    )
    # off-shell vector from (v2, s): contract with ε1 ⟂ P1, P1 = -(flows) = k2 + k_s
    p1 = k2 + lines["k"]
    eps1 = transverse(lines["eps"], p1)
    vector = np.asarray(amp.vvs_vector_current(v2, s, coupling, 91.188, 2.44))
    assert_close(
        denominator(p1, 91.188, 2.44) * dot(eps1, vector[..., 2:]),
        amp.vvs_amplitude(wave(-p1, eps1), v2, s, coupling),
        rtol=1e-12,
    )


def three_gluons(seed=13):
    """Incoming on-shell gluons 2, 3 (flows -k2, -k3) and leg 1 with flow k2 + k3."""
    rng = np.random.default_rng(seed)
    k2, k3 = on_shell(rng, 5, 0.0), on_shell(rng, 5, 0.0)
    h = np.array([-1, 1])
    v2 = amp.vxxxxx(k2, 0.0, h[:, None, None], -1)
    v3 = amp.vxxxxx(k3, 0.0, h[:, None], -1)
    return k2, k3, v2, v3, rng.normal(size=(5, 4)) + 1j * rng.normal(size=(5, 4))


@pytest.mark.parametrize("mass, width", [(0.0, 0.0), (80.4, 2.05)])
def test_vvv_current_contracts_to_amplitude(mass, width):
    k2, k3, v2, v3, eps = three_gluons()
    p1 = k2 + k3  # P1 = -(flow2 + flow3); leg 1 carries flow P1 so the flows sum to zero
    eps1 = transverse(eps, p1) if mass else eps
    coupling = -1.2
    current = np.asarray(amp.vvv_vector_current(v2, v3, coupling, mass, width))
    contracted = denominator(p1, mass, width) * dot(eps1, current[..., 2:])
    assert_close(contracted, amp.vvv_amplitude(wave(p1, eps1), v2, v3, coupling), rtol=1e-12)


def test_vvv_ward_identity_and_symmetry():
    """P1·J1 = 0 for on-shell transverse massless gluons; VVV1 is antisymmetric/cyclic."""
    k2, k3, v2, v3, eps = three_gluons()
    current = np.asarray(amp.vvv_vector_current(v2, v3, 1.0, 0.0, 0.0))[..., 2:]
    p1 = k2 + k3
    scale = np.max(np.abs(current)) * np.max(np.abs(p1))
    assert_close(dot(p1, current), 0.0, atol=1e-13 * scale)
    v1 = wave(p1, eps)
    a = amp.vvv_amplitude(v1, v2, v3, 1.0)
    assert_close(amp.vvv_amplitude(v2, v3, v1, 1.0), a, rtol=1e-13)
    assert_close(amp.vvv_amplitude(v2, v1, v3, 1.0), -a, rtol=1e-13)
    # explicit Yang–Mills tensor built here
    e1, e2, e3 = np.broadcast_arrays(eps, np.asarray(v2)[..., 2:], np.asarray(v3)[..., 2:])
    p2, p3 = -k2, -k3
    explicit = (
        dot(e1, e2) * dot(e3, p1 - p2)
        + dot(e2, e3) * dot(e1, p2 - p3)
        + dot(e3, e1) * dot(e2, p3 - p1)
    )
    assert_close(a, -1j * explicit, rtol=1e-12)


# UFO strings of the four-vector structures, contracted here with explicit metric tensors
UFO_VVVV = {
    1: "Metric(1,4)*Metric(2,3) - Metric(1,3)*Metric(2,4)",
    2: "2*Metric(1,2)*Metric(3,4) - Metric(1,3)*Metric(2,4) - Metric(1,4)*Metric(2,3)",
    3: "Metric(1,4)*Metric(2,3) - Metric(1,2)*Metric(3,4)",
    4: "Metric(1,3)*Metric(2,4) - Metric(1,2)*Metric(3,4)",
}


def ufo_tensor(structure):
    """Rank-4 tensor T_{μνρσ} from a UFO string of Metric products."""
    tensor = np.zeros((4, 4, 4, 4))
    letters = "abcd"
    for term in re.finditer(
        r"([-+]?\s*\d*)\*?Metric\((\d),(\d)\)\*Metric\((\d),(\d)\)", structure.replace(" ", "")
    ):
        coefficient = term.group(1)
        coefficient = {"": 1.0, "+": 1.0, "-": -1.0}.get(coefficient, None) or float(coefficient)
        i, j, k, l = (int(x) - 1 for x in term.groups()[1:])
        subscripts = f"{letters[i]}{letters[j]},{letters[k]}{letters[l]}->abcd"
        tensor += coefficient * np.einsum(subscripts, METRIC, METRIC)
    return tensor


@pytest.mark.parametrize("structure", [1, 2, 3, 4])
def test_vvvv_against_explicit_metric_products(structure):
    rng = np.random.default_rng(structure)
    eps = rng.normal(size=(4, 6, 4)) + 1j * rng.normal(size=(4, 6, 4))
    flows = rng.normal(size=(3, 6, 4))
    v2, v3, v4 = (wave(flows[i], eps[i + 1]) for i in range(3))
    p1 = -flows.sum(0)
    v1 = wave(p1, eps[0])
    coupling = 0.5 - 0.8j
    explicit = (
        -1j * coupling * np.einsum("abcd,na,nb,nc,nd->n", ufo_tensor(UFO_VVVV[structure]), *eps)
    )
    assert_close(
        amp.vvvv_amplitude(v1, v2, v3, v4, coupling, structure=structure), explicit, rtol=1e-12
    )
    for mass, width in ((0.0, 0.0), (91.188, 2.44)):
        eps1 = transverse(eps[0], p1) if mass else eps[0]
        current = np.asarray(
            amp.vvvv_vector_current(v2, v3, v4, coupling, mass, width, structure=structure)
        )
        assert_close(amp.flow_momentum(current), -p1, atol=1e-12)
        assert_close(
            denominator(p1, mass, width) * dot(eps1, current[..., 2:]),
            amp.vvvv_amplitude(wave(p1, eps1), v2, v3, v4, coupling, structure=structure),
            rtol=1e-11,
        )


# ------------------------------------------------------------------ gradients

WEIGHTS = np.random.default_rng(1).normal(size=(2, 6))


def _project(w):
    """A real scalar from complex wavefunction components (fixed random weights)."""
    return jnp.sum(WEIGHTS[0] * jnp.real(w) + WEIGHTS[1] * jnp.imag(w))


@jax.jit
def _weighted_wavefunctions(p, mass, hel, sign, select):
    """``select``-weighted projections of ixxxxx, oxxxxx, vxxxxx (one compilation for all cases)."""
    return (
        select[0] * _project(amp.ixxxxx(p, mass, hel, sign))
        + select[1] * _project(amp.oxxxxx(p, mass, hel, sign))
        + select[2] * _project(amp.vxxxxx(p, mass, hel, sign))
    )


# (p, mass, hel, nsf/nsv, function, check the momentum gradient)
GRADIENT_CASES = [
    ((500.0, 180, 192, 144), 400.0, -1, 1, "i", True),
    ((500.0, 0, 0, 300), 400.0, 1, -1, "i", True),  # along +z
    ((500.0, 300, 0, 400), 0.0, -1, 1, "i", True),  # massless (E = |p|)
    ((500.0, 0, 0, 0), 500.0, 1, -1, "i", False),  # at rest: mass gradient only
    ((500.0, -240, -180, 50), -400.0, 1, 1, "o", True),  # negative mass
    ((500.0, 0, 0, 300), 400.0, -1, 1, "o", True),
    ((500.0, 0, 0, 500), 0.0, 1, 1, "o", True),  # massless along +z
    ((500.0, 180, 192, -144), 400.0, 0, -1, "v", True),  # longitudinal
    ((500.0, 180, 192, 144), 400.0, 1, 1, "v", True),
    ((500.0, 180, 240, 400), 0.0, -1, 1, "v", True),  # massless
]


# points where the wavefunctions are not differentiable in p (at rest, along -z) or sit on
# a branch boundary: the gradient must still be finite, for m = 0 and m = 400 GeV
SPECIAL_CASES = [
    (p, m, hel, sign, func, False)
    for p in [
        (500.0, 0, 0, 0),
        (500.0, 0, 0, -300),
        (500.0, 0, 0, -500),
        (500.0, 0, 0, 500),
        (500.0, 300, 400, 0),
    ]
    for m in (0.0, 400.0)
    for func, hels in (("i", (-1, 1)), ("o", (-1, 1)), ("v", (-1, 0, 1)))
    for hel in hels
    for sign in (-1, 1)
]


def test_wavefunction_gradients_match_finite_differences():
    """jax.grad w.r.t. every momentum component and the mass equals central differences
    (massive, massless, along +z, negative mass, at rest) and is finite at the special
    points (at rest, along ±z, massless), all in one vectorised gradient."""
    cases = GRADIENT_CASES + SPECIAL_CASES
    p = np.array([c[0] for c in cases])
    mass = np.array([c[1] for c in cases])
    hel = np.array([c[2] for c in cases])
    sign = np.array([c[3] for c in cases])
    select = np.array([["iov".index(c[4]) == k for k in range(3)] for c in cases], dtype=float)
    grad_p, grad_m = jax.jit(jax.vmap(jax.grad(_weighted_wavefunctions, argnums=(0, 1))))(
        p, mass, hel, sign, select
    )
    assert np.all(np.isfinite(grad_p)) and np.all(np.isfinite(grad_m))
    for i, case in enumerate(GRADIENT_CASES):
        args = (hel[i], sign[i], select[i])
        if case[5]:
            expected = central_difference(
                lambda x: _weighted_wavefunctions(x, mass[i], *args), p[i], eps=1e-5
            )
            assert_close(grad_p[i], expected, rtol=1e-6, atol=1e-9, what=str(case))
        expected = central_difference(
            lambda x: _weighted_wavefunctions(p[i], x[0], *args), mass[i : i + 1], eps=1e-5
        )
        assert_close(grad_m[i], expected[0], rtol=1e-6, atol=1e-9, what=str(case))


def test_propagator_gradients_match_finite_differences(lines):
    """|amplitude through an off-shell top and Z|² differentiated in mass and width."""

    @jax.jit
    def squared(params):
        mt, wt, mz, wz = params
        top = amp.ffv_fermion_in(lines["f"], lines["v"], G_LEFT, G_RIGHT, mt, wt)
        z = amp.ffv_vector_current(lines["f_bar"], top, G_LEFT, G_RIGHT, mz, wz)
        return jnp.sum(jnp.abs(z[..., 2:]) ** 2)

    x = np.array([173.0, 1.49, 91.188, 2.44])
    assert_close(jax.grad(squared)(x), central_difference(squared, x, eps=1e-4), rtol=1e-6)


# ------------------------------------------------------------------ jit / vmap / dtype / errors


def test_helicity_tables_broadcast_jit_and_vmap():
    rng = np.random.default_rng(0)
    p = on_shell(rng, 8, 173.0)
    table = np.array(list(itertools.product([-1, 1], [-1, 0, 1])))  # (6, 2)
    f = amp.ixxxxx(p, 173.0, table[:, None, 0], 1)
    v = amp.vxxxxx(p, 80.4, table[:, None, 1], -1)
    assert f.shape == v.shape == (6, 8, 6)
    looped = np.stack([amp.ixxxxx(p, 173.0, h, 1) for h in table[:, 0]])
    assert_close(f, looped, atol=1e-14 * np.max(np.abs(f)))
    jitted = jax.jit(lambda p, m, h: amp.ixxxxx(p, m, h, 1))(p, 173.0, table[:, None, 0])
    assert_close(jitted, f, atol=1e-12 * np.max(np.abs(f)))
    mapped = jax.vmap(lambda h: amp.vxxxxx(p, 80.4, h, -1))(table[:, 1])
    assert_close(mapped, v, atol=1e-14)
    amplitude = jax.jit(amp.ffv_amplitude)(amp.oxxxxx(p, 173.0, 1, 1), f, v, 0.3j, 0.3j)
    assert amplitude.shape == (6, 8)


def test_float32_keeps_single_precision():
    p = np.array([[500.0, 180, 192, 144], [500.0, 0, 0, 500]], dtype=np.float32)
    f = amp.ixxxxx(p, 0.0, 1, 1)
    f_bar = amp.oxxxxx(p, np.float32(4.7), -1, 1)
    v = amp.vxxxxx(p, 0.0, 1, -1)
    s = amp.sxxxxx(p, 1)
    assert all(o.dtype == jnp.complex64 for o in (f, f_bar, v, s))
    outputs = jax.jit(_single_precision_vertices)(f, f_bar, v, s)
    assert all(o.dtype == jnp.complex64 for o in outputs)
    reference = amp.ixxxxx(p.astype(np.float64), 0.0, 1, 1)
    assert_close(f, reference, rtol=1e-6, atol=1e-5)


def _single_precision_vertices(f, f_bar, v, s):
    return [
        amp.ffv_amplitude(f_bar, f, v, 0.3j, 0.2j),
        amp.ffv_vector_current(f_bar, f, 0.3j, 0.2, 91.188, 2.44),
        amp.ffv_fermion_in(f, v, 0.3j, 0.3j, 173.0, 1.5),
        amp.ffv_fermion_out(f_bar, v, 0.3j, 0.3j, 173.0, 1.5),
        amp.ffs_scalar_current(f_bar, f, 1j, 1j, 125.0, 0.0),
        amp.vvv_vector_current(v, v, -1.2, 0.0, 0.0),
        amp.vvvv_vector_current(v, v, v, 1.0, 0.0, 0.0, structure=1),
        amp.vvs_vector_current(v, s, 0.5j, 80.4, 2.0),
    ]


def test_bad_input_raises_clear_errors():
    p = np.array([500.0, 0, 0, 500])
    with pytest.raises(ValueError, match="last axis of size 4"):
        amp.ixxxxx(p[:3], 0.0, 1, 1)
    with pytest.raises(ValueError, match="hel must take values"):
        amp.ixxxxx(p, 0.0, 2, 1)
    with pytest.raises(ValueError, match="nsv must take values"):
        amp.vxxxxx(p, 0.0, 1, 0)
    with pytest.raises(TypeError, match="integer"):
        amp.oxxxxx(p, 0.0, 1.0, 1)
    with pytest.raises(TypeError, match="real"):
        amp.ixxxxx(p + 0j, 0.0, 1, 1)
    f = amp.ixxxxx(p, 0.0, 1, 1)
    with pytest.raises(ValueError, match="last axis 6"):
        amp.ffv_amplitude(f, f, f[:3], 1.0, 1.0)
    with pytest.raises(ValueError, match="last axis 3"):
        amp.ffs_amplitude(f, f, f, 1.0, 1.0)
    with pytest.raises(TypeError, match="complex"):
        amp.vvv_amplitude(np.zeros(6), f, f, 1.0)
    with pytest.raises(ValueError, match="structure"):
        amp.vvvv_amplitude(f, f, f, f, 1.0, structure=5)
