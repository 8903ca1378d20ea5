"""Per-slide progress bars of `zoomgrade grade`: one bar per pass, named as a person reads it."""

from __future__ import annotations

from typing import Any

from rich.markup import escape as esc
from rich.progress import Progress

STAGE_NAMES = {
    "open": "open slide",
    "stage1": "stage 1 (low power)",
    "stage2": "stage 2 (high power)",
    "fallback": "fallback patches",
    "exhaustive": "exhaustive tiles",
    "write": "write outputs",
}


def progress_callback(progress: Progress, name: str) -> Any:
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = esc(f"{name}: {STAGE_NAMES.get(stage, stage)}")
            tasks[stage] = progress.add_task(label, total=max(int(total), 1))
        progress.update(tasks[stage], completed=int(done), total=max(int(total), 1))

    return report
