"""Fit the early stop's measured values for a model folder, and write them into its stage-1 card.

From slides read in full (``stop_counts``): how the share of a coarse grade's regions that high power finds
in the most severe coarse grade varies from slide to slide, fitted as a beta-binomial (maximum likelihood
on every slide's counts, so a slide with few regions weighs as little as it says): ``recall_prior``, the
prior ``cascade/recall_bound.py`` updates with a slide's own regions read. The same for the regions that are
evidence for some category of a more severe coarse grade: ``undergrade_prior`` (``cascade/undergrade.py``),
and the worst slide's share: ``undergrade``. The three, with the stage-2 files they were measured with, are
the stage-1 card's ``early_stop`` record (read by ``cascade/measured.py``).

``fit_early_stop(models, slides)`` is ``zoomgrade models fit-stop``; ``python -m zoomgrade.bench.recall_prior``
fits the shipped models on generated validation slides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ZoomgradeError
from .stop_counts import Row, count_folder

#: A fitted a or b below this is the optimiser walking off to 0 (interior fits here are 0.03 and up).
_BOUNDARY = 1e-6
#: Slides that all share one rate fit a + b -> infinity (a binomial world); beyond this the prior is scaled
#: down to it, keeping its mean. That only widens it (more reading), and at 10,000 it is already as narrow
#: as a slide's own few hundred regions could tell.
_MAX_CONCENTRATION = 1e4
#: What made a record, in its ``measured_on`` words (unless the caller names another tool).
FIT_STOP = "zoomgrade models fit-stop"
#: A coarse grade's values are fitted only from at least this many slides with regions of it: fewer cannot
#: say how slides differ. Fitted on k of the 36 validation slides' counts and checked on the others (300
#: draws each), a held-out slide's share was above the k slides' worst share 26% of the time for k = 2,
#: 12% for 5, 4.6% for 10, 2.1% for 20 and 1.0% for 35; above the fitted prior's 99th percentile 25%,
#: 14%, 7.5%, 4.2% and 3.8%. Too few, and the stop would trust a rate a new slide often exceeds.
MIN_SLIDES = 20


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


def _usable(pairs: list[tuple[int, int]]) -> tuple[float, float] | None:
    """The fit of (regions, hits) pairs as a prior: none when no slide shows a hit (a fit to none at all would
    say never), none on the lower edge (a or b -> 0: every slide all or none, as when one slide shows it on
    every region and the rest on none; such a prior would let one region read decide all the others), and
    its concentration capped. (Coarse grades on too few slides never get here: ``too_few_slides``.)"""
    pairs = [(m, k) for m, k in pairs if m > 0]
    if not pairs or not any(k for _, k in pairs):
        return None
    a, b = fit_beta_binomial([m for m, _ in pairs], [k for _, k in pairs])
    if min(a, b) <= _BOUNDARY:
        return None
    scale = min(1.0, _MAX_CONCENTRATION / (a + b))
    return a * scale, b * scale


def fit(rows: list[Row], min_slides: int = MIN_SLIDES) -> dict[str, tuple[float, float]]:
    """Coarse grade -> fitted Beta(a, b) of its severe share (``recall_prior``)."""
    out = {}
    thin = too_few_slides(rows, min_slides)
    for c in sorted({c for r in rows for c in r["counts"]} - set(thin)):
        ab = _usable([tuple(r["counts"][c]) for r in rows if c in r["counts"]])
        if ab is not None:
            out[c] = ab
    return out


def fit_undergrade(rows: list[Row], min_slides: int = MIN_SLIDES) -> dict[str, dict[str, tuple[float, float]]]:
    """Coarse grade -> more severe coarse grade -> fitted Beta(a, b) (``undergrade_prior``), from the rows
    that have under-grade counts (a pooled file of an older run may not)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    tables = [r["undergrade"] for r in rows if "undergrade" in r]
    thin = too_few_slides(rows, min_slides)
    for c in sorted({c for t in tables for c in t} - set(thin)):
        for g in sorted({g for t in tables if c in t for g in t[c]}):
            ab = _usable([tuple(t[c][g]) for t in tables if c in t and g in t[c]])
            if ab is not None:
                out.setdefault(c, {})[g] = ab
    return out


def worst_shares(rows: list[Row], min_slides: int = MIN_SLIDES) -> dict[str, float]:
    """Coarse grade -> the largest share of its regions on one slide that were evidence for some category of
    a more severe coarse grade (rounded up): ``early_stop.undergrade``, an upper bound on any slide's; for
    the coarse grades with regions on at least ``min_slides`` slides."""
    out: dict[str, float] = {}
    for r in rows:
        for c, t in r.get("undergrade", {}).items():
            for j, e in t.values():
                if j:
                    out[c] = max(out.get(c, 0.0), math.ceil(1000 * e / j) / 1000)
    thin = too_few_slides(rows, min_slides)
    return {c: v for c, v in out.items() if c not in thin}


def too_few_slides(rows: list[Row], min_slides: int = MIN_SLIDES) -> dict[str, int]:
    """Coarse grade -> on how many slides it has regions, for those on fewer than ``min_slides``: nothing
    is fitted for them (each slide's own regions bound them, as with no record)."""
    seen: dict[str, int] = {}
    for r in rows:
        for c in {*r.get("counts", {}), *r.get("undergrade", {})}:
            tables = [r.get("counts", {}).get(c, (0, 0)), *r.get("undergrade", {}).get(c, {}).values()]
            seen[c] = seen.get(c, 0) + any(m > 0 for m, _ in tables)
    return {c: n for c, n in sorted(seen.items()) if n < min_slides}


def measured_on(rows: list[Row], by: str = FIT_STOP) -> str:
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
    return f"{len(rows)} validation slides read in full ({'; '.join(parts)}), {by}"


def card_record(
    rows: list[Row], stage2_files: dict[str, str], by: str = FIT_STOP, min_slides: int = MIN_SLIDES
) -> dict[str, Any]:
    """The stage-1 card's ``early_stop`` record (cascade/measured.py) from the rows' fits."""
    under = fit_undergrade(rows, min_slides)
    return {
        "undergrade": worst_shares(rows, min_slides),
        "undergrade_prior": {c: {t: list(ab) for t, ab in tt.items()} for c, tt in under.items()},
        "recall_prior": {c: list(ab) for c, ab in fit(rows, min_slides).items()},
        "stage2_files": dict(stage2_files),
        "measured_on": measured_on(rows, by),
    }


def describe(record: dict[str, Any], thin: dict[str, int] | None = None, min_slides: int = MIN_SLIDES) -> list[str]:
    """The record's fits, a line each; and a line for each coarse grade of ``thin`` (``too_few_slides``)."""
    lines = []
    for c, (a, b) in record["recall_prior"].items():
        lines.append(f"{c}: severe share Beta({a:.3f}, {b:.3f}), mean {a / (a + b):.3f}")
    for c, t in record["undergrade_prior"].items():
        for g, (a, b) in t.items():
            lines.append(f"{c} as evidence for {g}: Beta({a:.3f}, {b:.3f}), mean {a / (a + b):.3f}")
    for c, share in record["undergrade"].items():
        lines.append(f"{c}: worst slide's share of evidence for a more severe grade {share:g}")
    for c, n in (thin or {}).items():
        lines.append(
            f"{c}: regions on {n} slide{'s' * (n != 1)}, fewer than the {min_slides} it takes to measure how "
            "slides differ: not fitted (each slide's own regions bound it)"
        )
    return lines


def fitted_anything(record: dict[str, Any]) -> bool:
    """Whether a record holds any measured value (one without any changes nothing the stop does)."""
    return any(record[k] for k in ("undergrade", "undergrade_prior", "recall_prior"))


@dataclass(frozen=True)
class StopFit:
    """What ``fit_early_stop`` measured: the slides' counts and the card record fitted to them."""

    rows: list[Row]
    record: dict[str, Any]
    thin: dict[str, int]  # coarse grades on too few slides to fit (``too_few_slides``)


def fit_early_stop(
    models: Any,
    slides: str | Path,
    say: Callable[[str], None] = print,
    pooled: Sequence[Row] = (),
    by: str = FIT_STOP,
    min_slides: int = MIN_SLIDES,
) -> StopFit:
    """Grade every slide of ``slides`` with ``models`` (a model folder, or its loaded ``(stage1, stage2)``)
    reading every region, and fit the early stop's record to them (and to ``pooled`` rows of earlier
    counts; ``by``: the tool, in the record's words; ``min_slides``: see ``MIN_SLIDES``).
    ``ZoomgradeError`` when the models do not load, ``slides`` is no folder, or no slide of it could be
    graded."""
    from ..models.folder import agreed_label_set, load_models

    if isinstance(models, (str, Path)):
        models = load_models(models)
    if not Path(slides).is_dir():
        raise ZoomgradeError(f"{slides}: not a folder of slides")
    rows = count_folder(slides, models, agreed_label_set(*models), say)
    if not rows:
        raise ZoomgradeError(f"{slides}: no slide could be graded, nothing fitted")
    rows = [*pooled, *rows]
    record = card_record(rows, models[1].card.files, by, min_slides)
    return StopFit(rows, record, too_few_slides(rows, min_slides))


def write_early_stop(models_folder: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` into the stage-1 card of ``models_folder`` (atomically; the weights are untouched)."""
    from ..models.card import read_card, write_card

    path = Path(models_folder) / "stage1.json"
    card = read_card(path)
    card.early_stop = record
    write_card(card, path)
    return path


__all__ = [
    "FIT_STOP",
    "MIN_SLIDES",
    "StopFit",
    "card_record",
    "describe",
    "fit",
    "fit_beta_binomial",
    "fit_early_stop",
    "fit_undergrade",
    "fitted_anything",
    "measured_on",
    "too_few_slides",
    "worst_shares",
    "write_early_stop",
]
