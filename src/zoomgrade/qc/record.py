"""The typed record every quality check returns, and how a set of them decides a slide."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["pass", "warn", "fail"]


@dataclass
class QcRecord:
    """One check on one slide: what was measured, against what, and what it means."""

    name: str  # "resolution", "extent", "brightfield", "stain", "focus"
    value: float | None  # the measurement (None: could not be measured, see detail)
    threshold: float | None
    verdict: Verdict
    detail: str  # one sentence a person understands

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed(records: list[QcRecord]) -> list[QcRecord]:
    return [r for r in records if r.verdict == "fail"]


def warned(records: list[QcRecord]) -> list[QcRecord]:
    return [r for r in records if r.verdict == "warn"]
