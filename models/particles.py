"""The particle table: MadGraph names, PDG ids, spins, colour and electroweak charges.

Names follow MadGraph's ``sm`` model (``e-``, ``e+``, ``u~``, ``t~``, ``g``, ``a``, ``z``,
``w+``, ``h``, …; ``zp`` for the Z′ of :mod:`diffsim.models.zprime`) so that processes can be addressed in MadGraph syntax. Masses and widths
are not stored here: they are parameters of a model (``mass_parameter`` / ``width_parameter``
name the field of :class:`~diffsim.models.sm.StandardModel` that holds them, ``None`` for a
particle that is massless or stable in the ``sm`` defaults).
"""

import dataclasses

__all__ = ["PARTICLES", "Particle", "lookup"]


@dataclasses.dataclass(frozen=True)
class Particle:
    """One particle species.

    ``spin`` is twice the spin (0 scalar, 1 fermion, 2 vector); ``colour`` is the SU(3)
    representation (1, 3, -3 for an antiquark, 8); ``charge`` in units of the positron
    charge; ``isospin`` the weak isospin T₃ of the left-handed component (fermions).
    """

    name: str
    pdg_id: int
    spin: int
    colour: int
    charge: float
    isospin: float = 0.0
    mass_parameter: str | None = None
    width_parameter: str | None = None

    @property
    def is_antiparticle(self) -> bool:
        return self.pdg_id < 0

    def antiparticle(self) -> "Particle":
        """The charge conjugate (itself for self-conjugate bosons)."""
        return _BY_PDG.get(-self.pdg_id, self)


def _fermion(name, anti, pdg, colour, charge, isospin, mass=None, width=None):
    particle = Particle(name, pdg, 1, colour, charge, isospin, mass, width)
    conjugate = Particle(anti, -pdg, 1, -colour if colour == 3 else colour, -charge, -isospin, mass, width)
    return particle, conjugate


PARTICLES: dict[str, Particle] = {
    p.name: p
    for p in (
        *_fermion("d", "d~", 1, 3, -1 / 3, -1 / 2),
        *_fermion("u", "u~", 2, 3, 2 / 3, 1 / 2),
        *_fermion("s", "s~", 3, 3, -1 / 3, -1 / 2),
        *_fermion("c", "c~", 4, 3, 2 / 3, 1 / 2),
        *_fermion("b", "b~", 5, 3, -1 / 3, -1 / 2, "mb"),
        *_fermion("t", "t~", 6, 3, 2 / 3, 1 / 2, "mt", "wt"),
        *_fermion("e-", "e+", 11, 1, -1.0, -1 / 2),
        *_fermion("ve", "ve~", 12, 1, 0.0, 1 / 2),
        *_fermion("mu-", "mu+", 13, 1, -1.0, -1 / 2),
        *_fermion("vm", "vm~", 14, 1, 0.0, 1 / 2),
        *_fermion("ta-", "ta+", 15, 1, -1.0, -1 / 2, "mta"),
        *_fermion("vt", "vt~", 16, 1, 0.0, 1 / 2),
        Particle("g", 21, 2, 8, 0.0),
        Particle("a", 22, 2, 1, 0.0),
        Particle("z", 23, 2, 1, 0.0, 0.0, "mz", "wz"),
        Particle("w+", 24, 2, 1, 1.0, 0.0, "mw", "ww"),
        Particle("w-", -24, 2, 1, -1.0, 0.0, "mw", "ww"),
        Particle("h", 25, 0, 1, 0.0, 0.0, "mh", "wh"),
        Particle("zp", 32, 2, 1, 0.0, 0.0, "mzp", "wzp"),
    )
}
_BY_PDG = {p.pdg_id: p for p in PARTICLES.values()}


def lookup(name: str) -> Particle:
    """The particle called ``name`` in MadGraph syntax; ``ValueError`` listing the known ones."""
    try:
        return PARTICLES[name]
    except KeyError:
        raise ValueError(
            f"unknown particle {name!r}; known particles: {', '.join(PARTICLES)}"
        ) from None
