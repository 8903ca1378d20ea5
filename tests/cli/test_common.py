"""--debug (or ZOOMGRADE_DEBUG) is decided by the root command for each run and lets tracebacks through."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.main import app
from zoomgrade.errors import SlideError


@pytest.mark.parametrize(
    ("args", "env", "debug"),
    [
        (["info"], {}, False),
        (["--debug", "info"], {}, True),
        (["info"], {"ZOOMGRADE_DEBUG": "1"}, True),
        (["info"], {"ZOOMGRADE_DEBUG": "0"}, False),
    ],
)
def test_debug_lets_the_traceback_through(tmp_path, args, env, debug):
    missing = tmp_path / "missing.svs"
    before = dict(os.environ)
    r = CliRunner().invoke(app, [*args, str(missing)], env=env)
    if debug:
        assert isinstance(r.exception, SlideError) and r.exit_code == 1
    else:
        assert r.exit_code == 2 and f"{missing}: no such file" in r.output
    after = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}  # the CLI's own setting
    assert after == {k: v for k, v in before.items() if k != "ORT_DISABLE_TELEMETRY"}
    assert "ZOOMGRADE_DEBUG" not in os.environ or os.environ["ZOOMGRADE_DEBUG"] == before.get("ZOOMGRADE_DEBUG")


def test_a_debug_run_does_not_leak_into_the_next():
    runner = CliRunner()
    assert isinstance(runner.invoke(app, ["--debug", "info", "/nonexistent/x.svs"]).exception, SlideError)
    assert runner.invoke(app, ["info", "/nonexistent/x.svs"]).exit_code == 2
