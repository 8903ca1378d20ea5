"""One real Dask cluster (2 worker processes) shared by the batch tests, and a study folder of
generated slides plus a corrupt slide and a non-slide file."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import dask
import pytest

#: What the local cluster of zoomgrade.batch sets too (see zoomgrade/batch/cluster.py).
CLUSTER_CONFIG = {"distributed.scheduler.allowed-failures": 2, "distributed.scheduler.worker-saturation": 1.0}
#: Categories of the good slides; default seeds, so other tests asking for the same slides share them.
GOOD = ("II", "VI", "IV")


@pytest.fixture(scope="module")
def study(synth_slide, tmp_path_factory) -> Path:
    """study/: three 4x4 mm generated slides (one in a sub-folder), a truncated copy of one (corrupt),
    and notes.txt (not a slide: folder discovery must ignore it)."""
    root = tmp_path_factory.mktemp("study")
    (root / "site_b").mkdir()
    for i, category in enumerate(GOOD):
        src = Path(synth_slide(category))  # 4 x 4 mm
        dest = (root / "site_b" if i == 2 else root) / f"case{i}_{category}.svs"
        shutil.copy2(src, dest)
    data = (root / "case0_II.svs").read_bytes()
    (root / "broken.svs").write_bytes(data[: len(data) // 3])
    (root / "notes.txt").write_text("slides scanned 2026-11-24\n")
    return root


@pytest.fixture(scope="module")
def good_paths(study) -> list[Path]:
    return sorted(p for p in study.rglob("case*.svs"))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, configured like the one batch() starts
    (module scope: its workers hold models in memory, closed after the batch tests)."""
    from distributed import Client, LocalCluster

    with dask.config.set(CLUSTER_CONFIG):
        lc = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            env={"OMP_NUM_THREADS": "1"},
        )
    client = Client(lc)
    yield lc, client
    client.close()
    lc.close()
