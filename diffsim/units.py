"""Unit conversions. diffsim computes in GeV and reports cross sections in pb."""

__all__ = ["PB_PER_INVERSE_GEV2"]

PB_PER_INVERSE_GEV2 = 0.3893794e9
"""1 GeV⁻² = 0.3893794 × 10⁹ pb (ħ²c², PDG)."""
