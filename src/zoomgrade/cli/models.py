"""``zoomgrade models check DIR``: is this model folder usable, and what does it grade in?"""

from __future__ import annotations

from pathlib import Path

import typer

from .common import guarded, stdout

app = typer.Typer(help="Model folders: check one before grading with it.", no_args_is_help=True)


@app.command("check")
@guarded
def check(folder: Path = typer.Argument(..., help="Model folder (stage1.json/stage2.json and their weights).")) -> None:
    """Load a model folder, run a small test batch through each stage, and print what was found (exit 0)
    or exactly what is wrong (one line, exit 2)."""
    from ..models.check import check_model_folder

    out = stdout()
    for line in check_model_folder(folder):
        out.print(line, highlight=False, soft_wrap=True)
