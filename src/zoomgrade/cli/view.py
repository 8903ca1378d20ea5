"""zoomgrade view: serve a results folder to a browser (thin shell over zoomgrade.viewer.ViewerServer)."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import typer

from .common import fail, guarded, stdout


@guarded
def view(
    results_dir: Path = typer.Argument(
        ...,
        metavar="RESULTS_DIR",
        help="The --out folder of `zoomgrade grade` or `zoomgrade batch` (or one slide's folder).",
    ),
    port: int | None = typer.Option(None, "--port", "-p", min=1, max=65535, help="Port (default: a free one)."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on. The default serves this machine only; another address "
        "shows the results (and the slides) to anyone who can reach it.",
    ),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; just print the address."),
) -> None:
    """A zoomable viewer of graded slides: worklist, slide at every zoom, regions in grade colours. Local, offline.

    Serves only the results folder's files and the slides its result.json files name. Ctrl-C stops it.
    """
    from ..viewer import ViewerServer

    try:
        server = ViewerServer(results_dir, host=host, port=port or 0)
    except OSError as err:
        if err.filename:  # the results folder itself: guarded's one line
            raise
        raise fail(f"{host}:{port or 0}: cannot listen there: {err.strerror or err}") from None
    try:  # the address is printed inside: a Ctrl-C from then on stops the viewer cleanly (exit 0)
        server.start()
        n = len(server.viewer.index.entries())
        stdout().print(
            f"zoomgrade viewer: {n} slide(s) from {server.viewer.index.root} at {server.url} (Ctrl-C stops it)",
            highlight=False,
            soft_wrap=True,
        )
        if not no_browser:
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.wait()
    except KeyboardInterrupt:
        stdout().print("viewer stopped")
    finally:
        server.stop()
