"""Packaging: every source package is installed, under diffsim's names only."""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE_ROOTS = {"diffsim": "diffsim", "models": "diffsim.models", "inference": "diffsim.inference"}


def test_every_source_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder, name in SOURCE_ROOTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    assert found == listed, f"unlisted: {sorted(found - listed)}, stale: {sorted(listed - found)}"
    assert config["package-dir"] == {"diffsim": "diffsim", "diffsim.models": "models",
                                     "diffsim.inference": "inference"}


def test_importing_diffsim_leaves_jax_precision_alone():
    import subprocess
    import sys

    code = "import jax, diffsim, diffsim.models, diffsim.inference; print(jax.config.jax_enable_x64)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
