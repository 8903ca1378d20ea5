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


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_in_a_batch(synth_slide, tmp_path):
    exe = Path(sys.executable).with_name("zoomgrade")
    study = tmp_path / "study"
    study.mkdir()
    for i in range(6):  # small slides (shared with the CLI tests): the interrupt comes while they are graded
        shutil.copy(synth_slide("VI", size_mm=(1.5, 1.5)), study / f"s{i}.svs")  # copies: links are one slide
    # A terminal's Ctrl-C reaches the whole foreground process group: the driver and its workers.
    proc = subprocess.Popen(
        [str(exe), "batch", str(study), "--out", str(tmp_path / "o"), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads yet
    )
    seen, t0 = "", time.monotonic()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while "local Dask cluster" not in seen and time.monotonic() - t0 < 180 and proc.poll() is None:
            if sel.select(timeout=1):
                seen += proc.stderr.readline()
    assert "local Dask cluster" in seen, seen
    # Workers loading their models, or grading. Not later: three of these slides were all graded within 3 s,
    # and an interrupt after the batch has finished finds the process exiting (it dies by the signal, no
    # driver left to answer it).
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    err = seen + err
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "KeyboardInterrupt" not in err, err
