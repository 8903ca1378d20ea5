"""Fit the early stop's priors (``early_stop.recall_prior`` and ``undergrade_prior``) on validation slides.

``python -m zoomgrade.bench.recall_prior --n 30 --size-mm 4 4 --seed 60000`` generates (or, with
``--slides-dir``, reuses) N validation slides (training seeds < 100,000; categories I-VI in turn, stains
alternating), grades each with the cascade reading every region, and counts on each slide, for every coarse
grade below the most severe one, its regions and how many of them high power graded in the most severe
coarse grade. How that share varies from slide to slide is fitted as a beta-binomial (maximum likelihood on
every slide's counts, so a slide with few regions weighs as little as it says); the fitted Beta(a, b) is the
prior ``cascade/recall_bound.py`` updates with a slide's own regions read. The same slides give the
under-grade prior of the category stop (``cascade/undergrade.py``): for every coarse grade and every more
severe one, its graded regions and how many of them are evidence under the slide rule for some category of
the more severe one, fitted the same way. A pair no slide ever showed is given no prior (a
beta-binomial fit to none at all would say never; the slide-alone bound stays). Prints the per-slide
counts and the fits. ``--out`` keeps the counts; ``--pool`` fits an earlier run's counts (say, of another
slide size) together with these. ``--models DIR`` measures a model folder's models instead of the shipped
ones, ``--input DIR`` grades the slides of a folder (the lab's own validation slides) instead of generated
ones, and ``--write-card`` writes the fit into the stage-1 card of the models measured (``early_stop``,
read by ``cascade/measured.py``), with the worst slide's share per coarse grade as ``undergrade``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .agreement import TRAINING_MAX_SEED, plan, slide_in

#: A fitted a or b below this is the optimiser walking off to 0 (interior fits here are 0.03 and up).
_BOUNDARY = 1e-6
#: Slides that all share one rate fit a + b -> infinity (a binomial world); beyond this the prior is scaled
#: down to it, keeping its mean. That only widens it (more reading), and at 10,000 it is already as narrow
#: as a slide's own few hundred regions could tell.
_MAX_CONCENTRATION = 1e4


def _usable(ab: tuple[float, float]) -> tuple[float, float] | None:
    """A fit as a config prior: none on the lower edge (``fit_undergrade`` says why), capped concentration."""
    a, b = ab
    if min(a, b) <= _BOUNDARY:
        return None
    scale = min(1.0, _MAX_CONCENTRATION / (a + b))
    return a * scale, b * scale


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


def undergrade_counts(result: Any, labels: Any, rule: Any) -> dict[str, dict[str, tuple[int, int]]]:
    """Coarse grade -> more severe coarse grade -> (its graded regions, those evidence for some category of
    the latter): what ``ReadingStop`` tallies as a slide is read, counted on one slide read in full.
    ``rule``: the config's ``slide_rule`` (resolved against ``labels`` here)."""
    from ..cascade.decision import resolved
    from ..cascade.undergrade import coarse_indices, p_at_least, reach_of, surprises

    rule, coarse_of = resolved(rule, labels), coarse_indices(labels)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for c in labels.coarse[:-1]:
        regs = [g for g in result.regions if g.region.coarse_grade == c]
        if not regs:
            continue
        hits = dict.fromkeys(labels.coarse[labels.coarse_index(c) + 1 :], 0)
        for g in regs:
            at_least = p_at_least(g.fine_probs)
            sev, cells = labels.fine_index(g.fine_grade), int(g.region.cells)
            for t, ev in surprises(reach_of(c, labels), sev, at_least, cells, rule, labels.fine, coarse_of)[1].items():
                hits[labels.coarse[t]] += ev
        out[c] = {t: (len(regs), e) for t, e in hits.items()}
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


def count_slide(path: Any, models: Any, labels: Any) -> dict[str, Any]:
    """One slide graded reading every region: its ``slide_counts`` and ``undergrade_counts``."""
    import dataclasses

    from ..cascade import default_config, grade

    cfg = default_config()
    cfg = dataclasses.replace(cfg, early_stop=dataclasses.replace(cfg.early_stop, enabled=False))
    result = grade(path, cfg, models=models)
    return {"counts": slide_counts(result, labels), "undergrade": undergrade_counts(result, labels, cfg.slide_rule)}


def _show(name: str, row: dict[str, Any]) -> None:
    shown = [f"{c} {k}/{m}" for c, (m, k) in row["counts"].items()]
    shown += [f"{c}>{g} {e}/{j}" for c, t in row["undergrade"].items() for g, (j, e) in t.items() if e]
    print(f"{name}: " + ", ".join(shown), flush=True)


def measure(
    n: int, size_mm: tuple[float, float], seed: int, slides_dir: str | Path, models: Any = None
) -> list[dict[str, Any]]:
    """Each generated validation slide's truth and counts (``count_slide``)."""
    from ..labels import TBSRTC

    if seed + n > TRAINING_MAX_SEED:
        raise ValueError(f"seed {seed}: the prior is fitted on validation seeds < {TRAINING_MAX_SEED}")
    if models is None:
        from ..models.folder import load_default_models

        models = load_default_models()
    work = Path(slides_dir)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, s, cat, stain in plan(n, seed):
        path, _, _ = slide_in(work, s, cat, stain, size_mm)
        rows.append({"seed": s, "size_mm": list(size_mm), "truth": cat, **count_slide(path, models, TBSRTC)})
        _show(f"seed {s} ({cat})", rows[-1])
    return rows


def measure_folder(folder: str | Path, models: Any, labels: Any) -> list[dict[str, Any]]:
    """Each slide of ``folder`` (as a batch finds them) graded reading every region: its counts. A slide
    that cannot be graded is named in one line and left out."""
    from ..batch.inputs import find_slides
    from ..errors import ZoomgradeError

    rows = []
    for path in find_slides(Path(folder)):
        try:
            rows.append({"slide": str(path), **count_slide(path, models, labels)})
        except (ZoomgradeError, OSError) as err:
            print(f"{path}: left out ({err})", flush=True)
            continue
        _show(path.name, rows[-1])
    return rows


def fit(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Coarse grade -> fitted Beta(a, b), from ``measure``'s rows; none where the fit lies on the lower edge
    (``fit_undergrade`` says why)."""
    out = {}
    for c in sorted({c for r in rows for c in r["counts"]}):
        pairs = [r["counts"][c] for r in rows if c in r["counts"]]
        ab = _usable(fit_beta_binomial([m for m, _ in pairs], [k for _, k in pairs]))
        if ab is not None:
            out[c] = ab
    return out


def fit_undergrade(rows: list[dict[str, Any]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Coarse grade -> more severe coarse grade -> fitted Beta(a, b), from the rows that have under-grade counts (a pooled
    file of an older run may not). Pairs with no evidence on any slide get none, and so do pairs whose
    likelihood is highest at the edge (a or b -> 0: every slide all or none, as when one slide shows it on
    every region and the rest on none): such a prior would let one region read decide all the others."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    tables = [r["undergrade"] for r in rows if "undergrade" in r]
    for c in sorted({c for t in tables for c in t}):
        for g in sorted({g for t in tables if c in t for g in t[c]}):
            pairs = [t[c][g] for t in tables if c in t and g in t[c] and t[c][g][0] > 0]
            if not pairs or not any(e for _, e in pairs):
                continue
            ab = _usable(fit_beta_binomial([j for j, _ in pairs], [e for _, e in pairs]))
            if ab is not None:
                out.setdefault(c, {})[g] = ab
    return out


def toml_lines(recall: dict[str, tuple[float, float]], under: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """The two config lines (``[early_stop]`` keys) for the fitted priors."""

    def ab(p: tuple[float, float]) -> str:
        return f"[{p[0]:.3g}, {p[1]:.3g}]"

    inner = {c: ", ".join(f"{g} = {ab(p)}" for g, p in t.items()) for c, t in under.items()}
    return [
        "recall_prior = { " + ", ".join(f"{c} = {ab(p)}" for c, p in recall.items()) + " }",
        "undergrade_prior = { " + ", ".join(f"{c} = {{ {t} }}" for c, t in inner.items()) + " }",
    ]


def worst_shares(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Coarse grade -> the largest share of its regions on one slide that were evidence for some category of
    a more severe coarse grade (rounded up): ``early_stop.undergrade``, an upper bound on any slide's."""
    out: dict[str, float] = {}
    for r in rows:
        for c, t in r.get("undergrade", {}).items():
            for j, e in t.values():
                if j:
                    out[c] = max(out.get(c, 0.0), math.ceil(1000 * e / j) / 1000)
    return out


def measured_on(rows: list[dict[str, Any]]) -> str:
    """The slides the rows count, in words (seed ranges per size, or a count of a folder's slides)."""
    parts: list[str] = []
    by_size: dict[tuple[float, ...], list[int]] = {}
    for r in rows:
        if "seed" in r:
            by_size.setdefault(tuple(r.get("size_mm") or ()), []).append(int(r["seed"]))
    for size, seeds in by_size.items():
        at = f" at {size[0]:g} x {size[1]:g} mm" if size else ""
        parts.append(f"seeds {min(seeds)}-{max(seeds)}{at}" if len(seeds) > 1 else f"seed {seeds[0]}{at}")
    if folder := sum(1 for r in rows if "seed" not in r):
        parts.append(f"{folder} slides of a folder")
    return f"{len(rows)} validation slides read in full ({'; '.join(parts)}), python -m zoomgrade.bench.recall_prior"


def card_record(rows: list[dict[str, Any]], stage2_files: dict[str, str]) -> dict[str, Any]:
    """The stage-1 card's ``early_stop`` record (cascade/measured.py) from the rows' fits."""
    return {
        "undergrade": worst_shares(rows),
        "undergrade_prior": {c: {t: list(ab) for t, ab in tt.items()} for c, tt in fit_undergrade(rows).items()},
        "recall_prior": {c: list(ab) for c, ab in fit(rows).items()},
        "stage2_files": dict(stage2_files),
        "measured_on": measured_on(rows),
    }


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
    ap.add_argument("--models", default=None, help="model folder to measure (default: the shipped models)")
    ap.add_argument("--input", default=None, help="grade this folder's slides instead of generated ones")
    ap.add_argument("--write-card", action="store_true", help="write the fit into the models' stage-1 card")
    a = ap.parse_args(argv)
    rows = []
    for f in a.pool:
        try:
            rows += json.loads(Path(f).read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{f}: not a --out file of this tool ({type(err).__name__}: {err})") from None
    from ..errors import ZoomgradeError
    from ..models.folder import WEIGHTS_DIR, agreed_label_set, load_models

    folder = Path(a.models) if a.models else WEIGHTS_DIR
    try:
        models = load_models(folder)
    except ZoomgradeError as err:
        raise SystemExit(f"--models: {err}") from None
    if a.input:
        if not Path(a.input).is_dir():
            raise SystemExit(f"{a.input}: not a folder of slides")
        measured = measure_folder(a.input, models, agreed_label_set(*models))
        if not measured:  # nothing to fit: a card's record is never replaced by an empty one
            raise SystemExit(f"{a.input}: no slide could be graded, nothing fitted")
        rows += measured
    else:
        rows += measure(a.n, (a.size_mm[0], a.size_mm[1]), a.seed, a.slides_dir, models)
    priors, under = fit(rows), fit_undergrade(rows)
    for c, (pa, pb) in priors.items():
        print(f"{c}: Beta({pa:.3f}, {pb:.3f}), mean severe share {pa / (pa + pb):.3f}")
    for c, t in under.items():
        for g, (pa, pb) in t.items():
            print(f"{c} as evidence for {g}: Beta({pa:.3f}, {pb:.3f}), mean share {pa / (pa + pb):.3f}")
    print("\n".join(toml_lines(priors, under)))
    if a.out:
        Path(a.out).write_text(json.dumps({"rows": rows, "prior": priors, "undergrade_prior": under}, indent=2) + "\n")
    if a.write_card:
        from ..models.card import read_card, write_card

        card = read_card(folder / "stage1.json")
        card.early_stop = card_record(rows, models[1].card.files)
        write_card(card, folder / "stage1.json")
        print(f"wrote early_stop into {folder / 'stage1.json'}: {card.early_stop['measured_on']}")


if __name__ == "__main__":
    main()
