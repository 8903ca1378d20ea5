"""A label set of another shape than TBSRTC (4 fine grades in 2 coarse grades, other names and colours),
the mapping from the synthetic generator's classes to it, and tiny model folders for refusal tests."""

from __future__ import annotations

from pathlib import Path

OTHER_TOML = """
name = "other-4x2"
abbreviation = "OTHER"
title = "A four-tier test system"
source = "zoomgrade tests (not a published system)"
nondiagnostic = "unsat"
fine = ["bland", "atypical", "suspect", "cancer"]
severity_from = "suspect"

[categories.unsat]
name = "Unsatisfactory"
risk = 0.1
colour = "#101010"
[categories.bland]
name = "Bland cells"
risk = 0.05
colour = "#00a0ff"
[categories.atypical]
name = "Atypical cells"
risk = 0.3
colour = "#ffd000"
[categories.suspect]
name = "Suspect cells"
risk = 0.7
colour = "#ff00c8"
[categories.cancer]
name = "Cancer cells"
risk = 0.95
colour = "#7a00ff"

[[coarse]]
name = "low"
fine = ["bland", "atypical"]
colour = "#30c030"
[[coarse]]
name = "high"
fine = ["suspect", "cancer"]
colour = "#e02020"

[slide_rule]
min_count = { atypical = 2, suspect = 2, cancer = 2 }
min_area_um2 = { atypical = 500.0, suspect = 500.0, cancer = 500.0 }
min_confidence = { atypical = 0.4, suspect = 0.4, cancer = 0.4 }
min_share = { atypical = 0.01, suspect = 0.01, cancer = 0.01 }
"""

#: the generator's (TBSRTC) classification names -> the other label set's
MAPPING = {"II": "bland", "III": "atypical", "IV": "atypical", "V": "suspect", "VI": "cancer"}


def write_other(d: Path) -> Path:
    p = d / "other.toml"
    p.write_text(OTHER_TOML)
    return p
