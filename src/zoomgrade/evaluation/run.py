"""Grade every annotated slide of a folder or manifest (cascade, exhaustive or both) and record, per
slide and mode, what the metrics need: the category against the slide's truth, each annotated group
against the region that overlaps it most (``models.evaluate.match_regions``, the matcher training
validates with), the regions that overlap no annotation, the time, and where its report was written."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ZoomgradeError
from ..labels import LabelSet
from ..models.datasets import SlideItem, load_groups
from ..models.evaluate import match_regions

MODES = ("cascade", "exhaustive")


@dataclass
class ModeRecord:
    """One slide graded in one mode."""

    mode: str
    category: str
    seconds: float
    pairs: list[tuple[str, str, float]]  # per found group: (truth fine grade, region's fine grade, confidence)
    missed: list[str]  # truth fine grades of the groups no region overlaps
    false_alarms: list[str]  # fine grades of the regions that overlap no annotated group
    n_regions: int
    report: str  # report.html, relative to the evaluation folder
    warnings: list[str] = field(default_factory=list)
    comparison: dict[str, Any] | None = None  # cascade with both modes: agreement with the exhaustive run


@dataclass
class SlideRecord:
    slide: str
    truth: str | None  # slide-level category (manifest or truth file), None when unknown
    split: str | None
    modes: dict[str, ModeRecord] = field(default_factory=dict)
    error: str | None = None  # why the slide could not be graded (the others go on)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slide": self.slide,
            "truth": self.truth,
            "split": self.split,
            "error": self.error,
            "modes": {m: asdict(r) for m, r in self.modes.items()},
        }


def load_models(
    folder: str | Path | None, labels: LabelSet | None = None, need_stage1: bool = True, threads: int | None = None
) -> tuple[Any, Any]:
    """Runners of a model folder (``models.folder``: both cards checked to carry one label set, and
    ``labels`` when given), or the shipped ones; ``threads``: ONNX Runtime's (``models.folder.load_models``)."""
    from ..models.folder import load_models as load_folder

    return load_folder(folder, labels=labels, need_stage1=need_stage1, threads=threads)


def mode_record(result: Any, item: SlideItem, labels: LabelSet, report: str) -> ModeRecord:
    groups = load_groups(item, labels)
    m = match_regions([g.region for g in result.regions], groups, labels, pairs=True)
    pairs = [
        (g.fine, result.regions[i].fine_grade, float(result.regions[i].confidence))
        for g, i in zip(groups, m["matches"])
        if i >= 0
    ]
    missed = [g.fine for g, i in zip(groups, m["matches"]) if i < 0]
    cmp_ = None
    if result.comparison:
        c = result.comparison
        cmp_ = {
            "category_agreement": bool(c.get("category_agreement")),
            "region_agreement": c.get("region_agreement"),
            "exhaustive_category": c.get("exhaustive", {}).get("category"),
            "high_power_pixel_ratio": (c.get("high_power_pixels") or {}).get("ratio"),
        }
    return ModeRecord(
        result.mode,
        result.category,
        float(result.cost.wall_seconds),
        pairs,
        missed,
        [g.fine_grade for g, h in zip(result.regions, m["hit"]) if not h],
        len(result.regions),
        report,
        list(result.warnings),
        cmp_,
    )


def grade_item(
    item: SlideItem, out: Path, models: Any, config: Any, modes: tuple[str, ...], labels: LabelSet
) -> SlideRecord:
    """Grade one slide in ``modes``, save each result under ``out/slides/<stem>/<mode>/`` and record it;
    a slide that fails is recorded with its one-line error."""
    from ..cascade.grade import grade_modes
    from ..outputs import save_result
    from ..slide import open_slide

    rec = SlideRecord(item.slide.name, item.category, item.split)
    try:
        with open_slide(item.slide) as slide:
            c, e = grade_modes(
                slide, config, cascade="cascade" in modes, exhaustive="exhaustive" in modes, models=models
            )
            for result in (c, e):
                if result is None:
                    continue
                rel = Path("slides") / item.slide.stem / result.mode
                save_result(result, out / rel, slide=slide)
                rec.modes[result.mode] = mode_record(result, item, labels, str(rel / "report.html"))
    except (ZoomgradeError, OSError) as err:
        rec.error = str(err)
    except Exception as err:  # one slide's failure must not stop the others
        rec.error = f"{item.slide}: {err.__class__.__name__}: {err}"
    return rec


def grade_all(
    items: list[SlideItem],
    out: Path,
    models: Any,
    config: Any,
    modes: tuple[str, ...],
    labels: LabelSet,
    on_slide: Callable[[int, int, SlideRecord], None] | None = None,
) -> tuple[list[SlideRecord], float]:
    t0 = time.perf_counter()
    records = []
    for k, it in enumerate(items):
        rec = grade_item(it, out, models, config, modes, labels)
        records.append(rec)
        if on_slide:
            on_slide(k + 1, len(items), rec)
    return records, time.perf_counter() - t0
