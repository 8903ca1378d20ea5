"""What a batch shows while it runs: a progress bar over the slides with an ETA, and plain lines (both on
stderr, silent when disabled)."""

from __future__ import annotations

from .worker import SlideRow


class BatchProgress:
    """A rich progress bar over the slides to grade, with an ETA; silent when disabled."""

    def __init__(self, enabled: bool, total: int, skipped: int):
        self.bar = None
        self.failed = 0
        self.skipped = skipped
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.task = self.bar.add_task(self._desc(), total=total)
            self.bar.start()

    def _desc(self) -> str:
        return f"grading (skipped {self.skipped}, failed {self.failed})"

    def advance(self, row: SlideRow) -> None:
        self.failed += row.status == "failed"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=self._desc())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def say(enabled: bool, text: str) -> None:
    if enabled:
        from rich.console import Console

        Console(stderr=True).print(text, highlight=False, soft_wrap=True, markup=False)  # addresses, plain text
