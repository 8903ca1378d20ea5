"""What the commands share: --debug (or ZOOMGRADE_DEBUG), decided by the root command for each run, lets
tracebacks through; the heap is frozen once a process."""

from __future__ import annotations

import gc
import os

import pytest
from typer.testing import CliRunner

from zoomgrade.cli.common import freeze_heap
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


def test_the_heap_is_frozen_once_a_process():
    """The objects alive after loading are frozen out of the collector's reach once; a second command in the
    same process (as in these tests) does not freeze what the first left behind."""
    gc.unfreeze()
    try:
        freeze_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the modules and everything imported so far
        junk = [[i] for i in range(5000)]
        freeze_heap()
        assert gc.get_freeze_count() == frozen
        del junk
    finally:
        gc.unfreeze()
