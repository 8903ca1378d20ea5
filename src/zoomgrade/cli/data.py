"""``zoomgrade data check DIR``: per-class counts and the problems of a set of annotated slides."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from .common import EXIT_PARTIAL, guarded, stdout

app = typer.Typer(help="Check annotated slides before training or evaluation.", no_args_is_help=True)


@app.command("check")
@guarded
def check(
    source: Path = typer.Argument(..., help="Folder of slides with QuPath .geojson beside them, or a CSV manifest."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    labels: str = typer.Option(
        "tbsrtc", "--labels", help="Label set the annotations should use: a shipped one or a .toml file."
    ),
) -> None:
    """Per-class counts, slide categories, and every problem found. Exit 0 when none, 1 when some were
    found (the report lists each), 2 when SOURCE cannot be read at all."""
    from ..labels import load_label_set
    from ..models.data_check import check_data

    ls = load_label_set(labels)
    rep = check_data(source, ls)
    out = stdout()
    if as_json:
        out.print_json(json.dumps(rep.to_dict()))
    else:
        out.print(f"{rep.source}: {rep.n_slides} slides; annotated groups per grade:", highlight=False)
        t = Table()
        t.add_column("split")
        for g in ls.fine:
            t.add_column(g, justify="right")
        for s, c in rep.split_counts.items():
            if list(rep.split_counts) != ["unsplit"]:
                t.add_row(s, *(str(c[g]) for g in ls.fine))
        t.add_row("all", *(str(rep.class_counts[g]) for g in ls.fine), style="bold")
        out.print(t)
        out.print("slide categories: " + ", ".join(f"{k}: {v}" for k, v in rep.categories.items()), highlight=False)
        kinds: dict[str, int] = {}
        for p in rep.problems:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
            out.print(f"[red]{p.kind}[/]: {p.slide}: {p.detail}", highlight=False, soft_wrap=True)
        if rep.ok:
            out.print("no problems found", highlight=False)
        else:
            out.print(
                f"{len(rep.problems)} problems: " + ", ".join(f"{k} {v}" for k, v in kinds.items()), highlight=False
            )
    if not rep.ok:
        raise typer.Exit(EXIT_PARTIAL)
