"""The high-power queue: stage 1's regions (``models.regions.maps_to_regions``) in the order a cytologist
would look at them, most severe first."""

from __future__ import annotations

from ..labels import LabelSet
from ..types import Region


def severity_key(region: Region, labels: LabelSet) -> tuple[int, float, float]:
    """Sort key: coarse grade (most severe first), then stage-1 confidence, then area (largest first)."""
    return (-labels.coarse_index(region.coarse_grade), -float(region.confidence), -float(region.area_um2))


def severity_order(regions: list[Region], labels: LabelSet) -> list[Region]:
    """Regions sorted for the high-power pass; ties keep their stage-1 order (the sort is stable)."""
    return sorted(regions, key=lambda r: severity_key(r, labels))
