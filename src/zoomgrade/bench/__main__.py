"""``python -m zoomgrade.bench [options]``: the same as ``zoomgrade bench``."""

import typer

from ..cli.bench import bench

typer.run(bench)
