import subprocess
import sys

import torch

from zoomgrade.models.inference import set_threads_where_torch_runs, set_torch_threads, torch_threads_for


class _Runner:
    def __init__(self, engine):
        self.engine = engine


def test_torch_threads_are_set_by_entry_points_and_for_a_run_by_the_library():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    try:
        set_torch_threads(None)  # none given: left as they are
        set_torch_threads(0)
        assert torch.get_num_threads() == before
        set_torch_threads(other)  # an entry point's setting stays
        assert torch.get_num_threads() == other
        with torch_threads_for((_Runner("torch"),), before):  # the library's, for the run only
            assert torch.get_num_threads() == before
        assert torch.get_num_threads() == other
        with torch_threads_for((_Runner("onnxruntime"), None), before):  # no model in torch: untouched
            assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_entry_points_set_torch_threads_only_where_a_model_runs_in_torch():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    try:
        set_threads_where_torch_runs((_Runner("onnxruntime"), None), other)
        assert torch.get_num_threads() == before
        set_threads_where_torch_runs((_Runner("onnxruntime"), _Runner("torch")), other)
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_grading_on_onnx_runtime_leaves_torch_unimported():
    code = (
        "import sys\n"
        "from zoomgrade.models.inference import set_threads_where_torch_runs\n"
        "class R:\n    engine = 'onnxruntime'\n"
        "set_threads_where_torch_runs((R(), R()), 2)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
