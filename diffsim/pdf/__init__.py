"""Parton densities: LHAPDF6 sets evaluated in JAX as LHAPDF 6.5 evaluates them.

``load()`` returns the shipped default set NNPDF3.1 LO (αs(MZ) = 0.118; arXiv:1706.00428);
``load(name_or_path, member)`` any LHAPDF6 ``lhagrid1`` set (arXiv:1412.7420). The
:class:`PDF` it returns is an ``equinox.Module`` whose grid values are leaves, so
``jax.grad`` reaches x, Q and the grid; ``xfxQ``/``xfxQ2`` take a PDG id, ``xfxQ_all``
returns every flavour at once, ``alphasQ`` the set's αs (or pass :class:`FixedAlphaS` to
:meth:`PDF.with_alphas`).

Modules: :mod:`~diffsim.pdf.lhagrid` (file formats), :mod:`~diffsim.pdf.locate` (where sets
live), :mod:`~diffsim.pdf.knots` (knot search, LHAPDF's Hermite rule in ln Q²),
:mod:`~diffsim.pdf.interpolation` (``logcubic``), :mod:`~diffsim.pdf.extrapolation`
(``continuation``), :mod:`~diffsim.pdf.alphas` (``ipol``, ``analytic``,
fixed), :mod:`~diffsim.pdf.checks` (input checks), :mod:`~diffsim.pdf.evaluate` (batched
evaluation and derivatives), :mod:`~diffsim.pdf.set` (:class:`PDF`, :func:`load`).

Example::

    import diffsim, diffsim.pdf
    diffsim.enable_x64()
    pdf = diffsim.pdf.load()                      # NNPDF31_lo_as_0118, member 0
    pdf.xfxQ(21, 0.01, 91.1876)                   # x g(x, Q), Q in GeV
    pdf.xfxQ_all([0.01, 0.2], 100.0)              # (2, 11), in the order of pdf.flavours
    pdf.alphasQ(91.1876)                          # the set's αs (ipol table)
    pdf.with_alphas(diffsim.pdf.FixedAlphaS(0.118))
"""

from diffsim.pdf.alphas import AlphaS, AnalyticAlphaS, FixedAlphaS, IpolAlphaS
from diffsim.pdf.interpolation import LogBicubicGrid
from diffsim.pdf.locate import DEFAULT_SET, PDFSetNotFoundError, search_directories
from diffsim.pdf.set import PDF, load

__all__ = [
    "DEFAULT_SET",
    "PDF",
    "AlphaS",
    "AnalyticAlphaS",
    "FixedAlphaS",
    "IpolAlphaS",
    "LogBicubicGrid",
    "PDFSetNotFoundError",
    "load",
    "search_directories",
]
