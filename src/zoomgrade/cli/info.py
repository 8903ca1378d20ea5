"""``zoomgrade info SLIDE...``: what each slide is (backend, vendor, levels, mpp and where it came from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import ZoomgradeError
from ..slide import open_slide
from .common import EXIT_BAD_INPUT, check_number, debug_enabled, fail, guarded, stdout


def describe(path: str, mpp: float | None = None, backend: str | None = None) -> dict[str, Any]:
    """Everything ``info`` shows about one slide, as plain JSON-able data."""
    with open_slide(path, mpp=mpp, backend=backend) as s:
        d = s.info().to_dict()
        d.update(
            mpp_x=s.mpp_xy[0],
            mpp_y=s.mpp_xy[1],
            levels=[
                {"width": lv.width, "height": lv.height, "downsample": lv.downsample, "mpp": lv.mpp} for lv in s.levels
            ],
            associated_images=list(s.associated_images),
        )
        return d


def _table(d: dict[str, Any]) -> Table:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    objective = f"{d['objective_power']:g}x" if d["objective_power"] else "unknown"
    t.add_row("backend", d["backend"])
    t.add_row("vendor", escape(str(d["vendor"] or "unknown")))  # file content: may hold markup characters
    t.add_row("level-0 size", f"{d['width']} x {d['height']} px")
    t.add_row("mpp", f"{d['mpp_x']:.4g} x {d['mpp_y']:.4g} um/px (from {d['mpp_source']})")
    t.add_row("objective", objective)
    t.add_row("associated", escape(", ".join(d["associated_images"])) or "none")
    levels = Table("level", "size (px)", "downsample", "um/px", box=None)
    for i, lv in enumerate(d["levels"]):
        levels.add_row(str(i), f"{lv['width']} x {lv['height']}", f"{lv['downsample']:.4g}", f"{lv['mpp']:.4g}")
    t.add_row("levels", levels)
    return t


@guarded
def info(
    slides: list[Path] = typer.Argument(..., help="Slide files (SVS, NDPI, MRXS, TIFF/OME-TIFF, DICOM, PNG/JPEG...)."),
    mpp: float | None = typer.Option(None, "--mpp", help="Level-0 microns per pixel, overriding the file."),
    backend: str | None = typer.Option(None, "--backend", help="Force a reader: tifffile, openslide or pillow."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (failed slides carry an 'error')."),
) -> None:
    """Show each slide's levels, resolution (and where it came from), objective and associated images."""
    from .grade import MPP_RANGE

    check_number("--mpp", mpp, MPP_RANGE[0], MPP_RANGE[1], "um/px")
    out, records, failed = stdout(), [], False
    for path in slides:
        try:
            d = describe(str(path), mpp=mpp, backend=backend)
        except ZoomgradeError as err:
            if debug_enabled():
                raise
            failed = True
            fail(str(err))  # one line on stderr; go on with the next slide
            records.append({"path": str(path), "error": str(err)})
            continue
        records.append(d)
        if not as_json:
            # The path on its own line, never folded: a table title wraps to the table's width and
            # splits long paths in the middle of the file name.
            out.print(str(path), style="bold underline", soft_wrap=True, highlight=False, markup=False)
            out.print(_table(d))
    if as_json:
        typer.echo(json.dumps(records, indent=2))
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)
