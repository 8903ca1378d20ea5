"""The engine timing tool sets torch's threads for its own run only."""

from __future__ import annotations

import torch

from zoomgrade.models.engine_bench import stage1_slide


def test_a_stage1_timing_keeps_the_callers_threads() -> None:
    before = torch.get_num_threads()
    mine = 1 if before != 1 else 2
    torch.set_num_threads(mine)
    try:
        out = stage1_slide(height=64, width=96, threads=3)
        assert out["threads"] == 3 and out["input"] == [64, 96] and out["map"]
        assert torch.get_num_threads() == mine
    finally:
        torch.set_num_threads(before)
