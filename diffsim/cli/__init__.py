"""The ``diffsim`` command line (the one place that imports diffsim, models and inference).

Subcommands: ``processes`` (models, processes, parameters), ``xsec`` (σ to a requested
precision), ``generate`` (unweighted events streamed to a resumable LHE file) and ``plot``
(histograms of LHE files). Settings live in a TOML run card (:mod:`~diffsim.cli.card`).
Modules: :mod:`~diffsim.cli.main` (argument parsing, exit codes), :mod:`~diffsim.cli.errors`,
:mod:`~diffsim.cli.catalogue` (models, processes, parameters), :mod:`~diffsim.cli.setup`
(card → integrand), :mod:`~diffsim.cli.collider` (fixed-energy collisions),
:mod:`~diffsim.cli.sampler` (training and its cache), :mod:`~diffsim.cli.xsec`,
:mod:`~diffsim.cli.generate`, :mod:`~diffsim.cli.plot`.
"""

from diffsim.cli.main import main

__all__ = ["main"]
