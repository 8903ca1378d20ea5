"""The typed records that travel through the pipeline: slide -> stage 1 -> Region -> stage 2 ->
RegionGrade -> SlideResult -> writers.

Coordinates are always level-0 pixels of the slide. Probability vectors follow the order of the
``LabelSet`` in use (``coarse`` for stage 1, ``fine`` for stage 2).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from shapely.geometry import Polygon, mapping

if TYPE_CHECKING:  # pragma: no cover
    from .slide.info import SlideInfo

#: What a grading run does: "cascade" (coarse to fine), "exhaustive" (tile all tissue at high power) or
#: "both" (the two side by side, the cascade's result holding the comparison). Defined here only.
Mode = Literal["cascade", "exhaustive", "both"]
MODES: tuple[Mode, ...] = get_args(Mode)
#: The mode of one result: a "both" run gives one of each.
ResultMode = Literal["cascade", "exhaustive"]

#: How a region's fine grade was decided.
#: "stage1-early-stop": not read, as no unread region could change the slide's answer (result ``reading``).
DecidedBy = Literal["stage2", "fallback", "stage1-budget", "stage1-early-stop", "exhaustive"]
#: Where ``Region.cells`` comes from: nuclei counted at high power; "scaled" up from some of the region's windows,
#: not settled against the cell thresholds (docs/cascade.md section 6); or the "area" over one cell's.
CellSource = Literal["high-power", "scaled", "area"]
CELL_SOURCES: tuple[CellSource, ...] = get_args(CellSource)


@dataclass
class Region:
    """A cell-group region found by stage 1 (or a tile cluster found by the exhaustive baseline)."""

    id: int
    polygon: Polygon  # level-0 pixels
    coarse_probs: np.ndarray  # (n_coarse,) stage-1 probabilities, LabelSet.coarse order
    coarse_grade: str
    confidence: float  # max coarse probability (times mean "group" probability, see stage 1)
    area_um2: float
    est_cells: int  # stage 1's rough cell count from the area
    counted_cells: int | None = None  # stage 2's count of its largest group's nuclei at high power, where read
    counted_settled: bool = True  # False: counted_cells is scaled up and not settled (CellSource "scaled")

    @property
    def cells_source(self) -> CellSource:
        if self.counted_cells is not None:
            return "high-power" if self.counted_settled else "scaled"
        return "area"

    @property
    def cells(self) -> int:
        """The cell count adequacy and the slide rule use: the high-power count where made, else stage 1's."""
        return self.est_cells if self.counted_cells is None else self.counted_cells

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) in level-0 pixels, integer, enclosing the polygon."""
        x0, y0, x1, y1 = self.polygon.bounds
        x0, y0 = int(np.floor(x0)), int(np.floor(y0))
        return x0, y0, int(np.ceil(x1)) - x0, int(np.ceil(y1)) - y0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "geometry": mapping(self.polygon),
            "bbox": list(self.bbox),
            "coarse_grade": self.coarse_grade,
            "coarse_probs": [float(p) for p in self.coarse_probs],
            "confidence": float(self.confidence),
            "area_um2": float(self.area_um2),
            "est_cells": int(self.cells),  # the count adequacy used (docs/result-schema.md)
            "cells_source": self.cells_source,
        }


@dataclass
class RegionGrade:
    """A region's fine grade with the evidence that decided it."""

    region: Region
    fine_grade: str
    confidence: float  # max of fine_probs (the fused posterior)
    fine_probs: np.ndarray  # fused posterior (n_fine,)
    stage2_probs: np.ndarray | None  # raw stage-2 likelihood (n_fine,), None if stage 2 did not run
    decided_by: DecidedBy
    order: int  # position in the severity-ordered high-power queue (0 = read first)
    patch_grades: list[str] = field(default_factory=list)  # fallback/exhaustive tiles' grades
    error: str | None = None  # why stage 2 failed on this region, if it did

    def to_dict(self) -> dict[str, Any]:
        d = self.region.to_dict()
        d.update(
            fine_grade=self.fine_grade,
            fine_confidence=float(self.confidence),
            fine_probs=[float(p) for p in self.fine_probs],
            stage2_probs=None if self.stage2_probs is None else [float(p) for p in self.stage2_probs],
            decided_by=self.decided_by,
            order=self.order,
            patch_grades=list(self.patch_grades),
            error=self.error,
        )
        return d


@dataclass
class StageCost:
    seconds: float = 0.0
    pixels: int = 0  # output pixels produced by reads at this stage
    tiles: int = 0  # reads (windows/tiles/patches) made
    model_calls: int = 0  # forward passes (batches)
    model_items: int = 0  # images passed through the model


@dataclass
class CostRecord:
    """What a grading run cost: per stage, and pixels read per mpp.

    Reader threads and the model thread add to one record at once: every change goes through ``add`` or
    ``add_read``, which hold the record's own lock, so no caller has to remember one. ``stage(name)`` is
    for reading a stage's totals."""

    stages: dict[str, StageCost] = field(default_factory=dict)  # open, stage1, stage2_read, ...
    pixels_by_mpp: dict[str, int] = field(default_factory=dict)  # "0.5" -> pixels read at 0.5 um/px
    tiles_by_mpp: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    wall_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def stage(self, name: str) -> StageCost:
        with self._lock:
            return self.stages.setdefault(name, StageCost())

    def add(
        self,
        name: str,
        *,
        seconds: float = 0.0,
        pixels: int = 0,
        tiles: int = 0,
        model_calls: int = 0,
        model_items: int = 0,
    ) -> None:
        """Add to stage ``name`` (created at zero if new)."""
        with self._lock:
            st = self.stages.setdefault(name, StageCost())
            st.seconds += seconds
            st.pixels += int(pixels)
            st.tiles += int(tiles)
            st.model_calls += int(model_calls)
            st.model_items += int(model_items)

    def add_read(self, mpp: float, pixels: int, tiles: int = 1) -> None:
        key = f"{mpp:g}"
        with self._lock:
            self.pixels_by_mpp[key] = self.pixels_by_mpp.get(key, 0) + int(pixels)
            self.tiles_by_mpp[key] = self.tiles_by_mpp.get(key, 0) + int(tiles)

    def with_stage(self, name: str, cost: StageCost) -> CostRecord:
        """A copy of this record with stage ``name`` set to ``cost`` (this record is left as it is)."""
        with self._lock:
            stages = {k: StageCost(**asdict(v)) for k, v in self.stages.items()}
            stages[name] = cost
            return CostRecord(
                stages, dict(self.pixels_by_mpp), dict(self.tiles_by_mpp), self.peak_rss_mb, self.wall_seconds
            )

    def pixels_in(self, *names: str) -> int:
        """Pixels read by the stages ``names`` (those not on the record count 0)."""
        with self._lock:
            return sum(self.stages[n].pixels for n in names if n in self.stages)

    def pixels_at(self, mpp: float) -> int:
        return self.pixels_by_mpp.get(f"{mpp:g}", 0)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "stages": {k: asdict(v) for k, v in self.stages.items()},
                "pixels_by_mpp": dict(self.pixels_by_mpp),
                "tiles_by_mpp": dict(self.tiles_by_mpp),
                "peak_rss_mb": float(self.peak_rss_mb),
                "wall_seconds": float(self.wall_seconds),
            }

    def __getstate__(self) -> dict[str, Any]:  # a lock does not pickle (Dask ships results between processes)
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


@dataclass
class Adequacy:
    adequate: bool | None  # None: not assessed (a withheld slide)
    n_groups: int
    n_adequate_groups: int  # groups estimated to hold >= min_cells cells (counted >= min_cells + count_margin)
    min_groups: int
    min_cells: int
    reason: str
    count_margin: int = 0
    n_adequate_by_source: dict[str, int] = field(default_factory=dict)  # CellSource -> adequate groups


@dataclass
class SlideResult:
    """Everything graded on one slide, and everything a person needs to check it."""

    slide: SlideInfo
    mode: ResultMode
    label_set: str
    category: str | None  # slide category, e.g. "VI"; None when withheld (see ``status``)
    category_name: str | None
    risk_of_malignancy: float | None
    category_reason: str  # the rule that fired, in words
    adequacy: Adequacy
    counts: dict[str, int]  # fine grade -> number of regions
    regions: list[RegionGrade]
    cost: CostRecord
    config: dict[str, Any]
    versions: dict[str, str]  # software, models
    #: Low-power maps for display: "thumbnail" (H,W,3 uint8), "group" (h,w), "grade" (h,w,n_coarse),
    #: "attention" (h,w), with "map_mpp" (float) and "thumbnail_mpp". Not written to result.json.
    maps: dict[str, Any] = field(default_factory=dict, repr=False)
    #: mode="both": the exhaustive result run beside this one and the agreement record.
    comparison: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: the slide's reads and the ones that failed to decode: {"reads", "failed", "first_error"} (slide.limits)
    decode_errors: dict[str, Any] | None = None
    #: {model file name: SHA-256} of the model files that graded it, each checked against its card at load
    model_files: dict[str, str] = field(default_factory=dict)
    #: The LabelSet graded with (zoomgrade.labels; None: the shipped set named ``label_set``). Its file
    #: form is written to result.json as ``label_definition``.
    labels: Any = field(default=None, repr=False)
    #: The cascade's high-power reading: regions read and unread, and why reading stopped (None: exhaustive).
    reading: dict[str, Any] | None = None
    #: "graded", or "withheld" (quality control failed or the slide lies outside the models' domain:
    #: no category, ``withheld_reasons`` say why; zoomgrade.qc)
    status: Literal["graded", "withheld"] = "graded"
    withheld_reasons: list[str] = field(default_factory=list)
    #: graded although the gate would have withheld it (research option); every output says so
    forced_out_of_domain: bool = False
    qc: list[dict[str, Any]] = field(default_factory=list)  # QcRecord.to_dict() per check
    domain: dict[str, Any] | None = None  # in-domain scores of the slide and its regions

    @property
    def withheld(self) -> bool:
        return self.status == "withheld"

    def to_dict(self) -> dict[str, Any]:
        d = {
            "slide": self.slide.to_dict(),
            "mode": self.mode,
            "label_set": self.label_set,
            "category": self.category,
            "category_name": self.category_name,
            "risk_of_malignancy": self.risk_of_malignancy,
            "category_reason": self.category_reason,
            "adequacy": asdict(self.adequacy),
            "counts": dict(self.counts),
            "regions": [r.to_dict() for r in self.regions],
            "cost": self.cost.to_dict(),
            "config": self.config,
            "versions": dict(self.versions),
            "comparison": self.comparison,
            "warnings": list(self.warnings),
            "decode_errors": self.decode_errors,
            "model_files": dict(self.model_files),
            "reading": None if self.reading is None else dict(self.reading),
            "status": self.status,
            "withheld_reasons": list(self.withheld_reasons),
            "forced_out_of_domain": self.forced_out_of_domain,
            "qc": list(self.qc),
            "domain": self.domain,
        }
        if self.labels is not None:
            from .labels import label_set_to_dict

            d["label_definition"] = label_set_to_dict(self.labels)
        return d

    # Writers (zoomgrade.outputs: save_result, result_to_json, result_to_geojson) take the result: data flows one way.


def __getattr__(name: str) -> Any:
    # SlideInfo is the slide layer's record (slide/ depends on nothing of the pipeline); still importable here,
    # loaded on first use so that `import zoomgrade` stays light.
    if name == "SlideInfo":
        from .slide.info import SlideInfo

        return SlideInfo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
