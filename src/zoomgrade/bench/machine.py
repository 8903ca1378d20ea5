"""The benchmark's machine and process: what the machine is, the models it loads, and the peak memory of
one mode alone: a slide graded in a fresh interpreter (``python -m zoomgrade.bench.machine --probe MODE
SLIDE``) so that the peak belongs to that mode only."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..labels import TBSRTC


def machine_info(threads: int | None = None, models: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The machine, and the engine ``models`` run on with ``threads`` model threads: torch is named by its
    installed version and imported only where a model runs in it."""
    from ..models.inference import runs_in_torch

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gb": None if mem_gb is None else round(mem_gb, 1),
        "torch": _installed("torch"),
        "onnxruntime": _installed("onnxruntime"),
        "engines": sorted({str(getattr(m, "engine", "?")) for m in models if m is not None}),
        "model_threads": threads,
        "device": _device() if runs_in_torch(*models) else "cpu",
    }


def _installed(package: str) -> str | None:
    """``package``'s installed version, read from its metadata (no import), or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _device() -> str:
    import torch

    return "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def load_models(weights: Path | None, threads: int | None = None) -> tuple[Any, Any]:
    """A model folder's runners (None: the shipped weights), ONNX Runtime on ``threads`` intra-op threads;
    the bench scores them against the synthetic slides' truth, which is written in the generator's label
    set, so the models must grade in it."""
    from ..errors import ZoomgradeError
    from ..models.folder import agreed_label_set
    from ..models.folder import load_models as load_folder

    s1, s2 = load_folder(weights, threads=threads)
    labels = agreed_label_set(s1, s2)
    if not labels.same_as(TBSRTC):
        raise ZoomgradeError(
            f"{weights}: the bench's synthetic slides are annotated in {TBSRTC.describe()}, "
            f"these models grade in {labels.describe()}; compare cascade and exhaustive on "
            "slides of that label set with `zoomgrade grade --mode both`"
        )
    return s1, s2


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, which exec replaces;
    ru_maxrss does not do for a child: Linux carries the parent's peak across fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe_memory(path: Path, mode: str, weights: Path | None, config: Path | None, threads: int) -> dict[str, Any]:
    """Grade ``path`` in ``mode`` alone in a fresh interpreter and return its record (peak memory...)."""
    cmd = [sys.executable, "-m", "zoomgrade.bench.machine", "--probe", mode, str(path), "--threads", str(threads)]
    if weights:
        cmd += ["--weights", str(weights)]
    if config:
        cmd += ["--config", str(config)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return {"mode": mode, "error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    import argparse

    from ..models.inference import torch_threads_for
    from ..models.onnx_engine import default_threads

    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", choices=["cascade", "exhaustive"], required=True)
    ap.add_argument("path")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--config", default=None)
    a = ap.parse_args(argv)
    from ..cascade import grade, load_config

    # as `zoomgrade grade` does: threads to ONNX Runtime at load, torch's set (and torch imported) only
    # where a model runs in torch, so the peak is what a user's grading process reaches
    t0 = time.perf_counter()
    models = load_models(Path(a.weights) if a.weights else None, a.threads or None)
    with torch_threads_for(models, a.threads or None):
        t1 = time.perf_counter()
        res = grade(a.path, load_config(a.config), mode=a.probe, models=models)
        t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "mode": a.probe,
                "slide": Path(a.path).name,
                "category": res.category,
                "load_models_s": t1 - t0,
                "grade_s": t2 - t1,
                "threads": a.threads or default_threads(),
                "torch_loaded": "torch" in sys.modules,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
