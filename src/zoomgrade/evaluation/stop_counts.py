"""What the early stop's priors are fitted to: slides graded reading every region, and on each, per coarse
grade stage 1 called, how many of its regions high power found worse (cascade/recall_bound.py,
cascade/undergrade.py). Fitting them is ``stop_fit``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ZoomgradeError
from ..labels import LabelSet

#: A row: one slide's ``counts`` and ``undergrade`` tables, with where it came from ("seed" and "size_mm"
#: for a generated validation slide, "slide" for a file of a folder).
Row = dict[str, Any]


def slide_counts(result: Any, labels: LabelSet) -> dict[str, tuple[int, int]]:
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


def undergrade_counts(result: Any, labels: LabelSet, rule: Any) -> dict[str, dict[str, tuple[int, int]]]:
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
        reach = reach_of(c, labels)
        for g in regs:
            at_least = p_at_least(g.fine_probs)
            sev, cells = labels.fine_index(g.fine_grade), int(g.region.cells)
            for t, ev in surprises(reach, sev, at_least, cells, rule, labels.fine, coarse_of)[1].items():
                hits[labels.coarse[t]] += ev
        out[c] = {t: (len(regs), e) for t, e in hits.items()}
    return out


def read_all_config(labels: LabelSet) -> Any:
    """The default config for ``labels`` with the early stop off: every region read."""
    from ..cascade import default_config
    from ..cascade.labelled import config_for_labels

    cfg = default_config()
    cfg = dataclasses.replace(cfg, early_stop=dataclasses.replace(cfg.early_stop, enabled=False))
    return config_for_labels(cfg, labels, "the read-all config")


def count_slide(path: Any, models: Any, labels: LabelSet, cfg: Any = None) -> Row:
    """One slide graded reading every region (``cfg``: ``read_all_config(labels)``, made once by callers
    that count many): its ``slide_counts`` and ``undergrade_counts``. A slide the quality control or the
    domain gate withholds raises ``ZoomgradeError``: it has no regions to count, and is no slide like those
    the models will grade."""
    from ..cascade import grade

    cfg = read_all_config(labels) if cfg is None else cfg
    result = grade(path, cfg, models=models)
    if result.withheld:
        raise ZoomgradeError(f"withheld by the quality control or domain gate ({'; '.join(result.withheld_reasons)})")
    return {"counts": slide_counts(result, labels), "undergrade": undergrade_counts(result, labels, cfg.slide_rule)}


def generated_origin(path: Path) -> Row:
    """``seed`` and ``size_mm`` of a slide the project's generator wrote (from its truth file beside it), else
    nothing: a record measured on generated slides then names the seeds that make them again."""
    from ..synth.truth import read_truth

    try:
        truth = read_truth(path)
        if truth is None:
            return {}
        seed, size = int(truth["seed"]), [float(v) for v in truth["size_mm"]]
    except (ZoomgradeError, ValueError, TypeError, KeyError):  # not the generator's: a folder's slide
        return {}
    return {"seed": seed, "size_mm": size} if len(size) == 2 else {}


def show(name: str, row: Row) -> str:
    """One line of a row's counts: severe / regions per coarse grade, and the under-grade hits."""
    shown = [f"{c} {k}/{m}" for c, (m, k) in row["counts"].items()]
    shown += [f"{c}>{g} {e}/{j}" for c, t in row["undergrade"].items() for g, (j, e) in t.items() if e]
    return f"{name}: " + (", ".join(shown) or "nothing to count (no region stage 1 called less than most severe)")


def count_folder(folder: str | Path, models: Any, labels: LabelSet, say: Callable[[str], None] = print) -> list[Row]:
    """Each slide of ``folder`` (as a batch finds them) graded reading every region: its counts, each told
    to ``say`` in one line. A slide that cannot be graded is named in one line and left out."""
    from ..batch.inputs import find_slides

    cfg = read_all_config(labels)
    rows = []
    for path in find_slides(Path(folder)):
        try:
            rows.append({"slide": str(path), **generated_origin(path), **count_slide(path, models, labels, cfg)})
        except (ZoomgradeError, OSError) as err:
            say(f"{path}: left out ({err})")
            continue
        say(show(path.name, rows[-1]))
    return rows


__all__ = [
    "Row",
    "count_folder",
    "count_slide",
    "generated_origin",
    "read_all_config",
    "show",
    "slide_counts",
    "undergrade_counts",
]
