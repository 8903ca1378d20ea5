"""Fit the early stop's recall prior (``early_stop.recall_prior``) on validation slides.

``python -m zoomgrade.bench.recall_prior --n 30 --size-mm 4 4 --seed 60000`` generates (or, with
``--slides-dir``, reuses) N validation slides (training seeds < 100,000; categories I-VI in turn, stains
alternating), grades each with the cascade reading every region, and counts on each slide, for every coarse
grade below the most severe one, its regions and how many of them high power graded in the most severe
coarse grade. How that share varies from slide to slide is fitted as a beta-binomial (maximum likelihood on
every slide's counts, so a slide with few regions weighs as little as it says); the fitted Beta(a, b) is the
prior ``cascade/recall_bound.py`` updates with a slide's own regions read. Prints the per-slide counts and
the TOML line for the config. ``--out`` keeps the counts; ``--pool`` fits an earlier run's counts (say, of
another slide size) together with these.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .agreement import TRAINING_MAX_SEED, plan, slide_in


def slide_counts(result: Any, labels: Any) -> dict[str, tuple[int, int]]:
    """Coarse grade (each below the most severe) -> (its regions, those graded in the most severe coarse
    grade) on one slide read in full. Regions high power dismissed are not in the result, and count as
    none (they would lower the share: leaving them out errs towards reading more)."""
    severe = set(labels.coarse_to_fine[labels.coarse[-1]])
    out: dict[str, tuple[int, int]] = {}
    for c in labels.coarse[:-1]:
        regs = [g for g in result.regions if g.region.coarse_grade == c]
        if regs:
            out[c] = (len(regs), sum(g.fine_grade in severe for g in regs))
    return out


def fit_beta_binomial(regions: Sequence[int], severe: Sequence[int]) -> tuple[float, float]:
    """Maximum-likelihood Beta(a, b) of a beta-binomial: slide i has ``severe[i]`` of ``regions[i]``."""
    from scipy import optimize, stats

    n, k = np.asarray(regions, np.int64), np.asarray(severe, np.int64)
    if not len(n) or (n <= 0).any() or (k < 0).any() or (k > n).any():
        raise ValueError("need at least one slide, each with 0 <= severe <= regions and regions > 0")

    def nll(x: np.ndarray) -> float:
        a, b = np.exp(x)
        return float(-stats.betabinom.logpmf(k, n, a, b).sum())

    res = optimize.minimize(nll, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9})
    a, b = np.exp(res.x)
    return float(a), float(b)


def measure(
    n: int, size_mm: tuple[float, float], seed: int, slides_dir: str | Path, models: Any = None
) -> list[dict[str, Any]]:
    """Each validation slide's truth and counts (``slide_counts``), graded reading every region."""
    import dataclasses

    from ..cascade import default_config, grade
    from ..labels import TBSRTC

    if seed + n > TRAINING_MAX_SEED:
        raise ValueError(f"seed {seed}: the prior is fitted on validation seeds < {TRAINING_MAX_SEED}")
    if models is None:
        from ..models.folder import load_default_models

        models = load_default_models()
    cfg = default_config()
    cfg = dataclasses.replace(cfg, early_stop=dataclasses.replace(cfg.early_stop, enabled=False))
    work = Path(slides_dir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, s, cat, stain in plan(n, seed):
        path, _, _ = slide_in(work, s, cat, stain, size_mm)
        counts = slide_counts(grade(path, cfg, models=models), TBSRTC)
        rows.append({"seed": s, "truth": cat, "counts": counts})
        print(f"seed {s} ({cat}): " + ", ".join(f"{c} {k}/{m}" for c, (m, k) in counts.items()), flush=True)
    return rows


def fit(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Coarse grade -> fitted Beta(a, b), from ``measure``'s rows."""
    out = {}
    for c in sorted({c for r in rows for c in r["counts"]}):
        pairs = [r["counts"][c] for r in rows if c in r["counts"]]
        out[c] = fit_beta_binomial([m for m, _ in pairs], [k for _, k in pairs])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m zoomgrade.bench.recall_prior", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="number of validation slides (categories I..VI in turn)")
    ap.add_argument("--size-mm", type=float, nargs=2, default=(4.0, 4.0), metavar=("W", "H"))
    ap.add_argument("--seed", type=int, default=60000, help=f"first seed (validation: < {TRAINING_MAX_SEED:,})")
    ap.add_argument("--slides-dir", default="runs/recall-prior-slides", help="generated slides, reused when there")
    ap.add_argument("--out", default=None, help="also write the counts and the fit to this JSON file")
    ap.add_argument(
        "--pool", action="append", default=[], help="an earlier run's --out file whose slides are fitted with these"
    )
    a = ap.parse_args(argv)
    rows = []
    for f in a.pool:
        try:
            rows += json.loads(Path(f).read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{f}: not a --out file of this tool ({type(err).__name__}: {err})") from None
    rows += measure(a.n, (a.size_mm[0], a.size_mm[1]), a.seed, a.slides_dir)
    priors = fit(rows)
    for c, (pa, pb) in priors.items():
        print(f"{c}: Beta({pa:.3f}, {pb:.3f}), mean share {pa / (pa + pb):.3f}")
    line = ", ".join(f"{c} = [{pa:.2f}, {pb:.2f}]" for c, (pa, pb) in priors.items())
    print(f"recall_prior = {{ {line} }}")
    if a.out:
        Path(a.out).write_text(json.dumps({"rows": rows, "prior": priors}, indent=2) + "\n")


if __name__ == "__main__":
    main()
