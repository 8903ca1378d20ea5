"""Label-set files: TOML in, a validated ``LabelSet`` out, or one line naming the file, the key and the cause.

The format (docs/label-sets.md) is read into pydantic models that forbid unknown keys and check types,
ranges and colours; the rules between keys (every fine grade in exactly one coarse grade, coarse grades
in the fine order, a category per grade) are checked after. The same checks read the label set a model
card carries (``label_set_from_dict``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import LabelSetError
from ..userfile import problem, read_toml
from .labelset import LabelSet

HEX = r"^#[0-9a-fA-F]{6}$"
RULE_KEYS = ("min_count", "min_area_um2", "min_confidence", "min_share", "min_pool_share")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Category(_Strict):
    name: str = Field(min_length=1)
    risk: float = Field(ge=0.0, le=1.0)
    colour: str = Field(pattern=HEX)
    #: the published range, where the source gives one (risk must lie inside it)
    risk_range: tuple[float, float] | None = None
    risk_note: str = ""

    @model_validator(mode="after")
    def _risk_in_range(self) -> Category:
        if self.risk_range is not None:
            lo, hi = self.risk_range
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"risk_range {list(self.risk_range)} must be 0 <= low <= high <= 1")
            if not lo <= self.risk <= hi:
                raise ValueError(f"risk {self.risk:g} is outside its risk_range {list(self.risk_range)}")
        return self


class Coarse(_Strict):
    name: str = Field(min_length=1)
    fine: list[str] = Field(min_length=1)
    colour: str = Field(pattern=HEX)


class SlideRule(_Strict):
    min_count: dict[str, int] = Field(default_factory=dict)
    min_area_um2: dict[str, float] = Field(default_factory=dict)
    min_confidence: dict[str, float] = Field(default_factory=dict)
    min_share: dict[str, float] = Field(default_factory=dict)
    min_pool_share: dict[str, float] = Field(default_factory=dict)


class LabelSetFile(_Strict):
    name: str = Field(min_length=1)
    abbreviation: str = ""
    title: str = ""
    source: str = ""
    nondiagnostic: str = Field(min_length=1)
    fine: list[str] = Field(min_length=2)
    coarse: list[Coarse] = Field(min_length=1)
    categories: dict[str, Category]
    severity_from: str = ""
    slide_rule: SlideRule = Field(default_factory=SlideRule)


def _problems(f: LabelSetFile) -> list[tuple[str, str]]:
    """(key, cause) for every rule between keys that ``f`` breaks, first found first."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for g in f.fine:
        if g in seen:
            out.append(("fine", f"{g!r} is listed twice"))
        seen.add(g)
    if f.nondiagnostic in seen:
        out.append(("nondiagnostic", f"{f.nondiagnostic!r} is also a fine grade"))
    owner: dict[str, str] = {}
    names: set[str] = set()
    for i, c in enumerate(f.coarse):
        key = f"coarse[{i}]"
        if c.name in names:
            out.append((f"{key}.name", f"coarse grade {c.name!r} is listed twice"))
        if c.name in seen or c.name == f.nondiagnostic:
            out.append((f"{key}.name", f"{c.name!r} is also a fine grade or category (names must differ)"))
        names.add(c.name)
        for g in c.fine:
            if g not in seen:
                out.append((f"{key}.fine", f"{g!r} is not one of the fine grades ({', '.join(f.fine)})"))
            elif g in owner:
                out.append((f"{key}.fine", f"{g!r} is already in coarse grade {owner[g]!r}"))
            else:
                owner[g] = c.name
    for g in f.fine:
        if g not in owner:
            out.append(("coarse", f"fine grade {g!r} is in no coarse grade"))
    order = [g for c in f.coarse for g in c.fine]
    if not out and order != list(f.fine):
        out.append(
            (
                "coarse",
                (
                    f"the coarse grades hold the fine grades in the order {', '.join(order)}, "
                    f"which disagrees with fine = [{', '.join(f.fine)}] (both least to most severe)"
                ),
            )
        )
    for g in [f.nondiagnostic, *f.fine]:
        if g not in f.categories:
            out.append(("categories", f"no entry for category {g!r}"))
    for k in f.categories:
        if k != f.nondiagnostic and k not in seen:
            out.append((f"categories.{k}", "not a fine grade nor the nondiagnostic category"))
    above = set(f.fine[1:])
    for rk in RULE_KEYS:
        for k, v in getattr(f.slide_rule, rk).items():
            if k not in above:
                out.append(
                    (f"slide_rule.{rk}.{k}", f"not a fine grade above the least severe ({', '.join(f.fine[1:])})")
                )
            elif v < 0 or (rk in ("min_confidence", "min_share", "min_pool_share") and v > 1):
                out.append((f"slide_rule.{rk}.{k}", f"{v!r} is out of range"))
    if f.severity_from not in ("", *f.fine):
        out.append(("severity_from", f'{f.severity_from!r} is not a fine grade ({", ".join(f.fine)}) or ""'))
    return out


def label_set_from_dict(data: dict[str, Any], where: str) -> LabelSet:
    """A validated ``LabelSet`` from the file form (a parsed TOML file, or a model card's copy)."""
    try:
        f = LabelSetFile.model_validate(data)
    except ValidationError as err:
        raise LabelSetError(f"{where}: {problem(err.errors()[0])}") from None
    problems = _problems(f)
    if problems:
        key, cause = problems[0]
        raise LabelSetError(f"{where}: {key}: {cause}")
    colors = {k: c.colour.lower() for k, c in f.categories.items()}
    colors.update({c.name: c.colour.lower() for c in f.coarse})
    rule = {k: dict(getattr(f.slide_rule, k)) for k in RULE_KEYS if getattr(f.slide_rule, k)}
    return LabelSet(
        name=f.name,
        fine=tuple(f.fine),
        coarse=tuple(c.name for c in f.coarse),
        coarse_to_fine={c.name: tuple(c.fine) for c in f.coarse},
        nondiagnostic=f.nondiagnostic,
        category_names={k: f.categories[k].name for k in [f.nondiagnostic, *f.fine]},
        risk_of_malignancy={k: float(f.categories[k].risk) for k in [f.nondiagnostic, *f.fine]},
        colors=colors,
        abbreviation=f.abbreviation,
        title=f.title,
        source=f.source,
        slide_rule=rule,
        severity_from=f.severity_from,
        risk_notes={k: c.risk_note for k, c in f.categories.items() if c.risk_note},
        risk_ranges={k: c.risk_range for k, c in f.categories.items() if c.risk_range is not None},
    )


def label_set_to_dict(labels: LabelSet) -> dict[str, Any]:
    """The file form of ``labels`` (what a model card stores; ``label_set_from_dict`` reads it back)."""
    cats: dict[str, Any] = {}
    for k in labels.categories:
        c: dict[str, Any] = {
            "name": labels.category_names[k],
            "risk": labels.risk_of_malignancy[k],
            "colour": labels.colors.get(k, "#808080"),
        }
        if k in labels.risk_ranges:
            c["risk_range"] = list(labels.risk_ranges[k])
        if labels.risk_notes.get(k):
            c["risk_note"] = labels.risk_notes[k]
        cats[k] = c
    return {
        "name": labels.name,
        "abbreviation": labels.abbreviation,
        "title": labels.title,
        "source": labels.source,
        "nondiagnostic": labels.nondiagnostic,
        "fine": list(labels.fine),
        "coarse": [
            {"name": c, "fine": list(labels.coarse_to_fine[c]), "colour": labels.colors.get(c, "#808080")}
            for c in labels.coarse
        ],
        "categories": cats,
        "severity_from": labels.severity_from,
        "slide_rule": {k: dict(v) for k, v in labels.slide_rule.items()},
    }


def read_label_file(path: str | Path) -> LabelSet:
    p = Path(path)
    return label_set_from_dict(read_toml(p, LabelSetError, "label-set file"), str(p))


def shipped_files() -> dict[str, Path]:
    """File stem -> path of every label set shipped with zoomgrade (``zoomgrade/labels/*.toml``)."""
    d = Path(str(resources.files("zoomgrade.labels")))
    return {p.stem: p for p in sorted(d.glob("*.toml"))}


def shipped_label_sets() -> dict[str, LabelSet]:
    """Label-set name -> LabelSet for every shipped file."""
    out = {}
    for p in shipped_files().values():
        ls = read_label_file(p)
        out[ls.name] = ls
    return out


def load_label_set(spec: str | Path | LabelSet) -> LabelSet:
    """A label set from a shipped file's stem (``tbsrtc``) or name (``tbsrtc-3``), or a path to a TOML file."""
    if isinstance(spec, LabelSet):
        return spec
    s = str(spec)
    files = shipped_files()
    if s in files:
        return read_label_file(files[s])
    if not s.endswith(".toml") and "/" not in s:
        named = shipped_label_sets()
        if s in named:
            return named[s]
        if not Path(s).exists():
            raise LabelSetError(f"{s}: no such label set (shipped: {', '.join(sorted(named))}; or give a .toml file)")
    return read_label_file(s)
