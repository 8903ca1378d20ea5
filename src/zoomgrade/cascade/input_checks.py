"""What a result must say about its input besides the grade: failed reads of a damaged file, and the model
files that graded it. Taken once at the end of ``grade_modes``, after the passes and before the results
are built (they are not changed afterwards)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..slide.limits import failed_reads_warning
from .config import GradeConfig


@dataclass(frozen=True)
class InputRecord:
    decode_errors: dict[str, Any] | None  # the slide's reads and the failed ones (slide.limits)
    model_files: dict[str, str]  # model file name -> SHA-256
    warning: str | None  # for every result when reads failed


def inspect(slide: Any, cfg: GradeConfig, s1: Any, s2: Any) -> InputRecord:
    """The read report and the model files' hashes. Raises ``SlideError`` when too many reads failed
    (``[limits] max_failed_read_fraction``)."""
    log = getattr(slide, "read_log", None)
    report = log.report() if log is not None else None
    warning = (
        failed_reads_warning(report, cfg.limits.max_failed_read_fraction, str(slide.path))
        if report is not None
        else None
    )
    files = {**getattr(s1, "files", {}), **getattr(s2, "files", {})}
    return InputRecord(None if report is None else report.to_dict(), dict(files), warning)
