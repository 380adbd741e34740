"""Physics content built from :mod:`diffsim`: parameter sets and processes.

Installed as ``diffsim.models`` (source folder ``models/``).
"""

__all__: list[str] = []
