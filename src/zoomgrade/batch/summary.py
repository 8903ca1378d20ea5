"""What a batch returns: its counts, rows and timings (``BatchSummary``), and the exit status they mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cluster import ClusterPlan
from .worker import SlideRow


@dataclass
class BatchSummary:
    graded: int
    skipped: int
    failed: int
    rows: list[SlideRow]
    seconds: float
    summary_csv: Path
    failures_csv: Path
    lost_attempts: int = 0  # slide attempts lost to dead workers (rescheduled by Dask)
    startup_seconds: float = 0.0  # before the first slide was sent: inputs, cluster start, models loaded
    plan: ClusterPlan | None = None  # None when nothing needed grading (no cluster started)
    scheduler: str | None = None
    dashboard: str | None = None
    warnings: list[str] = field(default_factory=list)
    withheld: int = 0  # done, but no category (quality control or outside the models' domain)

    @property
    def exit_code(self) -> int:
        """0 all graded or skipped, 1 some failed, 3 none failed but some withheld (the CLI's exit status)."""
        return 1 if self.failed else 3 if self.withheld else 0

    @property
    def slides_per_hour(self) -> float:
        """Graded slides per hour of this run's wall time, start-up included."""
        return 3600.0 * self.graded / self.seconds if self.seconds > 0 and self.graded else 0.0

    @property
    def steady_slides_per_hour(self) -> float:
        """Graded slides per hour once the workers were up with their models (start-up excluded)."""
        busy = self.seconds - self.startup_seconds
        return 3600.0 * self.graded / busy if busy > 0 and self.graded else 0.0
