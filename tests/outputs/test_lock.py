"""Class 9 of issue 24: two runs on one output folder: the second refuses with one line."""

from __future__ import annotations

import pytest

from zoomgrade.outputs.lock import LOCK_FILE, OutputBusyError, output_lock


def test_second_run_on_one_folder_refuses(tmp_path):
    out = tmp_path / "o[/]ut"
    with output_lock(out):
        with pytest.raises(OutputBusyError, match="another zoomgrade run") as err:
            with output_lock(out):
                pass
        assert "\n" not in str(err.value) and str(out) in str(err.value)
    with output_lock(out):  # released: the next run goes ahead
        assert (out / LOCK_FILE).exists()
