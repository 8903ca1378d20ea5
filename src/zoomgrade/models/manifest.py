"""Slides as labs keep them: a folder (each slide with its QuPath GeoJSON export beside it) or a CSV
manifest with one row per slide, and the split into train / validation / test by slide or by patient.

CSV columns (header row; only ``slide`` is required; paths are relative to the CSV's folder):
``slide``, ``geojson`` (default: the slide's name with ``.geojson``), ``category`` (slide-level truth,
e.g. TBSRTC "IV"), ``patient`` (slides of one patient stay in one split), ``split`` (train, val or test).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from ..errors import ZoomgradeError

SPLITS = ("train", "val", "test")
COLUMNS = ("slide", "geojson", "category", "patient", "split")


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV manifest as dicts with absolute ``slide`` / ``geojson`` paths; one clear error per
    problem that makes the file unusable (missing column, unknown split, duplicate slide)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except UnicodeDecodeError:
        raise ZoomgradeError(f"{path}: not a UTF-8 CSV manifest") from None
    if "slide" not in fields:
        raise ZoomgradeError(f"{path}: manifest needs a 'slide' column (has: {', '.join(fields) or 'none'})")
    out, seen = [], set()
    for i, r in enumerate(rows, start=2):  # line numbers as an editor shows them (header is line 1)
        if not r.get("slide"):
            continue
        slide = (path.parent / r["slide"]).resolve()
        if slide in seen:
            raise ZoomgradeError(f"{path}: line {i}: slide {r['slide']} is listed twice")
        seen.add(slide)
        split = r.get("split", "").lower() or None
        if split is not None and split not in SPLITS:
            raise ZoomgradeError(f"{path}: line {i}: split {r['split']!r} is not one of {', '.join(SPLITS)}")
        gj = (path.parent / r["geojson"]).resolve() if r.get("geojson") else slide.with_suffix(".geojson")
        out.append(
            {
                "slide": slide,
                "geojson": gj,
                "category": r.get("category") or None,
                "patient": r.get("patient") or None,
                "split": split,
                "line": i,
            }
        )
    if not out:
        raise ZoomgradeError(f"{path}: manifest lists no slides")
    return out


def _bucket(key: str, k: int) -> int:
    """A stable bucket for a patient id (the same on every machine and Python run, unlike hash())."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % k


def assign_splits(items: list[Any], val_fraction: float = 0.2) -> tuple[list[Any], list[Any], str]:
    """(train, val, how): items whose manifest gives a split keep it (test items go to neither list);
    the others are split by patient when they have one (all slides of a patient together), else by slide
    (every k-th slide in name order to validation, k = 1 / val_fraction). Never by patch."""
    k = max(2, round(1 / max(val_fraction, 1e-3)))
    given = [it for it in items if getattr(it, "split", None)]
    free = [it for it in items if not getattr(it, "split", None)]
    val = [it for it in given if it.split == "val"]
    train = [it for it in given if it.split == "train"]
    by_patient = [it for it in free if getattr(it, "patient", None)]
    by_slide = [it for it in free if not getattr(it, "patient", None)]
    for it in by_patient:
        (val if _bucket(it.patient, k) == k - 1 else train).append(it)
    for i, it in enumerate(by_slide):
        (val if i % k == k - 1 else train).append(it)
    hows = [h for h, group in (("manifest", given), ("patient", by_patient), ("slide", by_slide)) if group]
    pats = sorted({it.patient for it in train if getattr(it, "patient", None)})
    if not val and len(pats) > 1:  # no patient drew validation: the last patient's slides validate
        val = [it for it in train if it.patient == pats[-1]]
        train = [it for it in train if it.patient != pats[-1]]
    if not val:  # too few slides for the rule: the last one validates (and trains, as it always did)
        val = train[-1:]
    if not train:
        train = list(val)
    order = {id(it): n for n, it in enumerate(items)}
    train.sort(key=lambda it: order[id(it)])
    val.sort(key=lambda it: order[id(it)])
    return train, val, "+".join(hows)


def split_record(items: list[Any], train: list[Any], val: list[Any]) -> dict[str, Any]:
    """What the model card records about the split: how, the test slides held out, the patients."""
    test = [it for it in items if getattr(it, "split", None) == "test"]
    _, _, how = assign_splits(items)
    patients = {
        s: sorted({it.patient for it in group if getattr(it, "patient", None)})
        for s, group in (("train", train), ("val", val), ("test", test))
    }
    rec: dict[str, Any] = {"split_by": how, "test": [it.slide.name for it in test]}
    if any(patients.values()):
        rec["patients"] = patients
    return rec
