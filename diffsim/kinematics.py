"""Four-vector algebra on ``(..., 4)`` arrays laid out as ``(E, px, py, pz)`` in GeV.

Every function broadcasts over leading axes and is safe under ``jit``, ``vmap`` and
``grad``. Where an observable has a square root, logarithm or ``arctan2`` whose derivative
diverges at a boundary (zero transverse momentum, a particle at rest, a massless particle,
a momentum along the beam), the double-``where`` pattern keeps the gradient finite:

* ``mass`` of a light-like momentum is 0 with zero gradient; space-like momenta get a
  negative mass ``-sqrt(-m²)`` (ROOT's ``TLorentzVector::M`` convention);
* ``phi`` at zero transverse momentum is 0 with zero gradient;
* ``rapidity`` and ``pseudorapidity`` of a momentum along the beam are ``±inf`` with zero
  gradient (0 for a vanishing three-momentum);
* ``delta_r`` of coincident directions is 0 with zero gradient.

Boost conventions are active: :func:`boost` gives a particle at rest the velocity
``beta``; :func:`boost_from_rest_frame` takes a momentum given in the rest frame of ``q``
to the frame in which ``q`` is measured, :func:`boost_to_rest_frame` is its inverse.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

__all__ = [
    "boost",
    "boost_from_rest_frame",
    "boost_longitudinal",
    "boost_to_rest_frame",
    "cos_theta_star",
    "delta_phi",
    "delta_r",
    "energy",
    "invariant_mass",
    "kallen_lambda",
    "mass",
    "mass_squared",
    "minkowski_dot",
    "momentum_magnitude",
    "phi",
    "pseudorapidity",
    "pt",
    "rapidity",
    "rotate",
    "rotation_from_z",
    "rotation_matrix",
    "safe_sqrt",
    "three_momentum",
    "two_body_momentum",
]

FourVector = Float[Array, "*batch 4"]
Scalar = Float[Array, "*batch"]


def safe_sqrt(x: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
    """``sqrt(x)`` for ``x > 0`` and 0 otherwise, with zero (not infinite) gradient at ``x <= 0``."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def energy(p: FourVector) -> Scalar:
    """Energy component ``E`` (GeV)."""
    return p[..., 0]


def three_momentum(p: FourVector) -> Float[Array, "*batch 3"]:
    """Spatial part ``(px, py, pz)`` (GeV)."""
    return p[..., 1:]


def minkowski_dot(p: FourVector, q: FourVector) -> Scalar:
    """Minkowski product ``p·q = E_p E_q - p⃗·q⃗`` with metric (+,-,-,-) (GeV²)."""
    return p[..., 0] * q[..., 0] - jnp.sum(p[..., 1:] * q[..., 1:], axis=-1)


def mass_squared(p: FourVector) -> Scalar:
    """Invariant mass squared ``m² = E² - |p⃗|²`` (GeV²)."""
    return minkowski_dot(p, p)


def mass(p: FourVector) -> Scalar:
    """Invariant mass ``sign(m²) sqrt(|m²|)`` (GeV); zero gradient where ``m² = 0``."""
    m2 = mass_squared(p)
    return jnp.sign(m2) * safe_sqrt(jnp.abs(m2))


def momentum_magnitude(p: FourVector) -> Scalar:
    """Length of the three-momentum ``|p⃗|`` (GeV); zero gradient at rest."""
    return safe_sqrt(jnp.sum(p[..., 1:] ** 2, axis=-1))


def pt(p: FourVector) -> Scalar:
    """Transverse momentum ``sqrt(px² + py²)`` (GeV); zero gradient at ``pT = 0``."""
    return safe_sqrt(p[..., 1] ** 2 + p[..., 2] ** 2)


def _signed_infinity(x: Scalar) -> Scalar:
    """``+inf`` for positive, ``-inf`` for negative and 0 for zero ``x`` (no gradient)."""
    return jnp.where(x > 0, jnp.inf, jnp.where(x < 0, -jnp.inf, 0.0)).astype(x.dtype)


def rapidity(p: FourVector) -> Scalar:
    """Rapidity ``y = ½ ln((E + pz)/(E - pz))``; ``±inf`` (zero gradient) when ``E = |pz|``."""
    e, pz = p[..., 0], p[..., 3]
    plus, minus = e + pz, e - pz
    finite = (plus > 0) & (minus > 0)
    ratio = jnp.where(finite, plus, 1.0) / jnp.where(finite, minus, 1.0)
    return jnp.where(finite, 0.5 * jnp.log(ratio), _signed_infinity(pz))


def pseudorapidity(p: FourVector) -> Scalar:
    """Pseudorapidity ``η = asinh(pz/pT)``; ``±inf`` (zero gradient) at ``pT = 0``."""
    transverse = pt(p)
    pz = p[..., 3]
    finite = transverse > 0
    eta = jnp.arcsinh(pz / jnp.where(finite, transverse, 1.0))
    return jnp.where(finite, eta, _signed_infinity(pz))


def phi(p: FourVector) -> Scalar:
    """Azimuth ``atan2(py, px)`` in ``(-π, π]``; 0 with zero gradient at ``pT = 0``."""
    px, py = p[..., 1], p[..., 2]
    finite = (px != 0) | (py != 0)
    return jnp.where(finite, jnp.arctan2(py, jnp.where(finite, px, 1.0)), 0.0)


def delta_phi(p: FourVector, q: FourVector) -> Scalar:
    """Azimuthal difference ``φ_p - φ_q`` wrapped into ``[-π, π)``."""
    return jnp.mod(phi(p) - phi(q) + jnp.pi, 2 * jnp.pi) - jnp.pi


def delta_r(p: FourVector, q: FourVector) -> Scalar:
    """Angular distance ``ΔR = sqrt(Δη² + Δφ²)`` (pseudorapidity-based)."""
    return safe_sqrt((pseudorapidity(p) - pseudorapidity(q)) ** 2 + delta_phi(p, q) ** 2)


def invariant_mass(momenta: Float[Array, "*batch n 4"]) -> Scalar:
    """Invariant mass of the sum of ``n`` momenta along axis ``-2`` (GeV).

    Select particles by indexing first, e.g. ``invariant_mass(p[..., 2:4, :])``.
    """
    return mass(jnp.sum(momenta, axis=-2))


def kallen_lambda(a: Scalar, b: Scalar, c: Scalar) -> Scalar:
    """Källén function ``λ(a, b, c) = a² + b² + c² - 2ab - 2ac - 2bc`` (arguments in GeV²)."""
    return a**2 + b**2 + c**2 - 2.0 * (a * b + a * c + b * c)


def two_body_momentum(s: Scalar, m1: Scalar, m2: Scalar) -> Scalar:
    """Momentum of either daughter in the rest frame of a decay ``√s → m1 m2``:
    ``|p*| = sqrt(λ(s, m1², m2²))/(2√s)`` (GeV; ``s`` in GeV², masses in GeV).

    ``λ`` is evaluated in its factorised form ``(s - (m1+m2)²)(s - (m1-m2)²)``, which keeps
    full relative precision near threshold (the expanded form loses it to cancellation).
    Zero, with zero gradient, at and below threshold.
    """
    lam = (s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2)
    return safe_sqrt(lam) / (2.0 * jnp.sqrt(s))


def boost(p: FourVector, beta: Float[Array, "*batch 3"]) -> FourVector:
    """Active Lorentz boost with velocity ``beta`` (``|β| < 1``).

    ``E' = γ(E + β⃗·p⃗)``, ``p⃗' = p⃗ + β⃗ [γ²/(γ+1) β⃗·p⃗ + γE]``; the form ``γ²/(γ+1)``
    replaces ``(γ-1)/β²`` so ``β = 0`` is regular for values and gradients.
    """
    beta2 = jnp.sum(beta**2, axis=-1)
    gamma = 1.0 / jnp.sqrt(1.0 - beta2)
    beta_dot_p = jnp.sum(beta * p[..., 1:], axis=-1)
    e = p[..., 0]
    new_e = gamma * (e + beta_dot_p)
    coefficient = gamma**2 / (gamma + 1.0) * beta_dot_p + gamma * e
    new_p = p[..., 1:] + coefficient[..., None] * beta
    return jnp.concatenate([new_e[..., None], new_p], axis=-1)


def boost_from_rest_frame(p: FourVector, q: FourVector, q_mass: Scalar | None = None) -> FourVector:
    """Take ``p``, given in the rest frame of ``q``, to the frame where ``q`` is measured.

    With ``m = sqrt(q²) > 0``: ``E' = (E q⁰ + p⃗·q⃗)/m`` and ``p⃗' = p⃗ + q⃗ (E + E')/(q⁰ + m)``
    (HELAS ``boostx``); exact for time-like ``q``, regular at ``q⃗ = 0``. Pass ``q_mass``
    (GeV) when it is known exactly, to avoid the cancellation in ``sqrt(E² - |q⃗|²)``.
    """
    m = jnp.sqrt(mass_squared(q)) if q_mass is None else q_mass
    q0 = q[..., 0]
    new_e = (p[..., 0] * q0 + jnp.sum(p[..., 1:] * q[..., 1:], axis=-1)) / m
    factor = (p[..., 0] + new_e) / (q0 + m)
    new_p = p[..., 1:] + factor[..., None] * q[..., 1:]
    return jnp.concatenate([new_e[..., None], new_p], axis=-1)


def boost_to_rest_frame(p: FourVector, q: FourVector, q_mass: Scalar | None = None) -> FourVector:
    """Express ``p`` in the rest frame of the time-like momentum ``q`` (inverse of
    :func:`boost_from_rest_frame`; ``q_mass`` as there)."""
    q_reversed = jnp.concatenate([q[..., :1], -q[..., 1:]], axis=-1)
    return boost_from_rest_frame(p, q_reversed, q_mass)


def boost_longitudinal(p: FourVector, y: Scalar) -> FourVector:
    """Boost along +z by rapidity ``y``: ``E' = E cosh y + pz sinh y``, ``pz' = pz cosh y + E sinh y``."""
    y = jnp.asarray(y)
    ch, sh = jnp.cosh(y), jnp.sinh(y)
    e, pz = p[..., 0], p[..., 3]
    return jnp.stack([e * ch + pz * sh, p[..., 1], p[..., 2], pz * ch + e * sh], axis=-1)


def rotation_matrix(axis: Float[Array, "*batch 3"], angle: Scalar) -> Float[Array, "*batch 3 3"]:
    """Rotation by ``angle`` (radians, right-handed) about ``axis`` (Rodrigues' formula)."""
    axis = jnp.asarray(axis)
    norm = safe_sqrt(jnp.sum(axis**2, axis=-1))
    n = axis / jnp.where(norm > 0, norm, 1.0)[..., None]
    angle = jnp.asarray(angle)
    c, s = jnp.cos(angle)[..., None, None], jnp.sin(angle)[..., None, None]
    zero = jnp.zeros_like(n[..., 0])
    cross = jnp.stack(
        [
            jnp.stack([zero, -n[..., 2], n[..., 1]], axis=-1),
            jnp.stack([n[..., 2], zero, -n[..., 0]], axis=-1),
            jnp.stack([-n[..., 1], n[..., 0], zero], axis=-1),
        ],
        axis=-2,
    )
    outer = n[..., :, None] * n[..., None, :]
    identity = jnp.eye(3, dtype=n.dtype)
    return c * identity + s * cross + (1.0 - c) * outer


def rotation_from_z(direction: Float[Array, "*batch 3"]) -> Float[Array, "*batch 3 3"]:
    """The rotation ``R = R_z(φ) R_y(θ)`` taking the +z axis onto ``direction``.

    ``θ, φ`` are the polar and azimuthal angles of ``direction``; along ±z, ``φ = 0``
    (zero gradient), so a direction along -z gives a rotation by π about y.
    """
    direction = jnp.asarray(direction)
    length = safe_sqrt(jnp.sum(direction**2, axis=-1))
    cos_theta = direction[..., 2] / jnp.where(length > 0, length, 1.0)
    sin_theta = pt(jnp.concatenate([jnp.zeros_like(direction[..., :1]), direction], axis=-1))
    sin_theta = sin_theta / jnp.where(length > 0, length, 1.0)
    azimuth = phi(jnp.concatenate([jnp.zeros_like(direction[..., :1]), direction], axis=-1))
    cp, sp = jnp.cos(azimuth), jnp.sin(azimuth)
    zero = jnp.zeros_like(cp)
    return jnp.stack(
        [
            jnp.stack([cp * cos_theta, -sp, cp * sin_theta], axis=-1),
            jnp.stack([sp * cos_theta, cp, sp * sin_theta], axis=-1),
            jnp.stack([-sin_theta, zero, cos_theta], axis=-1),
        ],
        axis=-2,
    )


def rotate(p: FourVector, matrix: Float[Array, "*batch 3 3"]) -> FourVector:
    """Apply the rotation ``matrix`` to the spatial part of ``p`` (energy unchanged)."""
    spatial = jnp.einsum("...ij,...j->...i", matrix, p[..., 1:])
    return jnp.concatenate([p[..., :1], spatial], axis=-1)


def cos_theta_star(
    p: FourVector, frame: FourVector, axis: Float[Array, "*batch 3"] | None = None
) -> Scalar:
    """Cosine of the polar angle of ``p`` in the rest frame of ``frame``.

    The angle is measured from ``axis`` (a spatial direction, default +z). Pass
    ``axis=frame[..., 1:]`` for the helicity angle (the flight direction of ``frame``).
    """
    rest = boost_to_rest_frame(p, frame)[..., 1:]
    if axis is None:
        axis = jnp.zeros_like(rest).at[..., 2].set(1.0)
    axis = jnp.broadcast_to(axis, rest.shape)
    norms = safe_sqrt(jnp.sum(rest**2, axis=-1) * jnp.sum(axis**2, axis=-1))
    return jnp.sum(rest * axis, axis=-1) / jnp.where(norms > 0, norms, 1.0)
