"""Batches on a real Dask cluster with the real grade and writers: good slides graded, bad ones in
failures.csv, reruns skip what is done, a worker killed for real mid-slide loses nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import zoomgrade
from zoomgrade.batch import batch
from zoomgrade.batch.report import read_csv
from zoomgrade.cascade import load_config
from zoomgrade.cli.main import app
from zoomgrade.labels import TBSRTC

WEIGHTS = Path(zoomgrade.__file__).parent / "weights"
#: Grading needs the shipped models (workers load them once each).
needs_weights = pytest.mark.skipif(
    not all((WEIGHTS / f"stage{i}.safetensors").exists() for i in (1, 2)),
    reason="shipped weights not present in src/zoomgrade/weights (train them with `zoomgrade train`)",
)


@pytest.fixture(scope="module")
def first_run(study, cluster, tmp_path_factory):
    """`zoomgrade batch STUDY --out OUT --scheduler ...` once; the tests below read what it left."""
    out = tmp_path_factory.mktemp("out")
    res = CliRunner().invoke(
        app, ["batch", str(study), "--out", str(out), "--scheduler", cluster[0].scheduler_address, "--quiet"]
    )
    return out, res


def worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def executing(client) -> dict[str, list[str]]:
    """Keys each worker is running right now (a lambda travels by value to the workers)."""
    return client.run(lambda dask_worker: [str(ts.key) for ts in dask_worker.state.executing])


def rows_by_file(out: Path) -> dict[str, dict[str, str]]:
    rows = read_csv(out / "summary.csv")
    by = {Path(r["path"]).name: r for r in rows}
    assert len(by) == len(rows), "one summary row per slide"
    return by


@pytest.mark.slow
@needs_weights
def test_folder_batch_grades_good_slides_and_records_bad_ones(first_run, good_paths):
    out, res = first_run
    assert res.exit_code == 1, res.output  # some failed, the rest written
    by = rows_by_file(out)
    assert set(by) == {p.name for p in good_paths} | {"broken.svs"}  # notes.txt is not a slide
    for p in good_paths:
        row = by[p.name]
        assert row["status"] == "graded" and row["attempts"] == "1" and float(row["cpu_seconds"]) > 0
        result = json.loads((out / p.stem / "result.json").read_text())
        assert row["category"] == result["category"] in {TBSRTC.nondiagnostic, *TBSRTC.fine}
        assert int(row["n_regions"]) == len(result["regions"])
        assert sum(int(row[f"n_{g}"]) for g in TBSRTC.fine) == sum(result["counts"].values())
        done = json.loads((out / p.stem / "batch.json").read_text())
        assert done["slide"] == str(p) and done["mode"] == "cascade"
    assert by["broken.svs"]["status"] == "failed"
    assert not (out / "broken" / "batch.json").exists()
    failures = read_csv(out / "failures.csv")
    assert [Path(f["path"]).name for f in failures] == ["broken.svs"]
    assert failures[0]["error_class"] == "SlideError" and "broken.svs" in failures[0]["error"]
    assert "\n" not in failures[0]["error"]
    assert "graded 3, withheld 0, skipped 0, failed 1" in res.stdout


def test_workers_grading_on_onnxruntime_never_import_torch(first_run, cluster):
    # The shipped models run in ONNX Runtime on CPU, their threads given at load: a worker that graded
    # slides has not imported torch (1.3 s and about 0.25 GB a worker).
    _, client = cluster
    loaded = client.run(lambda: "torch" in __import__("sys").modules)
    assert len(loaded) == 2 and not any(loaded.values()), loaded


@pytest.mark.slow
@needs_weights
def test_rerun_grades_nothing_new(first_run, study, cluster, good_paths):
    out, _ = first_run
    before = {p.name: (out / p.stem / "result.json").stat().st_mtime_ns for p in good_paths}
    categories = {k: r["category"] for k, r in rows_by_file(out).items()}
    s = zoomgrade.batch(study, out, scheduler=cluster[0].scheduler_address, progress=False)
    assert (s.graded, s.skipped, s.failed) == (0, 3, 1)  # the corrupt file is tried again and fails again
    assert s.exit_code == 1
    assert {p.name: (out / p.stem / "result.json").stat().st_mtime_ns for p in good_paths} == before
    by = rows_by_file(out)
    for p in good_paths:
        assert by[p.name]["status"] == "skipped" and by[p.name]["category"] == categories[p.name]


@pytest.mark.slow
@needs_weights
def test_list_file_and_half_done_slide(first_run, study, cluster, good_paths):
    out, _ = first_run
    # A slide whose results were written but whose done-marker was not (worker died in between).
    half = good_paths[1]
    (out / half.stem / "batch.json").unlink()
    lst = study / "run.csv"
    lst.write_text(
        "case,path\n"
        f"a,{good_paths[0].name}\n"  # relative to the list's folder
        f"b,{half}\n"
        "c,notes.txt\n"  # named explicitly: it is tried, and fails cleanly
        "d,missing.svs\n"
    )
    s = batch(lst, out, scheduler=cluster[0].scheduler_address, progress=False)
    status = {Path(r.slide).name: (r.status, r.error_class) for r in s.rows}
    assert status == {
        good_paths[0].name: ("skipped", ""),
        half.name: ("graded", ""),
        "notes.txt": ("failed", "SlideError"),
        "missing.svs": ("failed", "FileNotFoundError"),
    }
    assert (out / half.stem / "batch.json").exists()
    assert {Path(f["path"]).name for f in read_csv(out / "failures.csv")} == {"notes.txt", "missing.svs"}


def run_and_kill(client, **batch_kwargs):
    """Run batch() in a thread; SIGKILL the worker process running a slide once it is 0.25 s into it
    (a 4 x 4 mm slide is graded and written in about a second: 1 s was sometimes too late).
    Returns (summary, name of the slide it was grading, killed pid)."""
    client.wait_for_workers(2)
    pids = worker_pids(client)
    box: dict = {}
    run = threading.Thread(target=lambda: box.update(s=batch(progress=False, **batch_kwargs)))
    run.start()
    killed, seen, deadline = None, {}, time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and run.is_alive():
        for addr, keys in executing(client).items():
            for key in (k for k in keys if k.startswith("zoomgrade-")):
                seen.setdefault(key, time.monotonic())
                if time.monotonic() - seen[key] > 0.25 and addr in pids:  # inside the slide
                    os.kill(pids[addr], signal.SIGKILL)
                    killed = (key.split("-", 2)[2], pids[addr])  # zoomgrade-<tag>-<name>
                    break
            if killed:
                break
        time.sleep(0.05)
    run.join(timeout=300)
    assert killed is not None, "no grading task was seen running"
    client.wait_for_workers(2)  # the nanny replaces the killed worker
    assert killed[1] not in worker_pids(client).values()
    return box["s"], killed[0], killed[1]


@pytest.mark.slow
@needs_weights
def test_force_regrade_survives_a_killed_worker(first_run, cluster, good_paths):
    """--force regrades done slides; a worker SIGKILLed mid-slide costs a retry, not a slide."""
    out, _ = first_run
    lc, client = cluster
    before = {p.stem: (out / p.stem / "result.json").stat().st_mtime_ns for p in good_paths}
    s, name, pid = run_and_kill(
        client, inputs=[str(p) for p in good_paths], out_dir=out, scheduler=lc.scheduler_address, force=True
    )
    assert (s.graded, s.failed) == (3, 0)
    assert s.lost_attempts >= 1
    assert sorted(Path(r.slide).name for r in s.rows) == sorted(p.name for p in good_paths)  # once each
    row = next(r for r in s.rows if r.name == name)
    assert row.attempts >= 2 and row.pid != pid
    done = json.loads((out / name / "batch.json").read_text())
    assert done["pid"] == row.pid != pid
    assert all((out / n / "result.json").stat().st_mtime_ns > t for n, t in before.items())  # forced
    assert len(read_csv(out / "summary.csv")) == 3 and read_csv(out / "failures.csv") == []


@pytest.mark.slow
@needs_weights
def test_slide_whose_worker_always_dies_is_a_failure(cluster, good_paths, tmp_path):
    """With no retries left (allowed-failures 0) the killed slide is in failures.csv as KilledWorker."""
    lc, client = cluster
    set_allowed = lambda n: client.run_on_scheduler(  # noqa: E731
        lambda dask_scheduler, n=n: setattr(dask_scheduler, "allowed_failures", n)
    )
    set_allowed(0)
    try:
        s, name, _ = run_and_kill(
            client, inputs=[str(good_paths[0])], out_dir=tmp_path, scheduler=lc.scheduler_address, retries=0
        )
    finally:
        set_allowed(2)
    assert (s.graded, s.failed, s.exit_code) == (0, 1, 1)
    failures = read_csv(tmp_path / "failures.csv")
    assert [(f["error_class"], f["attempts"]) for f in failures] == [("KilledWorker", "1")]
    assert not (tmp_path / name / "batch.json").exists()


@pytest.mark.slow
@needs_weights
def test_local_cluster_then_config_change_regrades(good_paths, cluster, tmp_path):
    one = [str(good_paths[0])]
    s = batch(one, tmp_path, workers=1, progress=False)  # no scheduler: batch() starts its own cluster
    assert s.graded == 1 and s.plan.workers == 1 and s.plan.threads_per_worker == 2
    assert read_csv(tmp_path / "summary.csv")[0]["status"] == "graded"
    cfg = load_config(None)
    cfg = dataclasses.replace(cfg, stage1=dataclasses.replace(cfg.stage1, group_threshold=0.45))
    s2 = batch(one, tmp_path, config=cfg, scheduler=cluster[0].scheduler_address, progress=False)
    assert (s2.graded, s2.skipped) == (1, 0)  # another configuration: not the same result
    s3 = batch(one, tmp_path, config=cfg, progress=False)
    assert (s3.graded, s3.skipped) == (0, 1) and s3.plan is None  # nothing to grade: no cluster started


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOWHERE"], "no such file or folder"),
        (["EMPTY"], "no slide files found"),
        (["STUDY", "--mode", "fastest"], "mode"),
        (["STUDY", "--config", "NOWHERE"], "config file not found"),
    ],
)
def test_bad_usage_exits_2(args, message, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no slides here")
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "a.svs").write_bytes(b"II*\x00")  # usage is checked before any slide is read
    where = {"NOWHERE": tmp_path / "nowhere", "EMPTY": tmp_path / "empty", "STUDY": tmp_path / "study"}
    args = [str(where.get(a, a)) for a in args]
    res = CliRunner().invoke(app, ["batch", *args, "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert not (tmp_path / "o" / "summary.csv").exists()
