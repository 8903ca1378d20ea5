"""The ``zoomgrade`` command: a thin Typer shell over the Python API. Each command lives in its own module."""

from __future__ import annotations

import os
import signal
import threading

import typer

from .._version import __version__
from .common import RUN

app = typer.Typer(
    name="zoomgrade",
    help="Grade gigapixel whole-slide images coarse-to-fine (thyroid FNA, The Bethesda System).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zoomgrade {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", envvar="ZOOMGRADE_DEBUG", help="Show tracebacks instead of one-line errors."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    RUN.debug = debug  # read by cli.common.guarded; passed on as a parameter where the library needs it
    # The process is ours here: onnxruntime (imported later, also by the exporter) writes a telemetry device
    # id under ~/.cache/Microsoft/DeveloperTools/ on import unless this is set. Leave no traces.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _register() -> None:
    # Imported here so that `zoomgrade --help` stays cheap and each command stays in its own module.
    from . import info

    app.command("info")(info.info)

    from . import synth

    app.command("synth")(synth.synth)
    app.command("synth-set")(synth.synth_set)

    from . import grade

    app.command("grade")(grade.grade_cmd)

    from . import demo

    app.command("demo")(demo.demo_cmd)

    from . import batch

    app.command("batch")(batch.batch)

    from . import train

    app.command("train")(train.train)

    from . import data, evaluate

    app.add_typer(data.app, name="data")
    app.command("evaluate")(evaluate.evaluate_cmd)

    from . import bench

    app.command("bench")(bench.bench)

    from . import models

    app.add_typer(models.app, name="models")

    from . import view

    app.command("view")(view.view)


_register()


def main() -> None:
    """The console script (and ``python -m zoomgrade``): the command, then an exit that Ctrl-C cannot cut.

    Once a command returns, its results are written and said; a Ctrl-C while the interpreter shuts down
    (Dask's exit handlers take about 0.7 s after a batch) would only turn its exit code into death by signal.
    """
    try:
        app(prog_name="zoomgrade")
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
