"""Atomic writes: a failure mid-write leaves the old file intact and no temp file behind; concurrent
writers of one file never leave a mixed one."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from zoomgrade.atomic import atomic_path, atomic_write, atomic_write_json, atomic_write_text


def test_replace_is_complete(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    atomic_write_text(f, "old")
    atomic_write_text(f, "new")
    assert f.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]
    assert (f.stat().st_mode & 0o777) == 0o644


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    atomic_write_text(f, '{"old": true}')

    def half_then_crash(fh) -> None:
        fh.write(b'{"new": tr')  # half a document reaches the disk ...
        raise OSError(28, "No space left on device")  # ... then the disk fills

    with pytest.raises(OSError, match="No space"):
        atomic_write(f, half_then_crash)
    assert f.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ["result.json"]  # no temp litter


def test_unserialisable_json_touches_nothing(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    with pytest.raises(ValueError):
        atomic_write_json(f, {"p": float("nan")})  # strict JSON: refused before any file exists
    assert not f.exists() and os.listdir(tmp_path) == []


def test_atomic_path_swaps_in_on_success_and_cleans_up_on_failure(tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    with atomic_path(f) as tmp:
        assert tmp.parent == tmp_path and tmp != f
        tmp.write_bytes(b"first")
    assert f.read_bytes() == b"first" and (f.stat().st_mode & 0o777) == 0o644

    def failing_export() -> None:
        with atomic_path(f) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("exporter failed")

    with pytest.raises(RuntimeError, match="exporter"):
        failing_export()
    assert f.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_concurrent_writers_of_one_file_never_mix(tmp_path: Path) -> None:
    """Two writers (two fits of one model card) and a reader: every read is one writer's whole document.
    With one fixed temp name, one writer's rename could move the other's half-written bytes into place."""
    f = tmp_path / "stage1.json"
    atomic_write_json(f, {"writer": "none", "pad": ""})
    stop = threading.Event()
    bad: list[str] = []

    def write(who: str, size: int) -> None:
        for _ in range(60):
            atomic_write_json(f, {"writer": who, "pad": who * size})

    def read() -> None:
        while not stop.is_set():
            text = f.read_text()
            try:
                doc = json.loads(text)
            except ValueError:
                bad.append(text[:40])
                continue
            if doc["pad"] not in ("", doc["writer"] * len(doc["pad"])):
                bad.append(text[:40])

    writers = [threading.Thread(target=write, args=(w, n)) for w, n in (("a", 200_000), ("b", 50_000))]
    reader = threading.Thread(target=read)
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert bad == []
    assert json.loads(f.read_text())["writer"] in ("a", "b")
    assert os.listdir(tmp_path) == ["stage1.json"]
