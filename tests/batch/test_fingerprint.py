"""When a slide counts as done: same input, same configuration, same models, results complete."""

from __future__ import annotations

import dataclasses
import os

from zoomgrade.batch.fingerprint import (
    SlideKey,
    clear_done,
    config_hash,
    input_fingerprint,
    is_done,
    model_versions,
    read_done,
    write_done,
)


def test_input_fingerprint_follows_size_and_mtime(tmp_path):
    p = tmp_path / "a.svs"
    p.write_bytes(b"0123456789")
    fp = input_fingerprint(p)
    assert fp == input_fingerprint(p) and fp["size"] == 10
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert input_fingerprint(p)["digest"] != fp["digest"]
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert input_fingerprint(p) == fp
    p.write_bytes(b"01234567890")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert input_fingerprint(p)["digest"] != fp["digest"]  # same mtime, other size


def test_mrxs_companion_data_counts(tmp_path):
    p = tmp_path / "m.mrxs"
    p.write_bytes(b"ini")
    (tmp_path / "m").mkdir()
    dat = tmp_path / "m" / "Data0000.dat"
    dat.write_bytes(b"abc")
    before = input_fingerprint(p)
    dat.write_bytes(b"abcd")
    assert input_fingerprint(p)["digest"] != before["digest"]


def test_config_hash_ignores_key_order_not_values():
    a = {"stage1": {"mpp": 8.0, "group_threshold": 0.5}, "mode": "cascade"}
    b = {"mode": "cascade", "stage1": {"group_threshold": 0.5, "mpp": 8.0}}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "stage1": {"mpp": 4.0, "group_threshold": 0.5}})


def test_done_marker_life_cycle(tmp_path):
    slide = tmp_path / "a.svs"
    slide.write_bytes(b"slide")
    d = tmp_path / "out" / "a"
    key = SlideKey(input=input_fingerprint(slide), config_hash="c1", mode="cascade", models=model_versions())
    assert set(key.models) == {"stage1", "stage2"}
    d.mkdir(parents=True)
    write_done(d, key, slide, seconds=1.0)
    assert not is_done(d, key)  # no result.json: a marker alone is not a finished slide
    (d / "result.json").write_text("{}")
    assert is_done(d, key) and read_done(d)["seconds"] == 1.0
    assert not is_done(d, dataclasses.replace(key, config_hash="c2"))
    assert not is_done(d, dataclasses.replace(key, mode="exhaustive"))
    assert not is_done(d, dataclasses.replace(key, models={"stage1": "9", "stage2": "9"}))
    assert not is_done(d, dataclasses.replace(key, input={**key.input, "digest": "0"}))
    clear_done(d)
    assert not is_done(d, key) and (d / "result.json").exists()
    clear_done(d)  # clearing twice is fine
    (d / "batch.json").write_text("{not json")
    assert read_done(d) is None
