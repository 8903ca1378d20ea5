"""The gate's two meeting points with grading: after stage 1 (``gate_after_stage1``) and on the slide
result (``apply_gate``). Kept apart from the cascade so that its passes only call these two."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..types import CostRecord, SlideResult
from .gate import GateDecision, assess_slide


def gate_after_stage1(
    slide: Any,
    maps: dict[str, Any],
    regions: list,
    s1: Any,
    s2: Any,
    stage2_mpp: float,
    window_px: int,
    cost: CostRecord,
    force: bool = False,
) -> GateDecision:
    """QC and domain scores from stage 1's display maps (thumbnail, features) and regions; timed as the
    cost record's "gate" stage."""
    t0 = time.perf_counter()
    thumb = np.asarray(maps["thumbnail"])
    decision = assess_slide(
        slide,
        thumb,
        maps.get("features"),
        regions,
        getattr(s1, "card", None),
        getattr(s2, "card", None),
        stage2_mpp,
        window_px,
        force=force,
        cost=cost,
    )
    cost.stage("gate").seconds += time.perf_counter() - t0
    return decision


def apply_gate(result: SlideResult, gate: GateDecision | None) -> SlideResult:
    """A new result recording the gate (``result`` is left as it was built); a withheld slide loses its
    category (unless forced: then it keeps it and says it was forced)."""
    if gate is None:
        return result
    domain = gate.domain_dict()
    warnings = list(result.warnings)
    changes: dict[str, Any] = {
        "qc": [r.to_dict() for r in gate.qc],
        "domain": domain,
        "withheld_reasons": list(gate.reasons),
    }
    n_out = domain["n_regions_out"]
    if n_out and gate.status == "graded" and not gate.forced:
        warnings.append(f"{n_out} stage-1 regions lie outside the models' domain and were not used as evidence")
    if gate.status == "withheld" and gate.forced:
        changes["forced_out_of_domain"] = True
        warnings.insert(
            0,
            "FORCED: graded although the slide would be withheld ("
            + "; ".join(gate.reasons)
            + "); this category has no validity",
        )
    elif gate.status == "withheld":
        changes.update(
            status="withheld",
            category=None,
            category_name=None,
            risk_of_malignancy=None,
            category_reason="withheld: " + "; ".join(gate.reasons),
            # an adequacy verdict is a verdict too ("NOT adequate" reads as nondiagnostic): none on such a slide
            adequacy=dataclasses.replace(
                result.adequacy, adequate=None, reason="not assessed: the slide is withheld (see its QC)"
            ),
        )
    return dataclasses.replace(result, warnings=warnings, **changes)
