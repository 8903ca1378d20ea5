"""One slide's row of ``bench.agreement`` (truth, both modes' answers, pixels and seconds), the summary of
many rows, and the table printed of them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    index: int
    seed: int
    category: str  # truth
    stain: str
    cascade: str | None  # None: the cascade withheld the slide
    exhaustive: str
    agree: bool
    region_agreement: float | None
    hp_pixels_cascade: int
    hp_pixels_exhaustive: int
    hp_ratio: float | None
    cascade_seconds: float
    exhaustive_seconds: float
    generate_seconds: float
    n_regions: int
    n_fallback: int
    truth_counts: dict[str, int]
    cascade_counts: dict[str, int]
    exhaustive_counts: dict[str, int]


def summarise(rows: list[Row]) -> dict[str, Any]:
    n = len(rows)
    if not n:
        return {"n": 0}
    ratios = [r.hp_ratio for r in rows if r.hp_ratio is not None]
    wall = [r.cascade_seconds / r.exhaustive_seconds for r in rows if r.exhaustive_seconds > 0]
    cats = sorted({r.category for r in rows})
    return {
        "n": n,
        "categories": {c: sum(1 for r in rows if r.category == c) for c in cats},
        "cascade_accuracy": sum(r.cascade == r.category for r in rows) / n,
        "exhaustive_accuracy": sum(r.exhaustive == r.category for r in rows) / n,
        "category_agreement": sum(r.agree for r in rows) / n,
        "per_category_cascade_accuracy": {
            c: sum(r.cascade == c for r in rows if r.category == c) / max(1, sum(r.category == c for r in rows))
            for c in cats
        },
        "region_agreement_mean": statistics.fmean([r.region_agreement for r in rows if r.region_agreement is not None])
        if any(r.region_agreement is not None for r in rows)
        else None,
        "hp_pixel_ratio_max": max(ratios) if ratios else None,
        "hp_pixel_ratio_median": statistics.median(ratios) if ratios else None,
        "cascade_seconds_median": statistics.median(r.cascade_seconds for r in rows),
        "exhaustive_seconds_median": statistics.median(r.exhaustive_seconds for r in rows),
        "wall_ratio_median": statistics.median(wall) if wall else None,
        "misgraded": [
            {"seed": r.seed, "truth": r.category, "cascade": r.cascade, "exhaustive": r.exhaustive}
            for r in rows
            if r.cascade != r.category or r.exhaustive != r.category
        ],
    }


def print_report(rows: list[Row], s: dict[str, Any]) -> None:
    print(f"{'seed':>8} {'stain':>8} truth casc exh agree  hp-ratio  casc-s   exh-s regions fb")
    for r in rows:
        ratio = f"{r.hp_ratio:.4f}" if r.hp_ratio is not None else "-"
        print(
            f"{r.seed:>8} {r.stain:>8} {r.category:>5} {r.cascade or 'withheld':>4} {r.exhaustive:>3} {r.agree!s:>5} "
            f"{ratio:>9} {r.cascade_seconds:7.1f} {r.exhaustive_seconds:7.1f} {r.n_regions:7d} {r.n_fallback:2d}"
        )
    if not rows:
        return
    print(f"\nslides: {s['n']} {s['categories']}")
    print(f"cascade accuracy vs truth:    {s['cascade_accuracy']:.3f}")
    print(f"exhaustive accuracy vs truth: {s['exhaustive_accuracy']:.3f}")
    print(f"cascade/exhaustive agreement: {s['category_agreement']:.3f}")
    if s["region_agreement_mean"] is not None:
        print(f"region agreement (mean):      {s['region_agreement_mean']:.3f}")
    if s["hp_pixel_ratio_max"] is not None:
        print(
            f"high-power pixels cascade/exhaustive: median {s['hp_pixel_ratio_median']:.4f}, "
            f"max {s['hp_pixel_ratio_max']:.4f}"
        )
    wr = s["wall_ratio_median"]
    print(
        f"seconds (median): cascade {s['cascade_seconds_median']:.1f}, exhaustive "
        f"{s['exhaustive_seconds_median']:.1f}" + (f", ratio {wr:.3f}" if wr is not None else "")
    )
