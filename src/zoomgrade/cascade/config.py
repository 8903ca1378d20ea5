"""The cascade's configuration: nested typed dataclasses, loaded from TOML and validated by pydantic.

The documented defaults live in ``zoomgrade/config/default.toml`` (package data); a user's file only
needs the keys it changes. Every key has a type and a range (``Annotated`` below); unknown sections,
keys and grade names, wrong types, non-finite numbers and out-of-range values are refused with one
``ConfigError`` naming the file and every bad key path, so a typo never changes a diagnosis silently. Plain
dataclasses (pickled to batch workers, ``replace``d by the passes); ``validate`` is the one door every config
goes through; each key's type and range is named once in ``config_types.py``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError

from ..errors import ConfigError
from ..userfile import problem, read_toml
from . import config_types as ct
from .config_types import FROM_LABEL_SET as FROM_LABEL_SET  # re-exported: cascade.config.FROM_LABEL_SET

#: Unknown keys are refused (pydantic reads this from each plain dataclass; not a dataclass field).
_FORBID = ConfigDict(extra="forbid")


@dataclass
class Stage1Config:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    mpp: ct.MppOrCard = 0.0  # low-power resolution the whole slide is read at (um/px); 0 = the card's input_mpp
    group_threshold: ct.Fraction = 0.5  # P(cell group) above which a map pixel belongs to a region
    min_region_area_um2: ct.Area = 400.0  # smaller connected components are dropped as noise
    readers: ct.Threads = 2  # threads decoding the whole-slide read, band by band (slide.bands)


@dataclass
class Stage2Config:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    mpp: ct.MppOrCard = 0.0  # high-power resolution regions are re-read at (um/px); 0 = the stage-2 card's
    window_px: ct.SizePx = 0  # window side at `mpp`; 0 = the stage-2 model card's input size
    batch_size: ct.BatchSize = 32  # windows per forward pass
    prefetch_regions: ct.Depth = 4  # regions read ahead by the reader threads (bounded queue)
    readers: ct.Threads = 2  # reader threads (stage 2 and the fallback); a high-power budget reads with one
    readahead: ct.Bool = True  # hint the OS the file bytes of every region's tiles before reading (cold files)
    max_windows_per_region: ct.AtLeastOne = 256  # very large regions are sampled evenly beyond this
    windows_per_region: ct.Count = 2  # stage 2 reads a region's best-covered windows; the fallback the rest (0 = all)
    windows_less_severe: ct.Count = 1  # as many for regions stage 1 calls less than its most severe (0: as above)
    lattice: ct.Bool = True  # region grids on the slide-wide grid (the exhaustive one), not centred on the region
    min_window_overlap: ct.Fraction = 0.1  # windows with less of their area inside the region are not read
    torch_threads: ct.ZeroOrThreads = 0  # 0 = leave torch's setting alone


@dataclass
class FusionConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    prior_weight: ct.UpTo10 = 0.5  # w in posterior ~ likelihood * prior**w (0: stage 2 alone; 10: stage 1 rules)
    prior_floor: ct.OpenFraction = 0.02  # stage-1 probabilities are floored so a prior never vetoes
    min_presence: ct.Fraction = 0.15  # windows' mean P(cell) under this: the region is not a cell group


@dataclass
class FallbackConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    enabled: ct.Bool = True
    confidence_threshold: ct.Fraction = 0.6  # fused confidence under this sends the region to the fallback
    none_threshold: ct.Fraction = 0.5  # patches with P(none) >= this hold no cells and do not vote
    min_count: ct.AtLeastOne = 2  # severity-aware rule: a grade wins with at least this many patches ...
    min_fraction: ct.OpenFraction = 0.3  # ... or this fraction of the cell patches ...
    min_confidence: ct.Fraction = 0.6  # ... whose mean confidence is at least this; else the majority
    # The override applies to this grade and the more severe ones; less severe grades by the majority
    # ("" = every grade; "auto" = the label set's severity_from, see cascade/fallback.py).
    severity_from: ct.FineOrEmpty = FROM_LABEL_SET


@dataclass
class AdequacyConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    min_groups: ct.Count = 6  # TBSRTC: at least 6 groups ...
    min_cells: ct.Count = 10  # ... of at least 10 well-preserved follicular cells
    # A region counts as such a group when its count reaches min_cells + count_margin: the count errs by a
    # cell or two either way, and a large smear of tiny clusters holds dozens of 8-9 cell groups.
    count_margin: ct.Count = 1
    um2_per_cell: ct.PositiveArea = 120.0  # area per follicular cell, for a region's rough cell count
    count_nuclei: ct.Bool = True  # count by nuclei at high power (cascade/cellcount.py), else by area
    nucleus_um2: ct.PositiveSmallArea = 44.0  # one benign follicular nucleus (7.5 um across)
    min_nucleus_um2: ct.SmallArea = 10.0  # smaller dark specks are not nuclei
    nuclear_grey_max: ct.Grey = 120.0  # nuclei are darker than this (mean of R, G, B, 0-255) ...
    nuclear_blue_margin: ct.GreyMargin = 10.0  # ... and bluer than red by this much (red cells are not)
    core_grey_max: ct.Grey = 80.0  # merged nuclei count their cores darker than this (0 = by area) ...
    core_um2: ct.PositiveSmallArea = 35.0  # ... one per this much core
    nuclei_gap_um: ct.Microns = 10.0  # nuclei closer than this (edge to edge) belong to one group
    min_nuclei_per_group: ct.AtLeastOne = 2  # a lone nucleus (a lymphocyte) is not a group
    largest_group: ct.Bool = True  # a region counts its largest group (two groups of 8 are no group of 10)
    outline_margin_um: ct.Microns = 8.0  # the low-power outline is grown by this before counting inside it

    @property
    def adequate_count(self) -> int:
        """The count at which a region is taken to hold at least ``min_cells`` cells."""
        return self.min_cells + self.count_margin


@dataclass
class SlideRuleConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    # Per slide category above the least severe fine grade (which needs only adequacy): regions graded at least
    # that severe count as evidence when their confidence >= min_confidence; the category holds with >= min_count
    # such regions covering >= min_area_um2. Keys: graded categories of the label set (case-sensitive); one not
    # given takes the label set file's value (its [slide_rule], cascade/labelled.py).
    min_count: dict[ct.RuleGrade, ct.AtLeastOne] = field(default_factory=dict)
    min_area_um2: dict[ct.RuleGrade, ct.Area] = field(default_factory=dict)
    min_confidence: dict[ct.RuleGrade, ct.Fraction] = field(default_factory=dict)
    # ... and with at least min_share of the slide's gradable groups (>= min_cells cells): a grader's
    # small error rate gives a fixed share of false evidence, which on a smear of hundreds of groups
    # outnumbers any absolute count.
    min_share: dict[ct.RuleGrade, ct.Fraction] = field(default_factory=dict)
    min_cells: ct.Count = 10  # only groups of at least this many cells are evidence (as for adequacy)
    # A grade that shares its coarse grade with less severe ones (IV, VI) needs its evidence to be at least this
    # share of the evidence for the coarse grade's least severe grade (III, V): stage 2 mistakes one grade of a
    # coarse grade for its neighbour far more often than for anything else (docs/cascade.md).
    min_pool_share: dict[ct.RuleGrade, ct.Fraction] = field(default_factory=dict)
    # One very confident group is enough on its own (a single convincing malignant group).
    single_confidence: ct.Fraction = 0.95
    single_min_area_um2: ct.Area = 3000.0


@dataclass
class EarlyStopConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    # Stop the high-power pass once no unread region can change the slide's category or adequacy
    # (cascade/early_stop.py); false reads every region.
    enabled: ct.Bool = True
    # How often stage 1 under-grades: per coarse grade, an upper bound on the share of its regions that high
    # power grades as evidence for a grade above that coarse grade; and per coarse grade and more severe one,
    # Beta(a, b) of that share across slides. "models": as measured for the models (their stage-1 card).
    undergrade: ct.MeasuredRates = ct.FROM_MODELS
    undergrade_prior: ct.MeasuredUndergradePriors = ct.FROM_MODELS
    # The unread regions' count of such surprises is bounded at this quantile.
    confidence: Annotated[float, Strict(), Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 0.999
    # Recall bound (cascade/recall_bound.py): reading stops only once the unread regions could hold at most
    # (1 - recall) of the slide's most severe coarse grade's groups, or at most recall_slack of them; 0 = off.
    recall: ct.Fraction = 0.99
    recall_confidence: Annotated[float, Strict(), Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 0.9
    recall_slack: Annotated[float, Strict(), Field(ge=0.0, le=1e6, allow_inf_nan=False)] = 1.0
    # Per coarse grade, Beta(a, b) of its severe share across slides ({}: the slide's alone; "models": as above).
    recall_prior: ct.MeasuredRecallPriors = ct.FROM_MODELS
    recall_windows: ct.Count = 1  # windows a region once only the recall bound keeps reading (0: as stage 2)


@dataclass
class BudgetConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    high_power_megapixels: ct.Megapixels = 0.0  # 0 = unlimited; pixels read at stage2.mpp (stage 2 + fallback)
    seconds: ct.Seconds = 0.0  # 0 = unlimited; wall time of the high-power passes


@dataclass
class ExhaustiveConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    mpp: ct.MppOrCard = 0.0  # tiles are read at this resolution (um/px); 0 = the stage-2 card's input_mpp
    tile_px: ct.SizePx = 0  # 0 = the model card's input size
    mask_mpp: ct.Mpp = 8.0  # tissue mask resolution
    min_tissue_fraction: ct.Fraction = 0.05  # tiles with less mask coverage are skipped
    mask_min_od: ct.UpTo10 = 0.02  # material = optical density over the glass colour above this, any channel
    mask_smooth_sigma: ct.UpTo100 = 1.0  # Gaussian smoothing (mask px) before thresholding
    mask_min_object_px: ct.Count = 4  # smaller specks are dropped
    mask_dilate_px: ct.PixelsUpTo1000 = 1  # the mask grows by this many px (faint group rims)
    mask_glass_peak_fraction: ct.Fraction = 0.5  # glass: brightest luminance level with this share of the peak
    none_threshold: ct.Fraction = 0.5  # tiles with P(none) under this are cell-group tiles
    batch_size: ct.BatchSize = 32
    prefetch_tiles: ct.TileQueue = 64
    readers: ct.Threads = 2  # reader threads
    readahead: ct.Bool = True  # hint the OS the file bytes of every tissue tile before reading (cold files)


@dataclass
class LimitsConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    # The memory ceiling (MiB): no image a header describes (a tile, a strip, a flat image, the low-power
    # whole-slide image, the tissue mask) is decoded when it would not fit in its share of this; the
    # default holds a 20 x 20 mm slide graded by the cascade (docs/input-safety.md).
    memory_mb: ct.MemoryMb = 2048
    # More than this fraction of the slide's reads failing to decode: the slide is refused (damaged file);
    # any failed read is counted in result.json and warned about in every output.
    max_failed_read_fraction: ct.Fraction = 0.01


@dataclass
class ModelsConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    # A model folder (stage1.*/stage2.* with their cards, docs/models.md); "" = the shipped weights. A
    # relative path in a config file is taken relative to that file. `--models` overrides it.
    folder: Annotated[str, Strict()] = ""
    # The label set the models must have been trained for (a shipped name such as "tbsrtc-3", or a
    # .toml file); "" = whatever the models' cards carry. A mismatch is refused.
    label_set: Annotated[str, Strict()] = ""


@dataclass
class GradeConfig:
    __pydantic_config__: ClassVar[ConfigDict] = _FORBID
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    fallback: FallbackConfig = field(default_factory=FallbackConfig)
    adequacy: AdequacyConfig = field(default_factory=AdequacyConfig)
    slide_rule: SlideRuleConfig = field(default_factory=SlideRuleConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    exhaustive: ExhaustiveConfig = field(default_factory=ExhaustiveConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ADAPTER = TypeAdapter(GradeConfig)


DEFAULT_FILE = "default.toml"
#: Tables of per-grade values merge over the defaults (a file may set one grade only).
_MERGED_TABLES = {
    ("slide_rule", k) for k in ("min_count", "min_area_um2", "min_confidence", "min_share", "min_pool_share")
}


def validate(
    cfg: GradeConfig | dict[str, Any], source: str, fine: tuple[str, ...] | None = None, label_set: str = "", **ctx: Any
) -> GradeConfig:
    """Type- and range-check a whole configuration; returns it as a ``GradeConfig`` or raises one
    ``ConfigError`` ("<source>: <key path>: <why>; <key path>: <why>"). ``fine``: the label set's fine
    grades that grade-keyed options may name (None: not known yet, checked when grading, see
    cascade/labelled.py); ``label_set`` its name, for the message; ``coarse=`` its coarse grades."""
    data = asdict(cfg) if isinstance(cfg, GradeConfig) else cfg
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
    try:
        context = {"fine": tuple(fine) if fine else None, "label_set": label_set, **ctx}
        return _ADAPTER.validate_python(data, context=context)
    except ValidationError as err:
        problems = [problem(e, show_input=True) for e in err.errors()]
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over``'s sections and keys over ``base`` (per-grade tables merged key by key)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, table in over.items():
        if section not in out or not isinstance(table, dict) or not isinstance(out[section], dict):
            out[section] = table  # unknown section or not a table: validate() names it
            continue
        for key, value in table.items():
            if (section, key) in _MERGED_TABLES and isinstance(value, dict) and isinstance(out[section].get(key), dict):
                out[section][key] = {**out[section][key], **value}
            else:
                out[section][key] = value
    return out


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> GradeConfig:
    """The defaults overlaid with ``data`` (only the keys it sets), validated."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
    return validate(_merge(asdict(GradeConfig()), data), source)


def default_config() -> GradeConfig:
    """The shipped defaults (default.toml), which equal the dataclass defaults (a test checks it)."""
    # config/ is a data folder of the package (no __init__), reached through the package itself.
    ref = resources.files("zoomgrade").joinpath("config", DEFAULT_FILE)
    with resources.as_file(ref) as p:
        return config_from_dict(read_toml(Path(p), ConfigError, "config file"), str(p))


def load_config(path: str | Path | None) -> GradeConfig:
    """Defaults overlaid with the keys in ``path`` (None: the defaults), validated as a whole."""
    cfg = default_config()
    if path is None:
        return cfg
    p = Path(path)
    out = validate(_merge(asdict(cfg), read_toml(p, ConfigError, "config file")), str(p))
    # paths in the file are relative to the file
    if out.models.folder and not Path(out.models.folder).is_absolute():
        out.models.folder = str((p.parent / out.models.folder).resolve())
    if out.models.label_set.endswith(".toml") and not Path(out.models.label_set).is_absolute():
        out.models.label_set = str((p.parent / out.models.label_set).resolve())
    return out


def resolve_config(config: GradeConfig | str | Path | dict[str, Any] | None) -> GradeConfig:
    """The one resolver for every entry point (grade, batch, the API): a path or None (defaults + file),
    a dict (defaults + keys) or a GradeConfig built in code, each validated the same way."""
    if isinstance(config, GradeConfig):
        return validate(config, "config")  # built in code: checked as a file or a dict is
    if isinstance(config, dict):
        return config_from_dict(config)
    if config is None or isinstance(config, (str, Path)):
        return load_config(config)
    raise ConfigError(f"config: expected a TOML path, a dict or a GradeConfig, got {type(config).__name__}")
