"""Helicity amplitudes: HELAS external wavefunctions and ALOHA vertices in JAX.

Wavefunctions use MadGraph's CUDACPP layout (two momentum-flow components, then 4 spinor /
4 polarisation / 1 scalar components) and reproduce MadGraph's HELAS numbers; vertices are
generic (chiral couplings, ALOHA structure numbers) with ALOHA's normalisation, so a process
written with them gives MadGraph's |M|². Everything broadcasts over leading batch axes
(events, helicity tables) and is differentiable in momenta, masses, widths and couplings.
See :mod:`~diffsim.amplitudes.propagators` for the Dirac basis and factor conventions.

Name map (HELAS: KEK-91-11; ALOHA: arXiv:1108.2041; ``n`` is the UFO Lorentz-structure
number; ``gL, gR`` the chiral couplings; ``m, w`` mass and width of the off-shell line in GeV)::

    diffsim                                    MadGraph / ALOHA
    ixxxxx(p, mass, hel, nsf)                  IXXXXX(P, FMASS, NHEL, NSF, FI)
    oxxxxx(p, mass, hel, nsf)                  OXXXXX(P, FMASS, NHEL, NSF, FO)
    vxxxxx(p, mass, hel, nsv)                  VXXXXX(P, VMASS, NHEL, NSV, VC)
    sxxxxx(p, nss)                             SXXXXX(P, NSS, SC)
    ipzxxx, imzxxx, ixzxxx (p, hel, nsf)       CUDACPP massless shortcuts of IXXXXX
    opzxxx, omzxxx, oxzxxx (p, hel, nsf)       CUDACPP massless shortcuts of OXXXXX
    ffv_amplitude(f_bar, f, v, gL, gR)         FFVn_0(F1=f, F2=f_bar, V3=v, COUP)
    ffv_vector_current(f_bar, f, gL, gR, m, w) FFVn_3(F1=f, F2=f_bar, COUP, M3, W3); FFVnP0_3
    ffv_fermion_out(f_bar, v, gL, gR, m, w)    FFVn_1(F2=f_bar, V3=v, COUP, M1, W1)
    ffv_fermion_in(f, v, gL, gR, m, w)         FFVn_2(F1=f, V3=v, COUP, M2, W2)
    ffs_amplitude(f_bar, f, s, gL, gR)         FFSn_0(F1=f, F2=f_bar, S3=s, COUP)
    ffs_scalar_current(f_bar, f, gL, gR, m, w) FFSn_3(F1=f, F2=f_bar, COUP, M3, W3)
    ffs_fermion_out(f_bar, s, gL, gR, m, w)    FFSn_1(F2=f_bar, S3=s, COUP, M1, W1)
    ffs_fermion_in(f, s, gL, gR, m, w)         FFSn_2(F1=f, S3=s, COUP, M2, W2)
    vvv_amplitude(v1, v2, v3, c)               VVV1_0(V1, V2, V3, COUP)
    vvv_vector_current(v2, v3, c, m, w)        VVV1P0_1(V2, V3, COUP, M1, W1); VVV1_1 if m ≠ 0
    vvvv_amplitude(v1, v2, v3, v4, c, structure=n)         VVVVn_0(V1, V2, V3, V4, COUP)
    vvvv_vector_current(v2, v3, v4, c, m, w, structure=n)  VVVVnP0_1; VVVVn_1 if m ≠ 0
    vvs_amplitude(v1, v2, s, c)                VVS1_0(V1, V2, S3, COUP)
    vvs_scalar_current(v1, v2, c, m, w)        VVS1_3(V1, V2, COUP, M3, W3)
    vvs_vector_current(v, s, c, m, w)          VVS1_1(V2=v, S3=s, COUP, M1, W1)

ALOHA's ``F1`` is the *flowing-in* (``ixxxxx``-type, column) spinor and ``F2`` the
*flowing-out* (``oxxxxx``-type, row) one; diffsim names them ``f`` and ``f_bar``. Chiral
couplings: a structure ``a γ^μP_L + b γ^μP_R`` (FFV) or ``a P_L + b P_R`` (FFS) with coupling
``C`` is ``g_left = a C``, ``g_right = b C`` (FFV1 ``(C, C)``, FFV2 ``(C, 0)``, FFV3
``(C, -2C)``, FFV4 ``(C, 2C)``, FFV5 ``(C, 4C)``, summed ``FFV2_4(C1, C2)`` ``(C1+C2, 2C2)``).
"""

from diffsim.amplitudes import propagators
from diffsim.amplitudes.propagators import flow_momentum
from diffsim.amplitudes.vertices import (
    VVVV_STRUCTURES,
    ffs_amplitude,
    ffs_fermion_in,
    ffs_fermion_out,
    ffs_scalar_current,
    ffv_amplitude,
    ffv_fermion_in,
    ffv_fermion_out,
    ffv_vector_current,
    vvs_amplitude,
    vvs_scalar_current,
    vvs_vector_current,
    vvv_amplitude,
    vvv_vector_current,
    vvvv_amplitude,
    vvvv_vector_current,
)
from diffsim.amplitudes.wavefunctions import (
    imzxxx,
    ipzxxx,
    ixxxxx,
    ixzxxx,
    omzxxx,
    opzxxx,
    oxxxxx,
    oxzxxx,
    sxxxxx,
    vxxxxx,
)

__all__ = [
    "VVVV_STRUCTURES",
    "ffs_amplitude",
    "ffs_fermion_in",
    "ffs_fermion_out",
    "ffs_scalar_current",
    "ffv_amplitude",
    "ffv_fermion_in",
    "ffv_fermion_out",
    "ffv_vector_current",
    "flow_momentum",
    "imzxxx",
    "ipzxxx",
    "ixxxxx",
    "ixzxxx",
    "omzxxx",
    "opzxxx",
    "oxxxxx",
    "oxzxxx",
    "propagators",
    "sxxxxx",
    "vvs_amplitude",
    "vvs_scalar_current",
    "vvs_vector_current",
    "vvv_amplitude",
    "vvv_vector_current",
    "vvvv_amplitude",
    "vvvv_vector_current",
    "vxxxxx",
]
