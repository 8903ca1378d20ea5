"""What a result must say about its input besides the grade: failed reads of a damaged file, and the model
files that graded it. One call at the end of ``grade_modes``, before any output is written."""

from __future__ import annotations

from typing import Any

from ..slide.limits import failed_reads_warning
from ..types import SlideResult
from .config import GradeConfig


def record(slide: Any, cfg: GradeConfig, s1: Any, s2: Any, results: list[SlideResult]) -> None:
    """Add the read report and the model files' hashes to ``results``; a warning to every result when reads
    failed. Raises ``SlideError`` when too many failed (``[limits] max_failed_read_fraction``)."""
    log = getattr(slide, "read_log", None)
    report = log.report() if log is not None else None
    warning = (failed_reads_warning(report, cfg.limits.max_failed_read_fraction, str(slide.path))
               if report is not None else None)
    files = {**getattr(s1, "files", {}), **getattr(s2, "files", {})}
    for r in results:
        if report is not None:
            r.decode_errors = report.to_dict()
        r.model_files = dict(files)
        if warning:
            r.warnings.append(warning)
