"""The viewer's server over HTTP: only the results' own files and the slides they name are served; hostile names
are text; unknown routes and bad requests get a short 4xx; a missing or corrupt slide is a message, not a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

from viewer_helpers import HOSTILE, copy_results, fetch


def keys(server) -> dict[str, str]:
    return {e.name: e.key for e in server.viewer.index.entries()}


def assert_short_4xx(status: int, body: bytes, code: int = 404) -> None:
    assert status == code, (status, body[:200])
    assert b"Traceback" not in body and len(body) < 200


def test_pages_api_and_files(results_dir: Path, serve) -> None:
    s = serve(results_dir)
    st, h, body = fetch(s.url + "api/worklist")
    assert st == 200 and h["Content-Type"].startswith("application/json")
    rows = {r["name"]: r for r in json.loads(body)["slides"]}
    assert rows["smear-VI.svs"]["category"] == "VI" and rows["smear-VI.svs"]["status"] == "graded"
    assert rows["broken.svs"]["status"] == "failed" and "not a slide file" in rows["broken.svs"]["error"]
    k = keys(s)["smear-VI.svs"]
    st, h, body = fetch(s.url + f"files/{k}/report.html")
    assert st == 200 and f'href="/slide/{k}"'.encode() in body  # the report links to its viewer page
    assert "default-src 'self'" in h["Content-Security-Policy"] and h["X-Content-Type-Options"] == "nosniff"
    st, _, body = fetch(s.url + f"files/{k}/regions.geojson")
    assert st == 200 and json.loads(body)["type"] == "FeatureCollection"
    st, h, body = fetch(s.url + f"tiles/{k}/0/0_0.jpg")
    assert st == 200 and h["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    st, h, body = fetch(s.url + f"heatmap/{k}.png")
    assert st == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
    st, _, body = fetch(s.url + "static/openseadragon/openseadragon.min.js")
    assert st == 200 and b"openseadragon 6." in body[:100]


def test_path_traversal_is_refused(results_dir: Path, serve, tmp_path: Path) -> None:
    folder = copy_results(results_dir, tmp_path / "out")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    k = keys(serve(folder))["smear-VI.svs"]
    # a link planted in a slide's folder that points outside the results folder
    os.symlink(secret, folder / "smear-VI" / "overlay.png.tmp")
    (folder / "smear-VI" / "overlay.png").unlink()
    os.symlink(secret, folder / "smear-VI" / "overlay.png")
    s = serve(folder)
    for path in (
        f"files/{k}/../../secret.txt",
        f"files/{k}/%2e%2e/%2e%2e/secret.txt",
        f"files/{k}/..%2f..%2fsecret.txt",
        f"files/{k}/overlay.png",
        f"files/{k}/batch.json",
        f"files/{k}/overlay.png.tmp",
        "static/../../../secret.txt",
        "static/%2e%2e/index.py",
        "static/..%2f..%2fviewer%2findex.py",
        f"tiles/{k}/../../../secret.txt",
        "files/../secret.txt",
        "//etc/passwd",
        "summary.csv/../secret.txt",
        "%2e%2e/secret.txt",
    ):
        st, _, body = fetch(s.url + path)
        assert st in (403, 404), (path, st)
        assert b"do not serve" not in body and b"Traceback" not in body, path
    st, _, body = fetch(s.url + "summary.csv")
    assert st == 200 and b"smear-VI.svs" in body


def test_hostile_names_are_text(results_dir: Path, serve) -> None:
    s = serve(results_dir)
    k = keys(s)[HOSTILE]
    st, _, page = fetch(s.url + f"slide/{k}")
    assert st == 200
    assert b"<img src=x" not in page and b"&lt;img src=x onerror=alert(1)&gt; &amp; &quot;smear&#x27;.svs" in page
    st, _, wl = fetch(s.url)
    assert st == 200 and b"<img src=x" not in wl  # the worklist's names are put in as text by its script
    st, _, api = fetch(s.url + "api/worklist")
    assert HOSTILE in [r["name"] for r in json.loads(api)["slides"]]  # the name itself, unchanged, as JSON text
    assert b"</" not in api  # no string in the JSON can close a script element


def test_unknown_routes_and_bad_requests(results_dir: Path, serve) -> None:
    s = serve(results_dir)
    k = keys(s)["smear-VI.svs"]
    for path in (
        "nope",
        "slide/000000000000",
        "slide/../../etc",
        "api/slide/zzz",
        f"tiles/{k}/99/0_0.jpg",
        f"tiles/{k}/0/5_5.jpg",
        f"tiles/{k}/3/-1_0.jpg",
        f"tiles/{k}/x/0_0.jpg",
        "tiles/000000000000/0/0_0.jpg",
        "heatmap/000000000000.png",
        f"files/{k}/REPORT.HTML",
        f"files/{k}/",
        "api/slide/",
        "static/nothing.js",
        "favicon.ico",
        f"slide/{k}?x=<script>",
    ):
        st, _, body = fetch(s.url + path)
        if path.startswith("slide/") and "?" in path:
            assert st == 200 and b"<script>" not in body.split(b"</title>")[0]
            continue
        assert_short_4xx(st, body)
    st, _, body = fetch(s.url, headers={"Host": "attacker.example:80"})  # DNS rebinding: refused
    assert_short_4xx(st, body, 403)


def test_missing_and_corrupt_slides_are_messages(results_dir: Path, serve, tmp_path: Path) -> None:
    folder = copy_results(results_dir, tmp_path / "out")
    # the VI slide's file replaced by garbage (a copy first: the shared fixture's slide stays intact)
    vi = folder / "smear-VI" / "result.json"
    doc = json.loads(vi.read_text())
    bad = tmp_path / "corrupt.svs"
    bad.write_bytes(b"II*\x00" + os.urandom(4000))
    doc["slide"]["path"] = str(bad)
    vi.write_text(json.dumps(doc))
    # the other slide's result.json is not JSON at all
    (folder / HOSTILE.removesuffix(".svs") / "result.json").write_text("{ not json")
    s = serve(folder)
    k = keys(s)
    st, _, body = fetch(s.url + f"api/slide/{k['smear-VI.svs']}")
    d = json.loads(body)
    assert st == 200 and d["dzi"] is None and "corrupt.svs" in d["slide_error"] and d["regions"]
    st, _, body = fetch(s.url + f"tiles/{k['smear-VI.svs']}/0/0_0.jpg")
    assert_short_4xx(st, body)
    broken = next(
        e for e in s.viewer.index.entries() if e.status == "failed" and "cannot read result.json" in (e.error or "")
    )
    st, _, body = fetch(s.url + f"api/slide/{broken.key}")
    assert st == 200 and "cannot read result.json" in json.loads(body)["error"]
    st, _, _ = fetch(s.url + f"slide/{broken.key}")
    assert st == 200
    # a slide replaced by another file of another size: refused, not drawn under the wrong regions
    doc["slide"]["path"] = str(next((results_dir.parent / "slides").glob("*.svs")))
    doc["slide"]["width"] += 64
    vi.write_text(json.dumps(doc))
    fetch(s.url + "api/worklist")  # the worklist's load rescans the folder at once
    st, _, body = fetch(s.url + f"api/slide/{k['smear-VI.svs']}")
    assert "not the slide that was graded" in json.loads(body)["slide_error"]
    # and the server still serves
    st, _, _ = fetch(s.url + "api/worklist")
    assert st == 200
