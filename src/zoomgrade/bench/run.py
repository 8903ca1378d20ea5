"""``zoomgrade bench``: the cascade against the exhaustive baseline, side by side, on held-out slides.

In one process, with the same loaded (and warmed-up) models, each slide is graded by the cascade and by the
exhaustive baseline (separately timed; the order alternates slide by slide so neither always finds the
page cache warm), each result written with ``save_result`` into a temporary folder (timed as "write"),
then scored against the slide's truth. The cascade's reads are recorded and replayed for its floor
(``bench.floor``); stage 1 alone grades the slide for the low-power-only ablation (``bench.ablation``).
Peak memory per mode comes from a fresh interpreter grading the first slide in that mode alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cascade.cellcount import count_cells
from ..errors import ZoomgradeError
from ..labels import TBSRTC  # the synthetic slides' truth is in the generator's label set
from ..models.inference import torch_threads_for
from ..types import Mode
from . import ablation as ab
from .floor import RecordingSlide, measure_floor, tile_decodes
from .machine import load_models, machine_info, peak_rss_mb, probe_memory
from .options import BenchOptions, Log
from .slides import prepare_slides


def warm_up(
    s1: Any, s2: Any, window_px: int, batch_size: int, mpp: float, adequacy: Any, stage1_px: int = 512
) -> float:
    """One pass of each model on blank input and one nuclear count: first calls pay for allocator and
    kernel set-up (the count's compiled steps load from numba's cache, 0.2 s, or compile). Stage 1 runs on a
    ``stage1_px`` square: ONNX Runtime's arena grows to the largest input it has seen, so a smaller warm-up
    left the first slide's stage 1 a third slower than the same slide graded again (docs/benchmark.md)."""
    t = time.perf_counter()
    s1.predict(np.full((stage1_px, stage1_px, 3), 255, np.uint8))
    blank = np.full((batch_size, window_px, window_px, 3), 255, np.uint8)
    s2.predict(blank)
    count_cells(blank[0], mpp, adequacy)
    return time.perf_counter() - t


def stage1_side(paths: list[Path], stage1_mpp: float, s1: Any, default: int = 512) -> int:
    """The longest side of the slides' stage-1 thumbnails (at most the side stage 1 runs in one pass), for the
    warm-up; ``default`` where no slide opens (each one's error is reported when it is graded)."""
    from ..slide import open_slide

    sides = []
    for p in paths:
        try:
            with open_slide(p) as slide:
                sides.append(round(max(slide.dimensions) * slide.mpp / stage1_mpp))
        except (OSError, ZoomgradeError):
            continue
    return min(max(sides, default=default), int(getattr(s1, "window", 0) or 2**31))


# -- one slide ---------------------------------------------------------------------------------------
CASCADE_STAGES = ("open", "stage1", "stage2_read", "stage2_infer", "fallback", "write")
EXHAUSTIVE_STAGES = ("open", "exhaustive_read", "exhaustive_infer", "write")


@dataclass
class ModeRun:
    result: Any  # SlideResult
    open_s: float
    grade_s: float
    write_s: float
    reads: RecordingSlide | None = None
    tile_cache: dict[str, int] | None = None  # decoded-tile cache hits/misses of this run's slide

    @property
    def wall_s(self) -> float:  # opening + grading: what the ratio and the 30 s target compare
        return self.open_s + self.grade_s


def run_mode(path: Path, mode: Mode, models: tuple[Any, Any], cfg: Any, tmp: Path) -> ModeRun:
    from ..cascade import grade
    from ..outputs import save_result
    from ..slide import open_slide

    t0 = time.perf_counter()
    slide = open_slide(path)
    t_open = time.perf_counter() - t0
    try:
        src = RecordingSlide(slide) if mode == "cascade" else slide
        t0 = time.perf_counter()
        result = grade(src, cfg, mode=mode, models=models)
        t_grade = time.perf_counter() - t0
        t0 = time.perf_counter()
        save_result(result, tmp / mode, slide=slide)
        t_write = time.perf_counter() - t0
        stats = slide.cache_stats()
    finally:
        slide.close()
    cache = None if stats is None else {"hits": stats.hits, "misses": stats.misses}
    return ModeRun(result, t_open, t_grade, t_write, src if isinstance(src, RecordingSlide) else None, cache)


def mode_record(
    run: ModeRun, stages: tuple[str, ...], truth_cat: str, score: ab.ModeScore, hp_mpp: float
) -> dict[str, Any]:
    r = run.result
    secs = {k: float(r.cost.stages[k].seconds) if k in r.cost.stages else 0.0 for k in stages}
    secs["open"], secs["write"] = run.open_s, run.write_s
    return {
        "category": r.category,
        "correct": r.category == truth_cat,
        "n_regions": len(r.regions),
        # quality control and the domain gate on held-out in-domain slides: these should pass
        "status": r.status,
        "withheld_reasons": list(r.withheld_reasons),
        "gate_s": float(r.cost.stages["gate"].seconds) if "gate" in r.cost.stages else 0.0,
        "seconds": secs,
        "wall_s": run.wall_s,
        "wall_with_write_s": run.wall_s + run.write_s,
        "hp_megapixels": r.cost.pixels_at(hp_mpp) / 1e6,
        "megapixels_by_stage": {k: v.pixels / 1e6 for k, v in r.cost.stages.items() if v.pixels},
        "model_items_by_stage": {k: v.model_items for k, v in r.cost.stages.items() if v.model_items},
        "hp_tiles": int(r.cost.tiles_by_mpp.get(f"{hp_mpp:g}", 0)),
        "sampled_peak_rss_mb": float(r.cost.peak_rss_mb),
        "tile_cache": run.tile_cache,
        "decided_by": {
            k: sum(1 for g in r.regions if g.decided_by == k)
            for k in ("stage2", "fallback", "stage1-budget", "stage1-early-stop", "exhaustive")
        },
        "reading": r.reading,  # the cascade's early stop (the product's default): regions read, unread, why
        **score.to_dict(r.labels or TBSRTC),
    }


def bench_slide(
    path: Path,
    index: int,
    models: tuple[Any, Any],
    cfg: Any,
    maps: dict[str, dict[str, str]],
    window_px: int,
    floor_repeats: int,
    log: Log,
) -> tuple[dict[str, Any], dict[str, ab.ModeScore]]:
    from ..slide import open_slide
    from ..synth.truth import read_truth

    truth = read_truth(path)
    truth_cat = None if truth is None else truth.get("category")
    if truth is None or truth_cat not in TBSRTC.category_names:
        raise ZoomgradeError(f"{path}: no truth file beside it with a TBSRTC category (OUT.truth.json)")
    groups = ab.truth_groups(path)
    labels = TBSRTC
    order: tuple[Mode, Mode] = ("cascade", "exhaustive") if index % 2 == 0 else ("exhaustive", "cascade")
    runs: dict[str, ModeRun] = {}
    with tempfile.TemporaryDirectory(prefix="zoomgrade-bench-") as tmp:
        for mode in order:
            runs[mode] = run_mode(path, mode, models, cfg, Path(tmp))
            log(f"  {mode}: {runs[mode].wall_s:.2f} s, category {runs[mode].result.category}")
    c, e = runs["cascade"], runs["exhaustive"]
    scores = {m: ab.score_regions(groups, runs[m].result.regions, labels) for m in runs}
    # Low-power-only ablation: stage 1 alone, each fixed coarse -> fine map.
    with open_slide(path) as slide:
        s1_regions = ab.stage1_regions(slide, models[0], cfg, labels)
        abl: dict[str, Any] = {}
        for name, mapping in maps.items():
            grades = ab.low_power_grades(s1_regions, mapping, labels)
            scores[f"lowpower_{name}"] = sc = ab.score_regions(groups, grades, labels)
            cat = ab.ablation_category(slide, grades, cfg, labels)
            abl[name] = {"category": cat, "correct": cat == truth_cat, **sc.to_dict(labels)}
    assert c.reads is not None
    floor = measure_floor(
        path,
        c.reads.thumbnail_reads(),
        c.reads.region_reads(),
        models[0],
        models[1],
        window_px,
        cfg.stage2.batch_size,
        floor_repeats,
        graded=sum(
            c.result.cost.stages[k].model_items for k in ("stage2_infer", "fallback") if k in c.result.cost.stages
        ),
    )
    tiles = tile_decodes(path, c.reads.region_reads())
    hp = cfg.stage2.mpp
    rec = {
        "slide": path.name,
        "path": str(path),
        "truth_category": truth_cat,
        "seed": truth.get("seed"),
        "stain": truth.get("stain"),
        "size_mm": truth.get("size_mm"),
        "width": c.result.slide.width,
        "height": c.result.slide.height,
        "n_truth_groups": len(groups),
        "first_mode": order[0],
        "cascade": mode_record(c, CASCADE_STAGES, truth_cat, scores["cascade"], hp),
        "exhaustive": mode_record(e, EXHAUSTIVE_STAGES, truth_cat, scores["exhaustive"], cfg.exhaustive.mpp),
        "floor": floor.to_dict(),
        "ablation": abl,
        "tile_decodes": None if tiles is None else tiles.to_dict(),
        # other processes on the machine: a shared machine's load slows both modes alike, not the ratios
        "loadavg_1min": os.getloadavg()[0],
    }
    ce, ee = rec["cascade"], rec["exhaustive"]
    rec["wall_ratio"] = ce["wall_s"] / ee["wall_s"] if ee["wall_s"] else None
    rec["hp_pixel_ratio"] = ce["hp_megapixels"] / ee["hp_megapixels"] if ee["hp_megapixels"] else None
    rec["category_agree"] = ce["category"] == ee["category"]
    rec["vvi_recall_vs_exhaustive"] = ab.relative_recall(
        scores["cascade"].vvi_recalled, scores["exhaustive"].vvi_recalled
    )
    rec["cascade_over_floor"] = ce["wall_s"] / floor.serial_s if floor.serial_s else None
    return rec, scores


# -- the whole run -----------------------------------------------------------------------------------
def run_bench(opts: BenchOptions, log: Log = lambda m: print(m, file=sys.stderr, flush=True)) -> dict[str, Any]:
    """Run the benchmark; writes OUT/bench.json and OUT/bench.md after every slide (a stopped run keeps
    what it measured) and returns the final record. Graded as `zoomgrade grade` grades: the models' threads
    are given at load, and torch's are set (for this run only) and torch imported only where a model runs
    in torch, so the times are those of a user's grading process."""
    from ..cascade import load_config

    Path(opts.out).mkdir(parents=True, exist_ok=True)
    cfg = load_config(opts.config)
    threads = cfg.stage2.torch_threads or opts.threads or len(os.sched_getaffinity(0))
    paths = prepare_slides(opts, log)
    models = load_models(opts.weights, threads)
    with torch_threads_for(models, threads):
        return _measure(opts, log, cfg, threads, paths, models)


def _measure(
    opts: BenchOptions, log: Log, cfg: Any, threads: int, paths: list[Path], models: tuple[Any, Any]
) -> dict[str, Any]:
    """The benchmark proper, on the prepared slides with the loaded models."""
    from ..cascade.grade import window_size
    from ..cascade.resolution import at_model_mpp
    from .report import write_reports
    from .summary import summarise

    out = Path(opts.out)
    cfg = at_model_mpp(cfg, *models)  # what the graders read at, as grade() resolves it
    window_px = window_size(models[1], cfg.stage2.window_px)
    side = stage1_side(paths, cfg.stage1.mpp, models[0])
    warm = warm_up(models[0], models[1], window_px, cfg.stage2.batch_size, cfg.stage2.mpp, cfg.adequacy, side)
    all_groups = [g for p in paths for g in ab.truth_groups(p)]
    maps = {"product_map": ab.product_map(TBSRTC), "best_constant_map": ab.best_constant_map(all_groups, TBSRTC)}
    record: dict[str, Any] = {
        "command": opts.command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(threads, models),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "models": {m.card.name: f"{m.card.name} {m.card.version}" for m in models},
        "warm_up_s": warm,
        "window_px": window_px,
        "ablation_maps": maps,
        "slides": [],
        "memory_probe": [],
    }
    scores: list[dict[str, ab.ModeScore]] = []
    for i, p in enumerate(paths):
        log(f"[{i + 1}/{len(paths)}] {p.name}")
        rec, sc = bench_slide(p, i, models, cfg, maps, window_px, opts.floor_repeats, log)
        record["slides"].append(rec)
        scores.append(sc)
        record["process_peak_rss_mb"] = peak_rss_mb()
        record["summary"], record["targets"] = summarise(record, scores)
        write_reports(record, out)
    if opts.memory_probe and paths:
        modes = ("cascade", "exhaustive") if opts.quick else ("cascade",)
        for mode in modes:
            log(f"memory probe: {mode} on {paths[0].name} in a fresh interpreter")
            record["memory_probe"].append(probe_memory(paths[0], mode, opts.weights, opts.config, threads))
    if opts.profile and paths:
        log(f"profiling the cascade on {paths[0].name}")
        from .profile import profile_cascade

        record["profile"] = str(profile_cascade(paths[0], models, cfg, out / "cascade-profile.txt"))
    if opts.separability:
        from . import separability

        log("separability: small classifiers on generated groups, high vs low power")
        record["separability"] = separability.run(out / "separability-slides")
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record["summary"], record["targets"] = summarise(record, scores)
    write_reports(record, out)
    return record
