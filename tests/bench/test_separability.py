"""The separability measurement runs end to end on tiny generated slides and is rendered in the report."""

from __future__ import annotations

import pytest
import torch

from zoomgrade.bench import separability
from zoomgrade.bench.report import separability_lines


@pytest.mark.slow
def test_separability_runs_and_reports(tmp_path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = separability.run(tmp_path, per_category=1, size_mm=1.5, per_group=2, epochs=1)
        assert torch.get_num_threads() == 1  # its own two threads were for its run: the caller's are kept
    finally:
        torch.set_num_threads(before)
    d = res["data"]
    # training and test slides come from disjoint seed ranges, and every test group is graded
    assert d["train_slides"] == d["test_slides"] == 5
    for key in separability.THRESHOLDS:
        r = res[key]
        assert 0.0 <= r["balanced_accuracy"] <= 1.0
        assert r["n_groups"] == sum(d["test_groups_per_class"]) > 0
        assert sum(map(sum, r["confusion"])) == r["n_groups"]
    text = "\n".join(separability_lines(res))
    assert "fine II-VI from high power" in text and ">= 0.9" in text
