"""Every configuration value's type and range, named once (``Annotated`` aliases for pydantic): what
``config.py``'s dataclasses declare each key as."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Discriminator, Field, Strict, Tag, ValidationInfo

#: ``fallback.severity_from``'s default: take the label set's own (its file's ``severity_from``).
FROM_LABEL_SET = "auto"
#: The early stop's measured tables' default: the stage-1 model card's ``early_stop`` record (cascade/measured.py).
FROM_MODELS: Final = "models"


def _size_or_zero(v: int) -> int:
    if v != 0 and not MIN_PX <= v <= MAX_PX:
        raise ValueError(f"must be 0 (the model card's size) or {MIN_PX}..{MAX_PX} px, got {v}")
    return v


def _mpp_or_zero(v: float) -> float:
    if v != 0 and not MIN_MPP <= v <= MAX_MPP:
        raise ValueError(f"must be 0 (the model card's input_mpp) or {MIN_MPP:g}..{MAX_MPP:g} um/px, got {v:g}")
    return v


def _label_set(info: ValidationInfo) -> tuple[tuple[str, ...] | None, str]:
    """The label set's fine grades and name when validating against one (cascade/labelled.py); a config
    read before the models are known has none yet, and its grade names are checked when grading."""
    ctx = info.context or {}
    fine = ctx.get("fine")
    name = ctx.get("label_set")
    return (tuple(fine) if fine else None), (f" {name}" if name else "")


def _fine(v: str, info: ValidationInfo) -> str:
    fine, name = _label_set(info)
    if fine is not None and v not in ("", FROM_LABEL_SET) and v not in fine:
        raise ValueError(
            f'{v!r} is not a grade of the label set{name} ({", ".join(fine)}) nor "" or "{FROM_LABEL_SET}"'
        )
    return v


def _coarse(v: str, info: ValidationInfo) -> str:
    """Checked against the label set's coarse grades when validating against one (as fine grades are)."""
    coarse = (info.context or {}).get("coarse")
    _, name = _label_set(info)
    if coarse is not None and v not in coarse:
        raise ValueError(f"{v!r} is not a coarse grade of the label set{name} ({', '.join(coarse)}; case matters)")
    if not v:
        raise ValueError("a coarse grade name cannot be empty")
    return v


def _rule_grade(v: str, info: ValidationInfo) -> str:
    """Slide-rule tables are keyed by the categories the rule decides: every fine grade but the least severe."""
    fine, name = _label_set(info)
    if fine is not None and v not in fine[1:]:
        raise ValueError(f"{v!r} is not a graded category of the label set{name} ({', '.join(fine[1:])}; case matters)")
    if not v:
        raise ValueError("a grade name cannot be empty")
    return v


#: Resolutions (um/px): no scanner resolves finer than 0.05 um/px, and a whole slide at coarser than 100 um/px
#: is a few pixels; outside this range a value is a typo, and a far-too-fine one would ask for terabytes.
MIN_MPP, MAX_MPP = 0.05, 100.0
Mpp = Annotated[float, Strict(), Field(ge=MIN_MPP, le=MAX_MPP, allow_inf_nan=False)]
#: A model's resolution, 0 meaning the one its card was measured at (``input_mpp``).
MppOrCard = Annotated[float, Strict(), Field(allow_inf_nan=False), AfterValidator(_mpp_or_zero)]
Fraction = Annotated[float, Strict(), Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
#: Window and tile sides: a network needs a few strides of pixels; more than 4096 px per side is a memory bomb.
MIN_PX, MAX_PX = 16, 4096
SizePx = Annotated[int, Strict(), AfterValidator(_size_or_zero)]
Area = Annotated[float, Strict(), Field(ge=0.0, le=1e9, allow_inf_nan=False)]  # um^2: a 20 x 20 mm slide is 4e8 um^2
RuleGrade = Annotated[str, Strict(), AfterValidator(_rule_grade)]
FineOrEmpty = Annotated[str, Strict(), AfterValidator(_fine)]
CoarseGrade = Annotated[str, Strict(), AfterValidator(_coarse)]
Threads = Annotated[int, Strict(), Field(ge=1, le=256)]
Count = Annotated[int, Strict(), Field(ge=0, le=1_000_000)]
GreyMargin = Annotated[float, Strict(), Field(ge=-255.0, le=255.0, allow_inf_nan=False)]
UpTo10 = Annotated[float, Strict(), Field(ge=0.0, le=10.0, allow_inf_nan=False)]
UpTo100 = Annotated[float, Strict(), Field(ge=0.0, le=100.0, allow_inf_nan=False)]
Microns = Annotated[float, Strict(), Field(ge=0.0, le=1000.0, allow_inf_nan=False)]
SmallArea = Annotated[float, Strict(), Field(ge=0.0, le=1e4, allow_inf_nan=False)]
Seconds = Annotated[float, Strict(), Field(ge=0.0, le=1e7, allow_inf_nan=False)]
Megapixels = Annotated[float, Strict(), Field(ge=0.0, le=1e9, allow_inf_nan=False)]
Grey = Annotated[float, Strict(), Field(ge=0.0, le=255.0, allow_inf_nan=False)]
OpenFraction = Annotated[float, Strict(), Field(gt=0.0, le=1.0, allow_inf_nan=False)]
PositiveSmallArea = Annotated[float, Strict(), Field(gt=0.0, le=1e4, allow_inf_nan=False)]
PositiveArea = Annotated[float, Strict(), Field(gt=0.0, le=1e6, allow_inf_nan=False)]
PixelsUpTo1000 = Annotated[int, Strict(), Field(ge=0, le=1000)]
ZeroOrThreads = Annotated[int, Strict(), Field(ge=0, le=1024)]
Depth = Annotated[int, Strict(), Field(ge=1, le=1024)]
AtLeastOne = Annotated[int, Strict(), Field(ge=1, le=1_000_000)]
BatchSize = Annotated[int, Strict(), Field(ge=1, le=4096)]
TileQueue = Annotated[int, Strict(), Field(ge=1, le=65536)]
BetaParameter = Annotated[float, Strict(), Field(gt=0.0, le=1e6, allow_inf_nan=False)]
BetaPrior = tuple[BetaParameter, BetaParameter]  # Beta(a, b) on a share, written [a, b]


def _more_severe(
    v: dict[str, dict[str, tuple[float, float]]], info: ValidationInfo
) -> dict[str, dict[str, tuple[float, float]]]:
    """Under-grade priors go from a coarse grade to a more severe one (stage 1 can only under-grade);
    checked when the label set is known."""
    coarse = (info.context or {}).get("coarse")
    if coarse is None:
        return v
    order, (_, name) = list(coarse), _label_set(info)
    for src, table in v.items():
        for dst in table:
            if order.index(dst) <= order.index(src):
                raise ValueError(
                    f"{src} -> {dst}: the second must be a coarse grade of the label set{name} more severe than the first"
                )
    return v


#: early_stop.undergrade_prior: source coarse grade -> more severe coarse grade -> Beta(a, b)
UndergradePriors = Annotated[dict[CoarseGrade, dict[CoarseGrade, BetaPrior]], AfterValidator(_more_severe)]


def _models_or_table(v: object) -> str:
    # A tagged union, so a bad table's errors are the table's alone (not also "should be 'models'"); the
    # bracketed tags are markers that ``userfile.key_path`` leaves out of the key path, as pydantic's "[key]".
    return "[models]" if isinstance(v, str) else "[table]"


_Models = Annotated[Literal["models"], Tag("[models]")]
_BY_TABLE = Discriminator(_models_or_table)
#: The early stop's measured tables: "models" (the models' card's, resolved when grading by
#: cascade/measured.py) or a table that replaces it.
MeasuredRates = Annotated[_Models | Annotated[dict[CoarseGrade, Fraction], Tag("[table]")], _BY_TABLE]
MeasuredUndergradePriors = Annotated[_Models | Annotated[UndergradePriors, Tag("[table]")], _BY_TABLE]
MeasuredRecallPriors = Annotated[_Models | Annotated[dict[CoarseGrade, BetaPrior], Tag("[table]")], _BY_TABLE]
MemoryMb = Annotated[int, Strict(), Field(ge=256, le=1_048_576)]
