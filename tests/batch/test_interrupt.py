"""Class 7 of issue 24: Ctrl-C in a batch is one line and exit 130, with no worker's traceback."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _batch(*args: str) -> subprocess.Popen:
    """``zoomgrade batch ARGS`` in a process group of its own, as a terminal's foreground job: a Ctrl-C there
    reaches the whole group, the driver and its workers."""
    exe = Path(sys.executable).with_name("zoomgrade")
    return subprocess.Popen(
        [str(exe), "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads yet
    )


def _ctrl_c(proc: subprocess.Popen) -> str:
    """Ctrl-C to the batch's group; its stderr once it has exited."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_in_a_batch(synth_slide, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    for i in range(6):  # small slides (shared with the CLI tests): the interrupt comes while they are graded
        shutil.copy(synth_slide("VI", size_mm=(1.5, 1.5)), study / f"s{i}.svs")  # copies: links are one slide
    proc = _batch(str(study), "--out", str(tmp_path / "o"), "--workers", "2")
    seen, t0 = "", time.monotonic()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while "local Dask cluster" not in seen and time.monotonic() - t0 < 180 and proc.poll() is None:
            if sel.select(timeout=1):
                seen += proc.stderr.readline()
    assert "local Dask cluster" in seen, seen
    # Workers loading their models, or grading. Not later: three of these slides were all graded within 3 s,
    # and an interrupt after the batch has finished leaves the batch's exit code (the next test).
    time.sleep(1)
    err = seen + _ctrl_c(proc)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_after_the_summary_keeps_the_batch_s_exit_code(synth_slide, tmp_path):
    """Once the summary line is out, everything is written: a Ctrl-C while the interpreter shuts down (Dask's
    exit handlers, about 0.7 s) used to kill the process by the signal; the batch's own exit code stays."""
    study = tmp_path / "study"
    study.mkdir()
    shutil.copy(synth_slide("II", size_mm=(1.5, 1.5)), study / "s.svs")
    proc = _batch(str(study), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet")
    line = proc.stdout.readline()  # the summary: the last thing the batch says
    assert line.startswith("graded 1,"), line
    time.sleep(0.2)  # past the print itself (a Ctrl-C inside the command is answered: "interrupted", 130)
    err = _ctrl_c(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
