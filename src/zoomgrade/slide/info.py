"""What was known about a slide when it was read: the slide layer's own record, which results carry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass
class SlideInfo:
    """What was known about the slide when it was graded."""

    path: str
    name: str
    backend: str
    vendor: str | None
    width: int
    height: int
    mpp: float
    mpp_source: Literal["file", "caller", "estimate"]
    objective_power: float | None
    size_bytes: int
    mtime: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
