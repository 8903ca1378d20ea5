"""What a ``zoomgrade bench`` run is asked for (``BenchOptions``), with the defaults a run falls back on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Held-out bench seeds: training uses < 100,000 and the cascade's evaluation 1,000,000+.
MIN_SEED = 2_000_000
Log = Callable[[str], None]


@dataclass
class BenchOptions:
    out: Path
    slides: int | None = None  # default 12 (6 with --quick); with --input: at most this many
    size_mm: tuple[float, float] | None = None  # default 20 x 20 mm (4 x 4 with --quick)
    seed: int = MIN_SEED
    quick: bool = False
    input_dir: Path | None = None
    weights: Path | None = None  # folder with stage1/stage2 .safetensors + cards; default: shipped weights
    config: Path | None = None
    threads: int | None = None  # model threads (ONNX Runtime and torch); default: the cores this process may use
    floor_repeats: int = 1
    memory_probe: bool = True
    profile: bool = False  # cProfile one more cascade run of the first slide -> OUT/cascade-profile.txt
    separability: bool = False  # also measure the generator's high- vs low-power separability (issue 3)
    command: str = ""

    @property
    def n_slides(self) -> int:
        return self.slides if self.slides is not None else (6 if self.quick else 12)

    @property
    def size(self) -> tuple[float, float]:
        return self.size_mm if self.size_mm is not None else ((4.0, 4.0) if self.quick else (20.0, 20.0))
