"""Measure CPU inference engines on the two models: eager torch (NCHW vs channels_last) and, when it is
importable, ONNX Runtime (``python -m zoomgrade.models.engine_bench [--threads 2] [--rounds 5]``), and
stage 1 on a whole 20 x 40 mm smear (``--stage1-slide``).

Timings interleave the engines round by round so that a busy machine slows them alike; the median
per-image time of each is reported. ONNX Runtime is not a dependency: this only measures it.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from typing import Any

import numpy as np
import torch

from .stage1 import Stage1Net
from .stage2 import Stage2Net
from .train_common import keeps_torch_state


def _torch_fn(model, x, channels_last: bool):
    m = model.eval()
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    else:
        m = m.to(memory_format=torch.contiguous_format)
        x = x.contiguous()

    def run():
        with torch.inference_mode():
            out = m(x)
        return out[0] if isinstance(out, tuple) else out

    return run


def _ort_fn(model, x, threads: int):
    from .onnx_engine import import_ort

    ort = import_ort()
    if ort is None:
        raise ImportError("onnxruntime is not installed")

    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (x,), buf, dynamo=True, external_data=False)  # type: ignore[arg-type]  # a file object works
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    xn = x.numpy()
    return lambda: sess.run(None, {name: xn})[0]


@keeps_torch_state
def bench(threads: int = 2, rounds: int = 5, with_ort: bool = True) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cases = {
        "stage2 batch 64 x 256px": (Stage2Net(), torch.randn(64, 3, 256, 256), 64),
        "stage1 1 x 1024x1024px": (Stage1Net(), torch.randn(1, 3, 1024, 1024), 1),
    }
    out: dict[str, Any] = {"threads": threads, "rounds": rounds, "torch": torch.__version__, "cases": {}}
    for name, (model, x, n) in cases.items():
        fns = {"torch NCHW": _torch_fn(model, x, False), "torch channels_last": _torch_fn(model, x, True)}
        if with_ort:
            try:
                fns["onnxruntime"] = _ort_fn(model, x, threads)
            except Exception as err:
                out.setdefault("ort_error", f"{type(err).__name__}: {err}")
        ref = fns["torch NCHW"]()
        times: dict[str, list[float]] = {k: [] for k in fns}
        agree = {}
        for k, f in fns.items():
            y = f()  # warm-up, and check every engine agrees with the reference
            agree[k] = float(np.abs(np.asarray(y) - np.asarray(ref)).max())
        for _ in range(rounds):
            for k, f in fns.items():
                t = time.perf_counter()
                f()
                times[k].append((time.perf_counter() - t) / n * 1000)
        out["cases"][name] = {
            k: {
                "ms_per_image_median": round(statistics.median(v), 2),
                "ms_all": [round(t, 2) for t in v],
                "max_abs_diff_vs_nchw": agree[k],
            }
            for k, v in times.items()
        }
    return out


@keeps_torch_state
def stage1_slide(height: int = 2500, width: int = 5000, threads: int = 2, weights: str | None = None) -> dict:
    """Time and peak memory of one stage-1 pass (Stage1Runner.predict) over a ``height x width`` image
    (a 20 x 40 mm smear at 8 um/px is 2,500 x 5,000 px). Run in a fresh process for a clean peak."""
    import resource

    from .folder import load_default_models
    from .runners import Stage1Runner

    torch.set_num_threads(threads)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if weights is None:
        runner = load_default_models(device="cpu")[0]
    else:
        from .weights_file import load_model

        m, c = load_model(weights)
        runner = Stage1Runner(m, c, device="cpu")
    rng = np.random.default_rng(0)
    img = np.full((height, width, 3), 235, np.uint8)
    img[::7, ::5] = rng.integers(0, 255, (len(range(0, height, 7)), len(range(0, width, 5)), 3), dtype=np.uint8)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    maps = runner.predict(img)
    dt = time.perf_counter() - t
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "input": [height, width],
        "threads": threads,
        "seconds": round(dt, 2),
        "map": list(maps.group.shape),
        "windowed": max(height, width) > runner.window,
        "peak_rss_mb": round(rss2, 1),
        "peak_rss_before_predict_mb": round(rss1, 1),
        "rss_at_start_mb": round(rss0, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--stage1-slide", action="store_true", help="time/memory of stage 1 on 2,500 x 5,000 px")
    ap.add_argument("--weights", default=None, help="stage-1 weights for --stage1-slide (default: shipped)")
    a = ap.parse_args()
    if a.stage1_slide:
        print(json.dumps(stage1_slide(threads=a.threads, weights=a.weights), indent=1))
    else:
        print(json.dumps(bench(a.threads, a.rounds, not a.no_ort), indent=1))
