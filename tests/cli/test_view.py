"""zoomgrade view: serves a folder and prints its address; bad folders and busy ports are one line, exit 2."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from zoomgrade.cli.main import app


def test_not_a_results_folder(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["view", str(tmp_path), "--no-browser"])
    assert r.exit_code == 2 and "no result.json" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["view", str(tmp_path / "missing"), "--no-browser"])
    assert r.exit_code == 2 and "not a folder" in r.output


def test_serves_prints_address_and_stops(tmp_path: Path) -> None:
    (tmp_path / "summary.csv").write_text("slide,path,status,error\nx.svs,/nowhere/x.svs,failed,SlideError: bad\n")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    r = CliRunner().invoke(app, ["view", str(tmp_path), "--no-browser", "--port", str(busy.getsockname()[1])])
    busy.close()
    assert r.exit_code == 2 and "in use" in r.output.lower(), r.output

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [sys.executable, "-c", "from zoomgrade.cli.main import app; app()", "view", str(tmp_path), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell's background job inherits an ignored SIGINT, and Python then installs no Ctrl-C handler:
        # give the viewer the default disposition, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads yet
    )
    try:
        line = p.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "api/worklist", timeout=30) as resp:
            assert b"x.svs" in resp.read()
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
