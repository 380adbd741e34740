"""The README's quickstart runs as written (in a scratch folder)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    code = re.search(r"## Quickstart\n\n```python\n(.*?)```", README.read_text(), re.S)[1]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert "σ(gg → tt̄" in capsys.readouterr().out
    # The Monte Carlo estimate agrees with the closed form (shared/data/xsec: 11.36831 pb).
    assert abs(float(namespace["sigma"]) - 11.36831) < 5 * float(namespace["error"])
    assert len(namespace["events_back"]) == 10 and (tmp_path / "gg_ttx.lhe").is_file()
