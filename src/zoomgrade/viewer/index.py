"""The results index: which slides a results folder holds (one ``grade`` output or a whole ``batch`` output),
each with the worklist fields, read from its ``result.json`` and the folder's ``summary.csv``.

Only what this index names is ever served: each slide's own output files and the slide file its
``result.json`` names. Slides are addressed by a key derived from their folder, never by a path from the URL.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ZoomgradeError

#: the per-slide files the viewer serves from a slide's result folder (the writers' outputs, nothing else)
SLIDE_FILES = ("report.html", "result.json", "regions.geojson", "overlay.png", "heatmap.png")
#: the run-level files served from the results folder itself
RUN_FILES = ("summary.csv", "failures.csv")


class ResultsError(ZoomgradeError):
    """The folder given to ``zoomgrade view`` holds no results."""


@dataclass
class SlideEntry:
    """One row of the worklist."""

    key: str  # URL-safe id (hash of the folder's place in the results folder)
    name: str  # slide file name (shown escaped)
    status: str  # graded / withheld / failed
    result_dir: Path | None  # None for a slide that failed before writing anything
    slide_path: str | None = None
    category: str | None = None
    category_name: str | None = None
    risk: float | None = None
    n_regions: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    qc: Any = None  # the result's ``qc`` record when its writer adds one (passed through as is)
    error: str | None = None
    mode: str | None = None
    n_warnings: int = 0
    dims: tuple[int, int] | None = None  # level-0 size the slide was graded at (a different file is not shown)

    def row(self) -> dict[str, Any]:
        """The worklist row as plain JSON."""
        return {
            "key": self.key,
            "name": self.name,
            "status": self.status,
            "category": self.category,
            "category_name": self.category_name,
            "risk": self.risk,
            "n_regions": self.n_regions,
            "counts": self.counts,
            "seconds": self.seconds,
            "qc": qc_summary(self.qc),
            "error": self.error,
            "mode": self.mode,
            "warnings": self.n_warnings,
            "has_result": self.result_dir is not None,
        }


def slide_key(rel: str) -> str:
    return hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def qc_summary(qc: Any) -> str | None:
    """One short line for the worklist from whatever shape the ``qc`` record has (absent -> None)."""
    if qc is None:
        return None
    if isinstance(qc, (str, int, float, bool)):
        return str(qc)
    if isinstance(qc, dict):
        for k in ("status", "verdict", "summary", "ok", "passed"):
            if k in qc and isinstance(qc[k], (str, int, float, bool)):
                head = f"{k}: {qc[k]}" if isinstance(qc[k], bool) else str(qc[k])
                flags = qc.get("flags") or qc.get("reasons") or qc.get("failed")
                if isinstance(flags, list) and flags:
                    head += " (" + "; ".join(str(f) for f in flags[:3]) + ("; ..." if len(flags) > 3 else "") + ")"
                return head
        parts = [f"{k}: {v}" for k, v in qc.items() if isinstance(v, (str, int, float, bool))]
        return "; ".join(parts[:4]) or "recorded"
    if isinstance(qc, list):
        return "; ".join(str(x) for x in qc[:3]) or None
    return "recorded"


def read_result(path: Path) -> dict[str, Any]:
    """A result.json as a dict; a missing, unreadable or malformed file raises ResultsError naming it."""
    try:
        # NaN/Infinity (not JSON, but Python writes them) read as null, so the pages always get valid JSON
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda _: None)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: cannot read result.json: {err}") from None
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: result.json is not a JSON object")
    return doc


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON value that should be an object, or {} where a damaged file holds something else."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A JSON value that should be an array, or [] where a damaged file holds something else."""
    return value if isinstance(value, list) else []


def entry_from_result(key: str, result_dir: Path, doc: dict[str, Any]) -> SlideEntry:
    slide = as_dict(doc.get("slide"))
    category = doc.get("category")
    # A result that a gate withheld has category null (and says so in ``status``): never shown as graded.
    status = str(doc.get("status") or ("graded" if category else "withheld"))
    if status not in ("graded", "withheld", "failed"):
        status = "graded" if category else "withheld"
    counts = as_dict(doc.get("counts"))
    regions = as_list(doc.get("regions"))
    cost = as_dict(doc.get("cost"))
    warnings = as_list(doc.get("warnings"))
    return SlideEntry(
        key=key,
        name=str(slide.get("name") or result_dir.name),
        status=status,
        result_dir=result_dir,
        slide_path=str(slide["path"]) if slide.get("path") else None,
        category=str(category) if category is not None else None,
        category_name=str(doc["category_name"]) if doc.get("category_name") is not None else None,
        risk=_num(doc.get("risk_of_malignancy")) if category is not None else None,
        n_regions=len(regions),
        counts={str(k): int(v) for k, v in counts.items() if _num(v) is not None},
        seconds=_num(cost.get("wall_seconds")),
        qc=doc.get("qc"),
        mode=str(doc.get("mode") or "") or None,
        n_warnings=len(warnings),
        dims=_dims(slide),
    )


def _dims(slide: dict[str, Any]) -> tuple[int, int] | None:
    try:
        return int(slide["width"]), int(slide["height"])
    except (KeyError, TypeError, ValueError):
        return None


def _summary_rows(root: Path) -> list[dict[str, str]]:
    path = root / "summary.csv"
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []  # the worklist still lists every result folder; summary.csv only adds failures


#: seconds between two looks at the folder for changes (a tile request must not stat a thousand folders)
RESCAN_SECONDS = 2.0


class ResultsIndex:
    """The slides of a results folder; rescanned when the folder changes (a batch may still be running)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ResultsError(f"{root}: not a folder")
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._checked = -RESCAN_SECONDS
        self._entries: dict[str, SlideEntry] = {}
        self.refresh()
        if not self._entries:
            raise ResultsError(
                f"{root}: no result.json in this folder or its sub-folders, and no summary.csv "
                "rows (give the --out folder of `zoomgrade grade` or `zoomgrade batch`)"
            )

    def _result_dirs(self) -> list[Path]:
        if (self.root / "result.json").is_file():
            return [self.root]
        try:
            subs = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return []
        return [p for p in subs if (p / "result.json").is_file()]

    def _scan_stamp(self) -> tuple:
        """Cheap change detector: the folder's and each result.json's mtime."""
        dirs = self._result_dirs()
        stamp = [str(self.root.stat().st_mtime_ns)]
        for d in dirs + [self.root / "summary.csv"]:
            f = d / "result.json" if d.is_dir() else d
            with contextlib.suppress(OSError):  # gone since the listing: the next look sees it
                stamp.append(f"{f}:{f.stat().st_mtime_ns}")
        return tuple(stamp)

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < RESCAN_SECONDS:
                return
            self._checked = now
            stamp = self._scan_stamp()
            if stamp == self._stamp:
                return
            entries: dict[str, SlideEntry] = {}
            for d in self._result_dirs():
                rel = d.relative_to(self.root).as_posix()
                key = slide_key(rel)
                try:
                    entries[key] = entry_from_result(key, d, read_result(d / "result.json"))
                except ResultsError as err:
                    entries[key] = SlideEntry(key=key, name=d.name, status="failed", result_dir=None, error=str(err))
            known = {e.name for e in entries.values()} | {e.slide_path for e in entries.values() if e.slide_path}
            for row in _summary_rows(self.root):
                if row.get("status") != "failed" or row.get("slide") in known or row.get("path") in known:
                    continue
                name = row.get("slide") or Path(row.get("path") or "?").name
                key = slide_key("failed:" + (row.get("path") or name))
                entries[key] = SlideEntry(
                    key=key,
                    name=name,
                    status="failed",
                    result_dir=None,
                    slide_path=row.get("path") or None,
                    error=row.get("error") or "failed",
                    seconds=_num(row.get("seconds")),
                    mode=row.get("mode") or None,
                )
            self._entries, self._stamp = entries, stamp

    def entries(self) -> list[SlideEntry]:
        self.refresh()
        return list(self._entries.values())

    def get(self, key: str) -> SlideEntry | None:
        self.refresh()
        return self._entries.get(key)

    def result(self, entry: SlideEntry) -> dict[str, Any]:
        if entry.result_dir is None:
            raise ResultsError(f"{entry.name}: no result was written ({entry.error or 'failed'})")
        return read_result(entry.result_dir / "result.json")

    def slide_file(self, entry: SlideEntry) -> Path | None:
        """The slide file its result.json names (relative paths: from the result folder), or None."""
        if not entry.slide_path:
            return None
        p = Path(entry.slide_path).expanduser()
        if not p.is_absolute() and entry.result_dir is not None:
            p = entry.result_dir / p
        return p

    def output_file(self, entry: SlideEntry, name: str) -> Path | None:
        """One of the slide's own output files (``SLIDE_FILES``), only if it lies inside the results folder."""
        if name not in SLIDE_FILES or entry.result_dir is None:
            return None
        p = (entry.result_dir / name).resolve()
        return p if p.is_file() and p.is_relative_to(self.root) else None

    def run_file(self, name: str) -> Path | None:
        if name not in RUN_FILES:
            return None
        p = (self.root / name).resolve()
        return p if p.is_file() and p.is_relative_to(self.root) else None
