"""When is a slide already done? When OUT/<name>/batch.json says it was graded from the same input
(size + mtime), with the same configuration and mode, by the same models, and result.json is there.

batch.json is written last, atomically, after every result file: a slide interrupted half-way (worker
killed, machine down) has no batch.json, or the stale one is deleted before regrading starts, so it is
never taken for done.

Size + mtime (nanoseconds) is the input fingerprint rather than a content hash: hashing thousands of
multi-GB slides would cost a full read of the study before any grading; copies that keep mtime
(rsync -a, cp -p) still resume, a rewritten file regrades.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .._version import __version__
from ..atomic import atomic_write_json

DONE_FILE = "batch.json"
RESULT_FILE = "result.json"
FORMAT = 1


def _companions(path: Path) -> list[Path]:
    """Files that belong to the slide besides ``path`` (their changes must regrade it too)."""
    ext = path.suffix.lower()
    if ext == ".mrxs":  # MIRAX: the pixels live in a same-named folder of .dat files
        data = path.with_suffix("")
        return sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
    if ext == ".dcm":  # DICOM WSI: one .dcm per level in the same folder
        return sorted(p for p in path.parent.iterdir() if p.suffix.lower() == ".dcm" and p != path)
    return []


def input_fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and a digest over the slide file and its companions. Raises OSError if unreadable."""
    st = os.stat(path)
    h = hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}".encode())
    for c in _companions(path):
        cs = os.stat(c)
        h.update(f"|{c.name}:{cs.st_size}:{cs.st_mtime_ns}".encode())
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": h.hexdigest()[:16]}


def config_hash(config_dict: dict[str, Any]) -> str:
    """A stable hash of the grading configuration (key order does not matter)."""
    blob = json.dumps(config_dict, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def model_versions(folder: str | Path | None = None) -> dict[str, str]:
    """{"stage1": "<card version>+<sha256[:12] of the weights and ONNX export>", "stage2": ...} of a model
    folder (None: the shipped weights); an ONNX-only stage 2 is hashed by its ONNX file.

    Read from the cards' JSON and the weight bytes, without importing torch, so the driver can decide
    what to skip before any worker starts. The weights' hash catches retrained weights whose card
    version was not bumped. Missing weights give "missing" (grading will then fail with the models'
    own clear error).
    """
    out: dict[str, str] = {}
    weights: Any = resources.files("zoomgrade").joinpath("weights") if folder is None else Path(folder)
    for name in ("stage1", "stage2"):
        card, blob = weights.joinpath(f"{name}.json"), weights.joinpath(f"{name}.safetensors")
        onnx = weights.joinpath(f"{name}.onnx")
        try:
            doc = json.loads(card.read_text())
            version = str(doc.get("version", "?"))
            if doc.get("architecture") == "onnx":  # an ONNX-only model: the export is the model
                blob = onnx = weights.joinpath(doc.get("onnx_file") or f"{name}.onnx")
            h = hashlib.sha256(blob.read_bytes())
            if onnx.is_file() and onnx != blob:  # the file that runs on the CPU: a re-export regrades too
                h.update(onnx.read_bytes())
            digest = h.hexdigest()[:12]
        except (OSError, ValueError):
            out[name] = "missing"
            continue
        out[name] = f"{version}+{digest}"
    return out


@dataclass(frozen=True)
class SlideKey:
    """What must match for a slide's existing result to count as done."""

    input: dict[str, Any]  # input_fingerprint()
    config_hash: str
    mode: str
    models: dict[str, str]

    def matches(self, record: dict[str, Any]) -> bool:
        return (
            record.get("format") == FORMAT
            and record.get("input", {}).get("digest") == self.input["digest"]
            and record.get("config_hash") == self.config_hash
            and record.get("mode") == self.mode
            and record.get("models") == self.models
        )


def read_done(slide_dir: Path) -> dict[str, Any] | None:
    """The batch.json record of a finished slide, or None if absent/unreadable or result.json is gone."""
    try:
        record = json.loads((slide_dir / DONE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (slide_dir / RESULT_FILE).is_file():
        return None
    return record if isinstance(record, dict) else None


def is_done(slide_dir: Path, key: SlideKey) -> bool:
    record = read_done(slide_dir)
    return record is not None and key.matches(record)


def clear_done(slide_dir: Path) -> None:
    """Forget that a slide was done, before regrading it (so a crash mid-way leaves it not-done)."""
    with contextlib.suppress(FileNotFoundError):
        (slide_dir / DONE_FILE).unlink()


def write_done(slide_dir: Path, key: SlideKey, path: Path, **extra: Any) -> Path:
    """Mark a slide done: call only after every result file has been written."""
    record = {
        "format": FORMAT,
        "slide": str(path),
        "input": key.input,
        "config_hash": key.config_hash,
        "mode": key.mode,
        "models": key.models,
        "software": __version__,
        **extra,
    }
    return atomic_write_json(slide_dir / DONE_FILE, record)
