"""A built-in plugin whose optional dependency is missing is left out, and says so, once.

The numeric stack is made missing for real: a ``sitecustomize`` on ``PYTHONPATH`` puts a finder
first on ``sys.meta_path`` that refuses to find numpy, pandas, numba, scikit-learn, vectorbt
and plotly, in every process the test starts (serve and its worker children), as if they were
not installed.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from quarkbot_plugins import REQUIRES

from .helpers import QUARKBOT, clean_env, serving, workers_ok

pytestmark = pytest.mark.e2e

BLOCKED = ("numpy", "pandas", "numba", "sklearn", "vectorbt", "plotly", "statsmodels")
#: the built-ins that need the numeric extra (strategies, backtests, regime)
NUMERIC = tuple(sorted(name for name, (extra, _) in REQUIRES.items() if extra == "numeric"))
SITECUSTOMIZE = f"""
import sys

BLOCKED = {BLOCKED!r}


class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled)
"""


@pytest.fixture
def without_numeric(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return clean_env(
        tmp_path / "var", PYTHONPATH=str(site), QUARKBOT_JOBS__POLL_DELAY_SECONDS="0.05"
    )


def test_plugins_list_names_the_extra(tmp_path, without_numeric):
    result = subprocess.run(
        [QUARKBOT, "plugins", "list"],
        env=without_numeric,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()}
    for name in NUMERIC:
        assert rows[name][2] == "not loaded", rows[name]
        assert "pip install 'quarkbot[numeric]'" in rows[name][3]
    assert rows["trading"][2] == "builtin"


def test_serve_leaves_them_out_and_its_workers_run(tmp_path, without_numeric):
    with serving(without_numeric, tmp_path, start_timeout=180) as served:
        health = served.wait_health(workers_ok, 240)
        components = health["components"]
        assert health["status"] == "degraded"  # something the user should fix
        for name in NUMERIC:
            part = components[f"plugin:{name}"]
            assert part["status"] == "not_loaded", part
            assert part["extra"] == "numeric"
            assert "pip install 'quarkbot[numeric]'" in part["error"]
        assert components["worker"]["restarts"] == 0
        assert components["worker:numeric"]["restarts"] == 0

        headers = {"Authorization": f"Bearer {served.token()}"}
        body = httpx.get(f"{served.base_url}/api/v1/system/plugins", headers=headers).json()
        loaded = {item["name"] for item in body["items"]}
        assert {"trading", "risk", "market_data"} <= loaded
        assert not loaded & set(NUMERIC)
        assert {item["name"]: item["extra"] for item in body["not_loaded"]} == {
            name: "numeric" for name in NUMERIC
        }
        log = served.log()
    # one clear line per plugin, from the web process only (the workers leave it to it)
    for name in NUMERIC:
        line = f"quarkbot: plugin {name!r} is not loaded:"
        assert log.count(line) == 1, log
    assert "ModuleNotFoundError" not in log
    assert "Traceback" not in log
