"""What every command shares: one-line errors with exit code 2, --debug for the traceback, consoles."""

from __future__ import annotations

import functools
import gc
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ZoomgradeError

F = TypeVar("F", bound=Callable[..., Any])

#: ``--models`` of the commands that grade (grade, demo)
MODELS_HELP = (
    "Model folder (stage1/stage2 weights and cards, docs/models.md; default: the config's models.folder, else "
    "the shipped weights). The label set comes from its cards."
)

#: exit codes: 0 all done, 1 some slides failed (the rest written), 2 bad usage or input, 3 every slide
#: done but at least one withheld (no category: quality control or outside the models' domain). A
#: pipeline that reads only the exit code must not take a withheld slide for a graded one.
EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_WITHHELD = 0, 1, 2, 3
#: Ctrl-C (SIGINT): 128 + 2, the shell's convention
EXIT_INTERRUPTED = 130
#: --threads of the commands that grade
MAX_THREADS = 1024


def threads_option() -> Any:
    """The ``--threads`` option of the commands that grade: the models' CPU threads."""
    return typer.Option(
        None,
        "--threads",
        min=1,
        max=MAX_THREADS,
        help="CPU threads for the models (ONNX Runtime, or torch where it runs one; default: the physical cores).",
    )


def freeze_heap() -> None:
    """Put the objects alive once the modules and models are loaded out of the cyclic garbage collector's reach
    (``gc.freeze``, made for long-lived objects): a full collection walked them all, 0.1-0.12 s about once a
    slide while every Python thread of the pass waited. Measured side by side on ten bench slides,
    alternating, when torch was imported (about 240,000 objects): grading 0.96 and writing 0.87 of the time;
    without torch, grading 1.01 (within its spread) and writing 0.89 (docs/benchmark.md). Once a process: the
    command is the application here, not the library."""
    if gc.get_freeze_count() == 0:
        gc.freeze()


def check_number(name: str, value: float | None, lo: float, hi: float | None = None, unit: str = "") -> None:
    """Refuse a non-finite or out-of-range option value with one line (``ZoomgradeError``: exit 2)."""
    if value is None:
        return
    ok = isinstance(value, (int, float)) and math.isfinite(value) and value >= lo and (hi is None or value <= hi)
    if not ok:
        span = f">= {lo:g}" if hi is None else f"in [{lo:g}, {hi:g}]"
        raise ZoomgradeError(f"{name}: must be a finite number {span}{' ' + unit if unit else ''}, got {value}")


def stdout() -> Console:
    return Console()


def stderr() -> Console:
    return Console(stderr=True)


@dataclass
class RunOptions:
    """What the root command (``zoomgrade --debug CMD``) decided for this run. Set by the CLI's callback
    on every invocation; the library never reads it (it gets explicit parameters, e.g. batch(debug=))."""

    debug: bool = False


RUN = RunOptions()


def debug_enabled() -> bool:
    return RUN.debug


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one error line to stderr and return the Exit to raise. ``message`` is plain text (paths and
    values in it may hold rich markup characters such as ``[/]``: they are printed as they are)."""
    stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def guarded(fn: F) -> F:
    """Turn ZoomgradeError (and OSError on user paths) into one line on stderr and exit code 2.

    ``zoomgrade --debug CMD`` (or ZOOMGRADE_DEBUG=1) lets the traceback through instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ZoomgradeError as err:
            if debug_enabled():
                raise
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            stderr().print("interrupted (results already written are kept)", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OSError as err:
            if debug_enabled():
                raise
            where = getattr(err, "filename", None) or "?"
            raise fail(f"{where}: {err.strerror or err}") from None

    return wrapper  # type: ignore[return-value]


def is_tty() -> bool:
    return sys.stderr.isatty()
