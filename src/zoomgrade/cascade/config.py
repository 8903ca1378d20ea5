"""The cascade's configuration: nested typed dataclasses, loaded from TOML.

The documented defaults live in ``zoomgrade/config/default.toml`` (package data); a user's file only
needs the keys it changes. Unknown sections or keys are refused with ``ConfigError`` naming the file
and the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

from ..errors import ConfigError
from ..labels import TBSRTC  # the grades that grade-keyed options name


@dataclass
class Stage1Config:
    mpp: float = 8.0  # low-power resolution the whole slide is read at (um/px)
    group_threshold: float = 0.5  # P(cell group) above which a map pixel belongs to a region
    min_region_area_um2: float = 400.0  # smaller connected components are dropped as noise


@dataclass
class Stage2Config:
    mpp: float = 0.5  # high-power resolution regions are re-read at (um/px)
    window_px: int = 0  # window side at `mpp`; 0 = the stage-2 model card's input size
    batch_size: int = 32  # windows per forward pass
    prefetch_regions: int = 4  # regions read ahead by the reader threads (bounded queue)
    readers: int = 2  # reader threads (stage 2 and the fallback); a high-power budget reads with one
    readahead: bool = True  # hint the OS the file bytes of every region's tiles before reading (cold files)
    max_windows_per_region: int = 256  # very large regions are sampled evenly beyond this
    windows_per_region: int = 2  # stage 2 reads a region's best-covered windows; the fallback the rest (0 = all)
    lattice: bool = True  # region grids on the slide-wide grid (the exhaustive one), not centred on the region
    min_window_overlap: float = 0.1  # windows with less of their area inside the region are not read
    torch_threads: int = 0  # 0 = leave torch's setting alone


@dataclass
class FusionConfig:
    prior_weight: float = 0.5  # w in posterior ~ likelihood * prior**w (0 = stage 2 alone)
    prior_floor: float = 0.02  # stage-1 probabilities are floored so a prior never vetoes a grade
    min_presence: float = 0.15  # windows' mean P(cell) under this: the region is not a cell group


@dataclass
class FallbackConfig:
    enabled: bool = True
    confidence_threshold: float = 0.6  # fused confidence under this sends the region to the fallback
    none_threshold: float = 0.5  # patches with P(none) >= this hold no cells and do not vote
    min_count: int = 2  # severity-aware rule: a grade wins with at least this many patches ...
    min_fraction: float = 0.3  # ... or this fraction of the cell patches ...
    min_confidence: float = 0.6  # ... whose mean confidence is at least this; else the majority
    # The override applies to this grade and the more severe ones; less severe grades by the majority
    # ("" = every grade). TBSRTC: V, the malignant grades (see cascade/fallback.py).
    severity_from: str = "V"


@dataclass
class AdequacyConfig:
    min_groups: int = 6  # TBSRTC: at least 6 groups ...
    min_cells: int = 10  # ... of at least 10 well-preserved follicular cells
    um2_per_cell: float = 120.0  # area per follicular cell, for a region's rough cell count
    # Cells are counted at high power by their nuclei (see cascade/cellcount.py); the area estimate is used
    # only where a region was not read at high power (budget).
    count_nuclei: bool = True
    nucleus_um2: float = 44.0  # one benign follicular nucleus (7.5 um across)
    min_nucleus_um2: float = 10.0  # smaller dark specks are not nuclei
    nuclear_grey_max: float = 120.0  # nuclei are darker than this (mean of R, G, B, 0-255) ...
    nuclear_blue_margin: float = 10.0  # ... and bluer than red by this much (red cells are not)
    nuclei_gap_um: float = 10.0  # nuclei closer than this (edge to edge) belong to one group
    min_nuclei_per_group: int = 2  # a lone nucleus (a lymphocyte) is not a group
    outline_margin_um: float = 8.0  # the low-power outline is grown by this before counting inside it


@dataclass
class SlideRuleConfig:
    # Per slide category (III..VI; II needs only adequacy): regions graded at least that severe count as
    # evidence when their confidence >= min_confidence; the category holds with >= min_count such
    # regions covering >= min_area_um2. Keys are fine grades of the label set.
    min_count: dict[str, int] = field(default_factory=lambda: {"III": 3, "IV": 3, "V": 3, "VI": 3})
    min_area_um2: dict[str, float] = field(
        default_factory=lambda: {"III": 2000.0, "IV": 2000.0, "V": 2000.0, "VI": 2000.0})
    min_confidence: dict[str, float] = field(
        default_factory=lambda: {"III": 0.6, "IV": 0.6, "V": 0.6, "VI": 0.6})
    # ... and with at least min_share of the slide's gradable groups (>= min_cells cells): a grader's
    # small error rate gives a fixed share of false evidence, which on a smear of hundreds of groups
    # outnumbers any absolute count.
    min_share: dict[str, float] = field(default_factory=lambda: {"III": 0.05, "IV": 0.05, "V": 0.05, "VI": 0.05})
    min_cells: int = 10  # only groups of at least this many cells are evidence (as for adequacy)
    # One very confident group is enough on its own (a single convincing malignant group).
    single_confidence: float = 0.95
    single_min_area_um2: float = 3000.0


@dataclass
class BudgetConfig:
    high_power_megapixels: float = 0.0  # 0 = unlimited; pixels read at stage2.mpp (stage 2 + fallback)
    seconds: float = 0.0  # 0 = unlimited; wall time of the high-power passes


@dataclass
class ExhaustiveConfig:
    mpp: float = 0.5  # tiles are read at this resolution (same stage-2 model)
    tile_px: int = 0  # 0 = the model card's input size
    mask_mpp: float = 8.0  # tissue mask resolution
    min_tissue_fraction: float = 0.05  # tiles with less mask coverage are skipped
    mask_min_od: float = 0.02  # material = optical density over the glass colour above this, any channel
    mask_smooth_sigma: float = 1.0  # Gaussian smoothing (mask px) before thresholding
    mask_min_object_px: int = 4  # smaller specks are dropped
    mask_dilate_px: int = 1  # the mask grows by this many px (faint group rims)
    mask_glass_peak_fraction: float = 0.5  # glass: brightest luminance level with this share of the peak
    none_threshold: float = 0.5  # tiles with P(none) under this are cell-group tiles
    batch_size: int = 32
    prefetch_tiles: int = 64
    readers: int = 2  # reader threads
    readahead: bool = True  # hint the OS the file bytes of every tissue tile before reading (cold files)


@dataclass
class GradeConfig:
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    fallback: FallbackConfig = field(default_factory=FallbackConfig)
    adequacy: AdequacyConfig = field(default_factory=AdequacyConfig)
    slide_rule: SlideRuleConfig = field(default_factory=SlideRuleConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    exhaustive: ExhaustiveConfig = field(default_factory=ExhaustiveConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_FILE = "default.toml"


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check a TOML value against a field type (ints are accepted for floats)."""
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    origin = getattr(typ, "__origin__", None)
    if origin is dict:
        _, vtyp = typ.__args__
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return {str(k): _coerce(v, vtyp, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported type")  # pragma: no cover - programming error


def _apply(obj: Any, data: dict[str, Any], where: str) -> None:
    hints = get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a [{key}] table")
            _apply(getattr(obj, key), value, f"{where}.{key}")
        elif getattr(typ, "__origin__", None) is dict:
            # Tables of per-grade values merge over the defaults (a file may set one grade only).
            merged = dict(getattr(obj, key))
            merged.update(_coerce(value, typ, f"{where}.{key}"))
            setattr(obj, key, merged)
        else:
            setattr(obj, key, _coerce(value, typ, f"{where}.{key}"))


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> GradeConfig:
    cfg = GradeConfig()
    _apply(cfg, data, source)
    validate(cfg, source)
    return cfg


def validate(cfg: GradeConfig, source: str) -> None:
    """Values a grading run cannot work with are refused up front, not deep inside a pass."""
    checks = [
        (cfg.stage1.mpp > 0, "stage1.mpp must be > 0"),
        (cfg.stage2.mpp > 0, "stage2.mpp must be > 0"),
        (cfg.exhaustive.mpp > 0 and cfg.exhaustive.mask_mpp > 0, "exhaustive mpp values must be > 0"),
        (cfg.stage2.batch_size >= 1 and cfg.exhaustive.batch_size >= 1, "batch sizes must be >= 1"),
        (cfg.stage2.prefetch_regions >= 1 and cfg.exhaustive.prefetch_tiles >= 1, "prefetch depths must be >= 1"),
        (cfg.stage2.readers >= 1 and cfg.exhaustive.readers >= 1, "reader thread counts must be >= 1"),
        (cfg.fusion.prior_weight >= 0, "fusion.prior_weight must be >= 0"),
        (0 <= cfg.fallback.confidence_threshold <= 1, "fallback.confidence_threshold must be in [0, 1]"),
        (0 < cfg.fallback.min_fraction <= 1, "fallback.min_fraction must be in (0, 1]"),
        (cfg.fallback.severity_from in ("", *TBSRTC.fine),
         f"fallback.severity_from must be a fine grade ({', '.join(TBSRTC.fine)}) or \"\", "
         f"got {cfg.fallback.severity_from!r}"),
        (cfg.adequacy.min_groups >= 0 and cfg.adequacy.min_cells >= 0, "adequacy minimums must be >= 0"),
        (cfg.adequacy.um2_per_cell > 0, "adequacy.um2_per_cell must be > 0"),
        (cfg.budget.high_power_megapixels >= 0 and cfg.budget.seconds >= 0, "budgets must be >= 0"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{source}: {msg}")


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from None
    except OSError as err:
        raise ConfigError(f"{source}: cannot read ({err.strerror or err})") from None


def default_config() -> GradeConfig:
    """The shipped defaults (default.toml), which equal the dataclass defaults (a test checks it)."""
    # config/ is a data folder of the package (no __init__), reached through the package itself.
    ref = resources.files("zoomgrade").joinpath("config", DEFAULT_FILE)
    with resources.as_file(ref) as p:
        return config_from_dict(_read_toml(Path(p), str(p)), str(p))


def load_config(path: str | Path | None) -> GradeConfig:
    """Defaults overlaid with the keys in ``path`` (None: the defaults)."""
    cfg = default_config()
    if path is None:
        return cfg
    p = Path(path)
    _apply(cfg, _read_toml(p, str(p)), str(p))
    validate(cfg, str(p))
    return cfg
