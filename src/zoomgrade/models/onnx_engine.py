"""ONNX Runtime as the CPU engine for stage 2 (measured 3-4x faster than eager torch on this project's
2-core machine, see docs/models.md); torch stays the reference and the engine on CUDA.

The ONNX file is exported beside the weights when they are saved (``onnx_export``: torch's maintained
dynamo exporter, dynamic batch/height/width) and the card records the SHA-256 of the weights it was
exported from, so a stale export is refused rather than silently used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from ..errors import ModelCardError
from .hashes import sha256

#: onnxruntime writes a telemetry device id under ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ when it
#: is imported, unless this variable is set then. The entry points (CLI, batch workers) set it for their
#: process; ``import_ort`` sets it only around the import, for library callers, and restores it.
TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


@contextlib.contextmanager
def _telemetry_off() -> Iterator[None]:
    before = os.environ.get(TELEMETRY_ENV)
    os.environ[TELEMETRY_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TELEMETRY_ENV, None)
        else:
            os.environ[TELEMETRY_ENV] = before


def import_ort() -> Any | None:
    """onnxruntime, or None when it is not installed; imported with telemetry off (see TELEMETRY_ENV)."""
    with _telemetry_off():
        try:
            import onnxruntime
        except ImportError:
            return None
    return onnxruntime


def engine_record(onnx_path: Path, weights_path: str | Path) -> dict[str, str]:
    """The card's ``engine`` entry for an export: its file name and the SHA-256 of the weights it came from
    (``OrtModel`` refuses an export whose weights changed)."""
    return {"onnx": Path(onnx_path).name, "weights_sha256": sha256(weights_path)}


def default_threads() -> int:
    """Intra-op threads when none are given: torch's setting where torch is loaded, as the entry points set
    the process's threads there (``--threads``, a batch worker's share). Else what torch would choose,
    without importing it (1.3 s; grading on ONNX Runtime does not need torch): ``OMP_NUM_THREADS`` when
    set, else the physical cores this process may use."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return int(torch.get_num_threads())
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(usable, psutil.cpu_count(logical=False) or usable))


class OrtModel:
    """An ONNX Runtime session that behaves like the torch model for the runner: NCHW float32 in, logits out."""

    def __init__(
        self, onnx_path: str | Path, weights_path: str | Path, expected_sha: str | None, threads: int | None = None
    ):
        ort = import_ort()
        if ort is None:
            raise ImportError("onnxruntime is not installed")
        # None: the ONNX file is the model itself (no torch weights it was exported from)
        if expected_sha is not None and sha256(weights_path) != expected_sha:
            raise ModelCardError(
                f"{onnx_path}: exported from other weights than {Path(weights_path).name}; "
                "delete it or re-save the model to re-export"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or default_threads())
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # No busy-waiting between ops: on 2 cores ORT's spinning workers starve the cascade's reader
        # thread. Measured on a 4x4 mm cascade grade, 3 interleaved runs each: 4.79 s vs 5.11 s mean
        # wall (stage2_read 2.85 vs 3.15 s), more under CPU contention.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No memory pattern: ORT plans one block for a whole run from the first run's allocations and
        # builds it on the second. For stage 1 on a 20 x 20 mm slide that second run took 2.1 s instead of
        # 0.5-0.7 s and grew the process by about 850 MB, which a batch then kept (2.2 GB, over the 2 GB
        # target); without it each run took 0.5-0.7 s at 1.3 GB, and stage 2 was as fast.
        so.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelCardError(
                f"{onnx_path}: unreadable ONNX export ({first}); delete it or re-save the model to re-export"
            ) from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._dtypes = [np.uint8 if i.type == "tensor(uint8)" else np.float32 for i in self.session.get_inputs()]
        # newer exports take the pixels (PixelInput); older ones the normalised NCHW image: both still load
        self.takes_pixels = self._dtypes[0] == np.uint8

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The first output for one input (stage 2: logits)."""
        return self.run(x)[0]

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """All outputs for inputs given in the exported order (uint8 pixels or float32, as exported)."""
        feeds = {n: np.ascontiguousarray(a, t) for n, a, t in zip(self.inputs, arrays, self._dtypes)}
        return self.session.run(None, feeds)
