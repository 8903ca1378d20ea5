"""Cascade vs truth, exhaustive vs truth, cascade vs exhaustive, over N held-out generated slides.

``python -m zoomgrade.bench.agreement --n 30 --size-mm 4 4 --seed 1000000`` generates N slides (seeds
seed, seed+1, ...; >= 1,000,000 so never a training seed), the six TBSRTC categories in turn and the
stains alternating, grades each with ``mode="both"`` and reports slide-category accuracy of each mode
against the generator's truth, the cascade/exhaustive category agreement, the ratio of high-power pixels
read, and the seconds of each mode. Rows are appended to ``rows.jsonl`` as slides finish, so an
interrupted run keeps what it measured and ``--resume`` goes on from there.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..models.train_common import keeps_torch_state
from .agreement_rows import Row, print_report, summarise

HELD_OUT_MIN_SEED = 1_000_000
TRAINING_MAX_SEED = 100_000  # thresholds are tuned on seeds below this, never on held-out ones


def plan(n: int, seed: int) -> list[tuple[int, int, str, str]]:
    """(index, seed, category, stain): categories I..VI in turn, stains alternating every six slides."""
    from ..synth import CATEGORIES, STAINS

    return [
        (i, seed + i, CATEGORIES[i % len(CATEGORIES)], STAINS[(i // len(CATEGORIES)) % len(STAINS)]) for i in range(n)
    ]


def region_records(result: Any) -> list[dict[str, Any]]:
    """What the slide rule reads of each region: enough to replay it with other thresholds (``replay``)."""
    return [
        {
            "fine_grade": g.fine_grade,
            "fine_probs": [float(p) for p in g.fine_probs],
            "area_um2": float(g.region.area_um2),
            "est_cells": int(g.region.cells),
            "decided_by": g.decided_by,
        }
        for g in result.regions
    ]


def replay(records: list[dict[str, Any]], config: Any) -> str:
    """The slide category that ``config``'s adequacy and slide rule give recorded regions (for tuning)."""
    import numpy as np
    from shapely.geometry import box

    from ..cascade.decision import assess_adequacy, slide_category
    from ..labels import TBSRTC
    from ..types import Region, RegionGrade

    grades = []
    for i, r in enumerate(records):
        p = np.asarray(r["fine_probs"])
        reg = Region(i, box(0, 0, 1, 1), np.ones(3) / 3, TBSRTC.coarse[0], 1.0, r["area_um2"], r["est_cells"])
        grades.append(RegionGrade(reg, r["fine_grade"], float(p.max()), p, None, r["decided_by"], i))
    adequacy = assess_adequacy(grades, config.adequacy)
    return slide_category(grades, adequacy, TBSRTC, config.slide_rule).category


def slide_in(
    workdir: Path, seed: int, category: str, stain: str, size_mm: tuple[float, float]
) -> tuple[Path, dict[str, Any], float]:
    """One planned slide in ``workdir``, reused when it is there with its truth, else generated:
    (path, truth, seconds spent generating)."""
    from ..synth import write_slide
    from ..synth.truth import read_truth

    path = workdir / f"agree-{seed}-{category}-{stain}-{size_mm[0]:g}x{size_mm[1]:g}mm.svs"
    truth = read_truth(path) if path.exists() else None
    if truth is not None:
        return path, truth, 0.0
    t0 = time.perf_counter()
    truth = write_slide(path, category, stain, size_mm, seed)
    return path, truth, time.perf_counter() - t0


def grade_one(
    index: int,
    seed: int,
    category: str,
    stain: str,
    size_mm: tuple[float, float],
    workdir: Path,
    models: Any,
    config: Any,
    records: list[dict[str, Any]] | None = None,
    keep: bool = False,
) -> Row:
    """Generate (or, with ``keep``, reuse from ``workdir``) one slide and grade it in both modes."""
    from ..cascade.grade import grade_modes
    from ..synth import truth_paths

    path, truth, gen_s = slide_in(workdir, seed, category, stain, size_mm)
    r, e = grade_modes(path, config, cascade=True, exhaustive=True, models=models)
    assert r is not None  # asked for the cascade: grade_modes returns it
    cmp_ = r.comparison or {}
    ex = cmp_.get("exhaustive", {})
    hp = cmp_.get("high_power_pixels", {})
    if records is not None:
        records.append(
            {"seed": seed, "truth": truth["category"], "cascade": region_records(r), "exhaustive": region_records(e)}
        )
    if not keep:
        for p in (path, *truth_paths(path)):
            p.unlink(missing_ok=True)
    return Row(
        index=index,
        seed=seed,
        category=truth["category"],
        stain=stain,
        cascade=r.category,
        exhaustive=ex.get("category", "?"),
        agree=bool(cmp_.get("category_agreement")),
        region_agreement=cmp_.get("region_agreement"),
        hp_pixels_cascade=int(hp.get("cascade", 0)),
        hp_pixels_exhaustive=int(hp.get("exhaustive", 0)),
        hp_ratio=hp.get("ratio"),
        cascade_seconds=float(r.cost.wall_seconds),
        exhaustive_seconds=float(ex.get("cost", {}).get("wall_seconds", 0)),
        generate_seconds=gen_s,
        n_regions=len(r.regions),
        n_fallback=sum(g.decided_by == "fallback" for g in r.regions),
        truth_counts=dict(truth.get("counts", {})),
        cascade_counts=dict(r.counts),
        exhaustive_counts=dict(ex.get("counts", {})),
    )


@keeps_torch_state
def evaluate(
    n: int = 30,
    size_mm: tuple[float, float] = (4, 4),
    seed: int = HELD_OUT_MIN_SEED,
    out: str | Path | None = None,
    config: Any = None,
    models: Any = None,
    resume: bool = False,
    threads: int | None = None,
    verbose: bool = True,
    split: str = "test",
    slides_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the evaluation; returns the summary (rows under "rows"). ``split="validation"`` runs on training
    seeds (< 100,000) for tuning the rule thresholds; "test" (the default) only on held-out seeds.
    ``slides_dir``: keep the generated slides there and reuse those already there (20 x 20 mm slides take
    minutes to generate); by default they are written to a temporary folder and deleted."""
    if split == "test" and seed < HELD_OUT_MIN_SEED:
        raise ValueError(f"seed {seed}: held-out evaluation uses seeds >= {HELD_OUT_MIN_SEED}")
    if split == "validation" and seed + n > TRAINING_MAX_SEED:
        raise ValueError(f"seed {seed}: tuning uses training seeds < {TRAINING_MAX_SEED}")
    import torch

    if threads:
        torch.set_num_threads(threads)
    if models is None:
        from ..models.folder import load_default_models

        models = load_default_models()
    out_dir = Path(out) if out else Path(tempfile.mkdtemp(prefix="zoomgrade-agreement-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows_path = out_dir / "rows.jsonl"
    rows: list[Row] = []
    if resume and rows_path.exists():
        rows = [Row(**json.loads(line)) for line in rows_path.read_text().splitlines() if line.strip()]
    else:
        rows_path.unlink(missing_ok=True)
        (out_dir / "regions.jsonl").unlink(missing_ok=True)
    done = {r.seed for r in rows}
    keep = slides_dir is not None
    work = Path(slides_dir) if slides_dir is not None else Path(tempfile.mkdtemp(prefix="zoomgrade-agreement-slides-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for index, s, cat, stain in plan(n, seed):
            if s in done:
                continue
            recs: list[dict[str, Any]] = []
            row = grade_one(index, s, cat, stain, size_mm, work, models, config, recs, keep)
            rows.append(row)
            with open(rows_path, "a") as fh:
                fh.write(json.dumps(asdict(row)) + "\n")
            with open(out_dir / "regions.jsonl", "a") as fh:
                fh.write(json.dumps(recs[0]) + "\n")
            if verbose:
                print(
                    f"[{len(rows)}/{n}] seed {s} truth {row.category} cascade {row.cascade} "
                    f"exhaustive {row.exhaustive} ({row.cascade_seconds:.1f}s / {row.exhaustive_seconds:.1f}s)",
                    flush=True,
                )
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    rows.sort(key=lambda r: r.index)
    summary = summarise(rows)
    summary["machine"] = f"{platform.machine()} {platform.system()}, torch threads {torch.get_num_threads()}"
    summary["args"] = {"n": n, "size_mm": list(size_mm), "seed": seed}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    if verbose:
        print_report(rows, summary)
        print(f"\nwritten: {out_dir / 'summary.json'}")
    summary["rows"] = [asdict(r) for r in rows]
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m zoomgrade.bench.agreement", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="number of slides (categories I..VI in turn)")
    ap.add_argument("--size-mm", type=float, nargs=2, default=(4.0, 4.0), metavar=("W", "H"))
    ap.add_argument("--seed", type=int, default=HELD_OUT_MIN_SEED, help="first seed (>= 1,000,000)")
    ap.add_argument("--out", default="runs/agreement", help="folder for rows.jsonl and summary.json")
    ap.add_argument("--config", default=None, help="grading config TOML (default: shipped defaults)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--resume", action="store_true", help="keep rows already in OUT/rows.jsonl")
    ap.add_argument(
        "--slides-dir",
        default=None,
        help="keep generated slides in this folder and reuse those already there (default: temporary)",
    )
    ap.add_argument(
        "--validation",
        action="store_true",
        help="run on training seeds (< 100,000), for tuning thresholds; the default is held-out seeds",
    )
    a = ap.parse_args(argv)
    from ..cascade import load_config

    evaluate(
        a.n,
        tuple(a.size_mm),
        a.seed,
        a.out,
        load_config(a.config),
        resume=a.resume,
        threads=a.threads,
        split="validation" if a.validation else "test",
        slides_dir=a.slides_dir,
    )


if __name__ == "__main__":
    main()
