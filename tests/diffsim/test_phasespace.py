"""Phase-space mappings: closed-form volumes, conservation, round trips, exact weights
against autodiff Jacobians, target densities (5σ), and finite-difference mass gradients."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from tolerance import assert_close, assert_within_sigma, central_difference

from diffsim import kinematics as k
from diffsim.phasespace import (
    BreitWignerInvariant,
    DecayChain,
    FinalState,
    FlatInvariant,
    GaussianInvariant,
    MixtureInvariant,
    PartonFractions,
    PowerLawInvariant,
    Propagator,
    RamboOnDiet,
    TabulatedInvariant,
    TChannel,
    TruncatedInvariant,
    TwoBodyDecay,
)

SQRT_S = 1000.0
P_AT_REST = jnp.array([SQRT_S, 0.0, 0.0, 0.0])
P_MOVING = jnp.array([0.0, 120.0, -80.0, 450.0]).at[0].set(math.sqrt(SQRT_S**2 + 120.0**2 + 80.0**2 + 450.0**2))
MW, WW, MZ, WZ, MT, MB = 80.419002, 2.0476, 91.188, 2.441404, 173.0, 4.7


def closed_form_massless_volume(n, s):
    """Φ_n = (2π)^(4−3n) (π/2)^(n−1) s^(n−2) / ((n−1)!(n−2)!) (shared/data/README.md)."""
    return (2 * math.pi) ** (4 - 3 * n) * (math.pi / 2) ** (n - 1) * s ** (n - 2) / (
        math.factorial(n - 1) * math.factorial(n - 2)
    )


def closed_form_two_body_volume(s, m1, m2):
    """Φ_2 = λ^(1/2)(s, m1², m2²) / (8π s)."""
    lam = (s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)
    return math.sqrt(lam) / (8 * math.pi * s)


class Case(eqx.Module):
    """A registry entry: a mapping seen as ``r -> (momenta, log_w)`` and back."""

    name: str = eqx.field(static=True)
    mapping: eqx.Module
    masses: tuple = eqx.field(static=True)
    n_random: int = eqx.field(static=True)
    extra: tuple = ()

    def forward(self, r):
        if isinstance(self.mapping, TChannel):
            p_a, p_b = self.extra
            return self.mapping.forward(r, p_a, p_b, *self.masses)
        if isinstance(self.mapping, TwoBodyDecay):
            return self.mapping.forward(r, self.extra[0], *self.masses)
        return self.mapping.forward(r, self.extra[0])

    def inverse(self, momenta):
        if isinstance(self.mapping, TChannel):
            return self.mapping.inverse(momenta, *self.extra, *self.masses)
        if isinstance(self.mapping, TwoBodyDecay):
            return self.mapping.inverse(momenta, *self.masses)
        return self.mapping.inverse(momenta)


def rambo_case(masses, p_total=P_AT_REST):
    mapping = RamboOnDiet(masses)
    return Case(f"rambo{len(masses)}-{'massive' if any(masses) else 'massless'}", mapping, tuple(masses), mapping.n_random, (p_total,))


def chain_case(name, chain, masses, p_total):
    return Case(name, chain, masses, chain.n_random, (p_total,))


TOP = jnp.array([0.0, 30.0, 40.0, 100.0]).at[0].set(math.sqrt(MT**2 + 30.0**2 + 40.0**2 + 100.0**2))
CASES = [
    rambo_case([0.0, 0.0]),
    rambo_case([0.0] * 3),
    rambo_case([0.0] * 5, P_MOVING),
    rambo_case([MT, 4.7]),
    rambo_case([MT, MT, 0.0], P_MOVING),
    rambo_case([MW, 10.0, 0.0, 50.0]),
    Case("two-body", TwoBodyDecay(), (MW, MB), 2, (P_MOVING,)),
    Case(
        "t-channel massive",
        TChannel(PowerLawInvariant(nu=0.8, pole=-(MW**2))),
        (MT, 20.0),
        2,
        (jnp.array([600.0, 0.0, 0.0, 600.0]), jnp.array([400.0, 0.0, 0.0, -400.0])),
    ),
    Case(
        "t-channel off-shell incoming",
        TChannel(FlatInvariant()),
        (0.0, 0.0),
        2,
        (jnp.array([300.0, 10.0, -20.0, 290.0]), jnp.array([200.0, 0.0, 5.0, -170.0])),
    ),
    chain_case(
        "top decay t > b w+(> e+ ve)",
        DecayChain(FinalState(0, MB), Propagator(BreitWignerInvariant(MW, WW), FinalState(1), FinalState(2))),
        (MB, 0.0, 0.0),
        TOP,
    ),
    chain_case(
        "zz > 4l with photon",
        DecayChain(
            Propagator(BreitWignerInvariant(MZ, WZ), FinalState(0), FinalState(2)),
            Propagator(PowerLawInvariant(nu=1.0), FinalState(1, 0.1), Propagator(FlatInvariant(), FinalState(3), FinalState(4, 1.0))),
        ),
        (0.0, 0.1, 0.0, 0.0, 1.0),
        P_MOVING,
    ),
]
IDS = [case.name for case in CASES]


def uniform(seed, shape):
    return jax.random.uniform(jax.random.key(seed), shape, dtype=jnp.float64)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_momentum_conservation_and_on_shell(case):
    r = uniform(1, (256, case.n_random))
    momenta, log_w = case.forward(r)
    total = case.extra[0] + case.extra[1] if isinstance(case.mapping, TChannel) else case.extra[0]
    scale = float(total[0])
    assert_close(jnp.sum(momenta, axis=-2), jnp.broadcast_to(total, (256, 4)), atol=1e-12 * scale)
    energy2 = momenta[..., 0] ** 2
    assert_close(k.mass_squared(momenta) / energy2, np.asarray(case.masses) ** 2 / energy2, atol=1e-12)
    assert np.all(np.isfinite(log_w))
    assert np.all(momenta[..., 0] > 0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_inverse_round_trip(case):
    r = uniform(2, (256, case.n_random))
    momenta, log_w = case.forward(r)
    r_back, log_w_back = case.inverse(momenta)
    # Invariants are recovered from lab momenta, s = (Σp)², so r carries a rounding error
    # ≈ ε E² / (s_max − s_min): up to ~1e-9 for the narrow inner range of the 4l chain.
    assert_close(r_back, r, atol=1e-8)
    assert_close(log_w_back, log_w, atol=1e-9)
    momenta_again, _ = case.forward(r_back)
    assert_close(momenta_again, momenta, atol=1e-9 * float(jnp.max(momenta[..., 0])))


def reduced_coordinates(momenta):
    """CM-frame coordinates (p⃗_1 … p⃗_{n-2}, cos θ_{n-1}, φ_{n-1}) of an n-body point."""
    total = jnp.sum(momenta, axis=-2)
    cm = k.boost_to_rest_frame(momenta, total)
    n = momenta.shape[-2]
    last = cm[n - 2]
    cos_theta = last[3] / k.momentum_magnitude(last)
    return jnp.concatenate([cm[: n - 2, 1:].reshape(-1), jnp.stack([cos_theta, k.phi(last)])]), cm


def reduced_density(cm):
    """dΦ_n per unit of the reduced coordinates (MadGraph's (2π)^(4−3n) included).

    ``d³p_{n-1} δ(√s − ΣE)`` → ``|p|² dΩ / |∂(E_{n-1} + E_n)/∂|p||`` with ``p⃗_n`` fixed by
    momentum conservation.
    """
    n = cm.shape[-2]
    p_last, p_n = cm[n - 2], cm[n - 1]
    magnitude = k.momentum_magnitude(p_last)
    direction = p_last[1:] / magnitude
    slope = magnitude / p_last[0] - jnp.dot(p_n[1:], direction) / p_n[0]
    density = (2 * jnp.pi) ** (4 - 3 * n) * jnp.prod(1.0 / (2.0 * cm[: n - 2, 0]))
    return density * magnitude**2 / (4.0 * p_last[0] * p_n[0] * jnp.abs(slope))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_weight_equals_autodiff_jacobian(case):
    """w(r) = dΦ/d(coordinates) × |det ∂coordinates/∂r| (the change-of-variables theorem)."""
    r = uniform(3, (8, case.n_random)) * 0.9 + 0.05

    def coordinates(point):
        return reduced_coordinates(case.forward(point)[0])[0]

    @jax.jit
    def expected_log_weight(point):
        jacobian = jax.jacfwd(coordinates)(point)
        _, cm = reduced_coordinates(case.forward(point)[0])
        return jnp.log(reduced_density(cm)) + jnp.linalg.slogdet(jacobian)[1]

    assert_close(case.forward(r)[1], jax.vmap(expected_log_weight)(r), rtol=1e-9, what=case.name)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_massless_rambo_weight_is_the_exact_volume(n):
    rambo = RamboOnDiet([0.0] * n)
    _, log_w = rambo.forward(uniform(4, (64, rambo.n_random)), P_MOVING)
    assert_close(jnp.exp(log_w), closed_form_massless_volume(n, SQRT_S**2), rtol=1e-12)


@pytest.mark.parametrize("masses", [(MT, MT), (MW, MB), (0.0, 500.0)])
def test_massive_two_body_volume(masses):
    s = SQRT_S**2
    expected = closed_form_two_body_volume(s, *masses)
    for case in (RamboOnDiet(masses), TwoBodyDecay()):
        if isinstance(case, RamboOnDiet):
            _, log_w = case.forward(uniform(5, (32, 2)), P_MOVING)
        else:
            _, log_w = case.forward(uniform(5, (32, 2)), P_MOVING, *masses)
        assert_close(jnp.exp(log_w), expected, rtol=1e-12)
    flat_t = TChannel(FlatInvariant())
    incoming = (jnp.array([500.0, 0, 0, 500.0]), jnp.array([500.0, 0, 0, -500.0]))
    _, log_w = flat_t.forward(uniform(6, (32, 2)), *incoming, *masses)
    assert_close(jnp.exp(log_w), expected, rtol=1e-12)


def test_massive_three_body_volume_against_quadrature():
    """RAMBO's massive weights average to Φ_3 = ∫ ds₂₃/2π Φ₂(s; m₁, √s₂₃) Φ₂(s₂₃; m₂, m₃)."""
    masses = (MT, MT, 50.0)
    s = SQRT_S**2
    lower, upper = (masses[1] + masses[2]) ** 2, (SQRT_S - masses[0]) ** 2
    exact, _ = integrate.quad(
        lambda s23: closed_form_two_body_volume(s, masses[0], math.sqrt(s23))
        * closed_form_two_body_volume(s23, masses[1], masses[2])
        / (2 * math.pi),
        lower,
        upper,
        epsabs=0,
        epsrel=1e-12,
    )
    rambo = RamboOnDiet(masses)
    weights = jnp.exp(rambo.forward(uniform(7, (200_000, rambo.n_random)), P_AT_REST)[1])
    assert_within_sigma(weights.mean(), weights.std() / math.sqrt(weights.size), exact, what="Φ_3 massive")
    chain = DecayChain(FinalState(0, MT), Propagator(FlatInvariant(), FinalState(1, MT), FinalState(2, 50.0)))
    chain_weights = jnp.exp(chain.forward(uniform(8, (200_000, 5)), P_AT_REST)[1])
    assert_within_sigma(chain_weights.mean(), chain_weights.std() / math.sqrt(chain_weights.size), exact, what="chain")


def _quad(density, a, b, kinks=()):
    """``∫_a^b density`` told about the ``kinks`` (steps of truncated densities) inside."""
    points = [k for k in kinks if a < k < b] or None
    return integrate.quad(density, a, b, epsrel=1e-12, limit=200, points=points)[0]


def _bin_probabilities(density, edges, kinks=()):
    norm = _quad(density, edges[0], edges[-1], kinks)
    return np.array([_quad(density, a, b, kinks) for a, b in zip(edges[:-1], edges[1:])]) / norm


TABLE_NODES = jnp.array([60.0, 75.0, 75.0, 88.0, 91.0, 92.0, 97.0, 130.0]) ** 2
"""GeV²: a repeated node, segments flat, rising and falling by up to e³⁹, and a range
(70–120 GeV) that cuts into the first and last segments."""
TABLE_LOG_DENSITY = jnp.array([-3.0, 0.0, 0.0, 2.0, 9.0, 9.0, -30.0, -25.0])

INVARIANT_TARGETS = {
    "breit-wigner Z": (BreitWignerInvariant(MZ, WZ), lambda s: 1.0 / ((s - MZ**2) ** 2 + (MZ * WZ) ** 2), 60.0**2, 120.0**2),
    "power-law nu=1": (PowerLawInvariant(nu=1.0), lambda s: 1.0 / s, 10.0**2, 1000.0**2),
    "power-law nu=0.7 pole": (PowerLawInvariant(nu=0.7, pole=-(MW**2)), lambda s: (s + MW**2) ** -0.7, 0.0, 500.0**2),
    "flat": (FlatInvariant(), lambda s: 1.0, 5.0, 50.0),
    "gaussian truncated": (GaussianInvariant(95.0**2, 900.0), lambda s: jnp.exp(-0.5 * ((s - 95.0**2) / 900.0) ** 2),
                           80.0**2, 100.0**2),
    # A narrow resonance on a wider resolution peak beside it (the MEM use, MoMEMta-style),
    # and a three-component mixture with a flat floor.
    "mixture bw+gaussian": (MixtureInvariant([BreitWignerInvariant(MZ, WZ), GaussianInvariant(93.0**2, 400.0)], [0.7, 0.3]),
                            None, 70.0**2, 110.0**2),
    "truncated bw": (TruncatedInvariant(BreitWignerInvariant(MZ, WZ), 89.0**2, 95.0**2),
                     lambda s: jnp.where((s >= 89.0**2) & (s <= 95.0**2), 1.0 / ((s - MZ**2) ** 2 + (MZ * WZ) ** 2), 0.0),
                     80.0**2, 100.0**2),
    "mixture truncated-bw+gaussian": (MixtureInvariant([TruncatedInvariant(BreitWignerInvariant(MZ, WZ), 85.0**2, 93.0**2),
                                                        GaussianInvariant(90.0**2, 300.0)], [0.6, 0.4]),
                                      None, 70.0**2, 110.0**2),
    "mixture bw+power-law+flat": (MixtureInvariant([BreitWignerInvariant(MZ, WZ), PowerLawInvariant(nu=1.0), FlatInvariant()],
                                                   [0.5, 0.3, 0.2]), None, 20.0**2, 150.0**2),
    # Log-linear between the nodes, by definition (numpy's interpolation, not the map's segments).
    "tabulated": (TabulatedInvariant(TABLE_NODES, TABLE_LOG_DENSITY),
                  lambda s: jnp.exp(jnp.interp(s, TABLE_NODES, TABLE_LOG_DENSITY)), 70.0**2, 120.0**2),
}

KINKS = {"truncated bw": (89.0**2, 95.0**2), "mixture truncated-bw+gaussian": (85.0**2, 93.0**2),
         "tabulated": tuple(float(s) for s in TABLE_NODES)}
"""Where the truncated target densities step to zero (GeV²), for the quadratures."""


def _mixture_density(mixture, s_min, s_max):
    """The mixture's normalised density from its components' own densities, ``exp(−log w_c)``."""
    return lambda s: sum(a * jnp.exp(-c.inverse(jnp.asarray(s), s_min, s_max)[1])
                         for a, c in zip(mixture.shares, mixture.components))


@pytest.mark.parametrize("name", INVARIANT_TARGETS)
def test_invariant_maps_reproduce_target_density(name):
    mapping, density, s_min, s_max = INVARIANT_TARGETS[name]
    density = density or _mixture_density(mapping, s_min, s_max)
    n = 200_000
    s, log_w = mapping.forward(uniform(9, (n,)), s_min, s_max)
    edges = np.quantile(np.asarray(s), np.linspace(0, 1, 21))
    edges[0], edges[-1] = s_min, s_max
    kinks = KINKS.get(name, ())
    expected = _bin_probabilities(density, edges, kinks)
    counts = np.histogram(np.asarray(s), bins=edges)[0]
    assert_within_sigma(counts / n, np.sqrt(n * expected * (1 - expected)) / n, expected, what=name)
    # The weight is 1/(normalised target density): ∫ ds over the range exactly.
    norm = _quad(density, s_min, s_max, kinks)
    assert_close(jnp.exp(log_w) * jax.vmap(density)(s), norm, rtol=1e-9)


@pytest.mark.parametrize("name", INVARIANT_TARGETS)
def test_invariant_maps_round_trip_and_weight_is_the_jacobian(name):
    """``inverse(forward(r)) = r``, both directions give the same weight, and the weight is
    ``ds/dr`` by autodiff (for the mixtures: through the implicit derivative of the root)."""
    mapping, _, s_min, s_max = INVARIANT_TARGETS[name]
    r = uniform(11, (512,))
    s, log_w = mapping.forward(r, s_min, s_max)
    r_back, log_w_back = mapping.inverse(s, s_min, s_max)
    assert_close(r_back, r, atol=1e-12, what="r round trip")
    assert_close(log_w_back, log_w, atol=1e-9, what="log weight both ways")
    jacobian = jax.vmap(jax.grad(lambda x: mapping.forward(x, s_min, s_max)[0]))(r)
    assert_close(jnp.log(jacobian), log_w, atol=1e-9, what="log ds/dr")


def test_mixture_gradients_wrt_component_parameters_match_finite_differences():
    """The point ``s(r)`` and its weight move with the resonance mass, width and the shares
    (implicit function theorem at the root), as central differences say."""

    def point(params):
        mass, width, share, centre = params
        mixture = MixtureInvariant([BreitWignerInvariant(mass, width), GaussianInvariant(centre, 500.0)],
                                   jnp.stack([share, 1 - share]))
        s, log_w = mixture.forward(jnp.array([0.05, 0.4, 0.55, 0.9]), 70.0**2, 110.0**2)
        return jnp.concatenate([s / 1e3, log_w])

    params = jnp.array([MZ, WZ, 0.6, 93.0**2])
    jacobian = jax.jacfwd(point)(params)
    for i, step in enumerate([1e-4, 1e-5, 1e-6, 1e-2]):
        numeric = (point(params.at[i].add(step)) - point(params.at[i].add(-step))) / (2 * step)
        assert_close(jacobian[:, i], numeric, rtol=1e-6, atol=1e-7, what=f"d/d parameter {i}")
    assert_close(jax.jacrev(point)(params), jacobian, rtol=1e-10, atol=1e-12, what="reverse = forward mode")


def test_mixture_rejects_shares_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one share per component"):
        MixtureInvariant([FlatInvariant(), FlatInvariant()], [1.0])


def test_tabulated_map_gradients_wrt_nodes_and_densities_match_finite_differences():
    """``s(r)`` and its weight move with the table's nodes and log densities as central
    differences say (away from the nodes, where the segment a point falls in is fixed)."""

    nodes = jnp.array([60.0, 75.0, 88.0, 91.0, 92.0, 97.0, 130.0]) ** 2  # no repeated node: each moves alone
    log_density = jnp.array([-3.0, 0.0, 2.0, 9.0, 9.0, -30.0, -25.0])  # a flat segment: c = 0 exactly
    r = jnp.array([0.05, 0.3, 0.55, 0.62, 0.9])

    def point(table):
        s, log_w = TabulatedInvariant(table[:7], table[7:]).forward(r, 70.0**2, 120.0**2)
        r_back, _ = TabulatedInvariant(table[:7], table[7:]).inverse(jnp.array([85.0, 91.5, 95.0]) ** 2, 70.0**2, 120.0**2)
        return jnp.concatenate([s / 1e3, log_w, r_back])

    table = jnp.concatenate([nodes, log_density])
    jacobian = jax.jacfwd(point)(table)
    step = jnp.concatenate([jnp.full(7, 1e-3), jnp.full(7, 1e-6)])
    numeric = jnp.stack([(point(table.at[i].add(step[i])) - point(table.at[i].add(-step[i]))) / (2 * step[i])
                         for i in range(14)], -1)
    assert_close(jacobian, numeric, rtol=1e-5, atol=1e-7, what="d(s, log w)/d(nodes, log q)")


def test_tabulated_map_rejects_mismatched_or_too_few_nodes():
    with pytest.raises(ValueError, match="at least two nodes"):
        TabulatedInvariant(jnp.arange(3.0), jnp.zeros(4))
    with pytest.raises(ValueError, match="at least two nodes"):
        TabulatedInvariant(jnp.ones(1), jnp.zeros(1))


def test_parton_fractions_cover_dx1_dx2():
    """∫ dx₁ dx₂ θ(x₁x₂S > ŝ_min) x₁ x₂ = closed form, via the fractions' weights (5σ)."""
    s_hadronic, s_min = 13000.0**2, 200.0**2
    tau0 = s_min / s_hadronic
    exact = 0.25 - tau0**2 / 4 + tau0**2 * math.log(tau0) / 2  # ∫_{τ0}^1 dτ τ ln(1/τ)
    for mapping in (PartonFractions(), PartonFractions(BreitWignerInvariant(MZ * 3, 50.0))):
        x, log_w = mapping.forward(uniform(10, (200_000, 2)), s_hadronic, s_min)
        values = jnp.exp(log_w) * x[:, 0] * x[:, 1]
        assert_within_sigma(values.mean(), values.std() / math.sqrt(values.size), exact, what="x1 x2")
        r_back, log_w_back = mapping.inverse(x, s_hadronic, s_min)
        assert_close(log_w_back, log_w, atol=1e-10)
        assert np.all((x > 0) & (x <= 1)) and np.all(x[:, 0] * x[:, 1] * s_hadronic >= s_min * (1 - 1e-12))


def test_parton_fractions_with_an_upper_bound():
    """∫ dx₁ dx₂ θ(ŝ_min < x₁x₂S < ŝ_max) x₁ x₂ = ∫_{τ0}^{τ1} dτ τ ln(1/τ) (5σ), and the round trip."""
    s_hadronic, s_min, s_max = 13000.0**2, 200.0**2, 3000.0**2

    def antiderivative(t):  # d/dτ of this is τ ln(1/τ)
        return -(t**2) * math.log(t) / 2 + t**2 / 4

    exact = antiderivative(s_max / s_hadronic) - antiderivative(s_min / s_hadronic)
    mapping = PartonFractions()
    x, log_w = mapping.forward(uniform(14, (200_000, 2)), s_hadronic, s_min, s_max)
    values = jnp.exp(log_w) * x[:, 0] * x[:, 1]
    assert_within_sigma(values.mean(), values.std() / math.sqrt(values.size), exact, what="bounded")
    assert np.all(x[:, 0] * x[:, 1] * s_hadronic <= s_max * (1 + 1e-12))
    r_back, log_w_back = mapping.inverse(x, s_hadronic, s_min, s_max)
    assert_close(log_w_back, log_w, atol=1e-10)
    assert_close(r_back, uniform(14, (200_000, 2)), atol=1e-8)


def _with_leaf(module, where, value):
    return eqx.tree_at(where, module, value)


MASS_GRADIENT_CASES = {
    "rambo masses": (RamboOnDiet([MT, MB, 20.0]), lambda m: m.masses, np.array([MT, MB, 20.0]), lambda m, r: m.forward(r, P_MOVING)),
    "breit-wigner mass and width": (
        DecayChain(FinalState(0, MB), Propagator(BreitWignerInvariant(MW, WW), FinalState(1), FinalState(2))),
        lambda m: (m.right.invariant.mass, m.right.invariant.width),
        np.array([MW, WW]),
        lambda m, r: m.forward(r, TOP),
    ),
    "chain final-state mass": (
        DecayChain(FinalState(0, MB), Propagator(BreitWignerInvariant(MW, WW), FinalState(1), FinalState(2, 1.0))),
        lambda m: (m.left.mass, m.right.right.mass),
        np.array([MB, 1.0]),
        lambda m, r: m.forward(r, TOP),
    ),
    "t-channel pole": (
        TChannel(PowerLawInvariant(nu=0.8, pole=-(MW**2))),
        lambda m: m.invariant.pole,
        np.array(-(MW**2)),
        lambda m, r: m.forward(r, jnp.array([600.0, 0, 0, 600.0]), jnp.array([400.0, 0, 0, -400.0]), MT, 20.0),
    ),
}


@pytest.mark.parametrize("name", MASS_GRADIENT_CASES)
def test_gradients_wrt_masses_and_widths_match_finite_differences(name):
    module, where, value, run = MASS_GRADIENT_CASES[name]
    n_random = module.n_random if hasattr(module, "n_random") else 2
    r = uniform(11, (n_random,)) * 0.8 + 0.1
    projection = jnp.asarray(np.random.default_rng(0).normal(size=run(module, r)[0].shape))
    several = isinstance(where(module), tuple)

    def scalar(parameters):
        params = jnp.asarray(parameters)
        momenta, log_w = run(_with_leaf(module, where, tuple(params) if several else params), r)
        return log_w + jnp.sum(momenta * projection) / 100.0

    gradient = jax.grad(scalar)(jnp.asarray(value, dtype=jnp.float64))
    assert np.all(np.isfinite(gradient))
    assert_close(gradient, central_difference(scalar, value, eps=1e-6), rtol=1e-5, atol=1e-8, what=name)


def test_float32_smoke():
    """The mappings run in single precision and keep the dtype."""
    rambo = RamboOnDiet(jnp.array([MT, MT, 0.0], dtype=jnp.float32))
    r = jax.random.uniform(jax.random.key(12), (16, rambo.n_random), dtype=jnp.float32)
    momenta, log_w = eqx.filter_jit(rambo.forward)(r, P_AT_REST.astype(jnp.float32))
    assert momenta.dtype == jnp.float32 and log_w.dtype == jnp.float32
    assert_close(jnp.sum(momenta, axis=-2), jnp.broadcast_to(P_AT_REST, (16, 4)), atol=1e-2)


def test_jit_vmap_grad_through_mappings():
    chain = CASES[-2].mapping
    r = uniform(13, (32, chain.n_random))
    direct = chain.forward(r, TOP)[1]
    assert_close(jax.jit(chain.forward)(r, TOP)[1], direct, rtol=1e-13)
    assert_close(jax.vmap(chain.forward, in_axes=(0, None))(r, TOP)[1], direct, rtol=1e-13)
    gradient = jax.grad(lambda x: chain.forward(x, TOP)[1].sum())(r)
    assert np.all(np.isfinite(gradient))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="3n - 4|r\\[..., 5\\]"):
        RamboOnDiet([0.0, 0.0, 0.0]).forward(jnp.zeros((4, 4)), P_AT_REST)
    with pytest.raises(ValueError, match="n >= 2"):
        RamboOnDiet([1.0])
    with pytest.raises(ValueError, match="indices"):
        DecayChain(FinalState(0), FinalState(2))
