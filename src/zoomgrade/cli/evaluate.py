"""``zoomgrade evaluate DIR``: grade annotated slides and measure the models against the annotations."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from .common import guarded, stderr, stdout, threads_option


class EvalMode(str, Enum):
    cascade = "cascade"
    exhaustive = "exhaustive"
    both = "both"


@guarded
def evaluate_cmd(
    source: Path = typer.Argument(..., help="Folder of slides with QuPath .geojson beside them, or a CSV manifest."),
    models: Path | None = typer.Option(
        None, "--models", help="Model folder (stage1.*, stage2.*; default: the shipped models)."
    ),
    out: Path = typer.Option(
        Path("evaluation"), "--out", help="Folder for eval.json, eval.html and each slide's outputs."
    ),
    mode: EvalMode = typer.Option(
        EvalMode.cascade, "--mode", help="cascade, exhaustive, or both (adds their agreement and times)."
    ),
    split: str | None = typer.Option(None, "--split", help="Only the manifest's slides of this split (e.g. test)."),
    config: Path | None = typer.Option(None, "--config", help="Grading config TOML (default: shipped defaults)."),
    threads: int | None = threads_option(),
) -> None:
    """Grade each slide against its annotations: region and slide confusion, per-grade F1, weighted kappa,
    calibration, 95% intervals (exact binomial for proportions over slides, bootstrap over slides for the
    rest); writes OUT/eval.json and a self-contained OUT/eval.html."""
    from ..evaluation.evaluate import run_evaluation

    modes = ("cascade", "exhaustive") if mode is EvalMode.both else (mode.value,)
    err = stderr()

    def on_slide(k: int, n: int, rec) -> None:
        got = ", ".join(f"{m} {r.category or 'withheld'}" for m, r in rec.modes.items()) or f"failed: {rec.error}"
        err.print(f"[{k}/{n}] {rec.slide}: truth {rec.truth or '?'}, {got}", highlight=False, soft_wrap=True)

    doc = run_evaluation(
        source, out, models_dir=models, modes=modes, config=config, split=split, on_slide=on_slide, threads=threads
    )
    con = stdout()
    for m, d in doc["per_mode"].items():
        h, ci = d["headline"], d["intervals"]
        figs = []
        for k, v in h.items():
            lo, hi = ci[k]["lo"], ci[k]["hi"]
            figs.append(
                f"{k} " + ("-" if v is None else f"{v:.3f}") + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
            )
        con.print(f"{m}: " + "; ".join(figs), highlight=False, soft_wrap=True)
        sl, nd = d["slide"], ci["nondiagnostic_rate"]
        rate = "-" if sl["nondiagnostic_rate"] is None else f"{sl['nondiagnostic_rate']:.3f}"
        rate += f" [{nd['lo']:.3f}, {nd['hi']:.3f}]" if nd["lo"] is not None else ""
        con.print(
            f"{m}: nondiagnostic rate {rate}; detection recall "
            f"{d['region']['detection_recall'] if d['region']['detection_recall'] is None else round(d['region']['detection_recall'], 3)}",
            highlight=False,
        )
    if doc["agreement"]:
        a = doc["agreement"]
        con.print(
            f"cascade vs exhaustive: category agreement {a['category_agreement']:.3f} over {a['n']} slides, "
            f"time ratio (median) {a['time_ratio_median']:.3f}",
            highlight=False,
            soft_wrap=True,
        )
    con.print(
        "intervals: 95%, exact binomial (Clopper-Pearson) for slide_accuracy, malignant_sensitivity and the "
        "nondiagnostic rate; percentile bootstrap over slides for the others",
        highlight=False,
        soft_wrap=True,
    )
    for w in doc["warnings"]:
        con.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    con.print(f"written: {Path(out) / 'eval.json'}, {Path(out) / 'eval.html'}", highlight=False, soft_wrap=True)
