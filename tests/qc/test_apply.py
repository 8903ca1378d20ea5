"""The gate is recorded on a new result: the result grading built is never changed afterwards."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "outputs"))  # the writers' real-result factory
from result_factory import draw_slide, make_result

from zoomgrade.qc.apply import apply_gate
from zoomgrade.qc.gate import GateDecision
from zoomgrade.qc.record import QcRecord


def _gate(status: str, forced: bool = False) -> GateDecision:
    verdict = "fail" if status == "withheld" else "pass"
    return GateDecision(
        qc=[QcRecord("colour", 9.0, 4.0, verdict, "colours unlike the training slides'")],
        status=status,
        reasons=["colour: unlike the training slides"] if verdict == "fail" else [],
        forced=forced,
    )


def test_apply_gate_returns_a_new_result_and_leaves_the_input_as_built(tmp_path):
    result = make_result(draw_slide(tmp_path / "smear.png"))
    before = copy.deepcopy(result.to_dict())
    category, warnings = result.category, list(result.warnings)
    assert category is not None
    for gate in (_gate("withheld"), _gate("withheld", forced=True), _gate("graded")):
        out = apply_gate(result, gate)
        assert out is not result and out.qc[0]["name"] == "colour"
        assert result.category == category and result.status == "graded" and result.warnings == warnings
        assert result.qc == [] and result.domain is None and not result.forced_out_of_domain
        assert result.to_dict() == before
    withheld = apply_gate(result, _gate("withheld"))
    assert withheld.status == "withheld" and withheld.category is None and withheld.withheld_reasons
    forced = apply_gate(result, _gate("withheld", forced=True))
    assert forced.category == category and forced.forced_out_of_domain and forced.warnings[0].startswith("FORCED")
    assert apply_gate(result, None) is result


def test_a_withheld_slide_has_no_adequacy_verdict_either(tmp_path):
    """A "NOT adequate" reads as nondiagnostic: a withheld slide says adequacy was not assessed, in result.json
    and summary.csv; a forced one keeps its verdict beside its category."""
    from zoomgrade.outputs import result_to_dict, summary_row, validate_result_dict

    result = make_result(draw_slide(tmp_path / "smear.png"))
    assert result.adequacy.adequate is True
    withheld = apply_gate(result, _gate("withheld"))
    assert withheld.adequacy.adequate is None and withheld.adequacy.reason.startswith("not assessed")
    assert validate_result_dict(result_to_dict(withheld)) == []
    assert summary_row(withheld)["adequate"] == ""
    forced = apply_gate(result, _gate("withheld", forced=True))
    assert forced.adequacy == result.adequacy and summary_row(forced)["adequate"] is True
