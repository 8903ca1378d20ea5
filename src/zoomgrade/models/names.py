"""QuPath classification names in training annotations, checked against the label set and mapped.

A lab's annotations rarely use the label set's own names ("Benign", "PTC", "Bethesda VI"). Every name in
every GeoJSON of a training folder must be a fine grade of the label set after the mapping (``--map
OLD=NEW``, or a TOML file of ``OLD = "NEW"`` lines); NEW = "-" drops that name's objects on purpose.
Unknown names are listed together in one error, with how often and in how many files they occur.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..annotations import load_annotations
from ..errors import ZoomgradeError
from ..labels import LabelSet
from ..userfile import read_toml

IGNORE = "-"


def parse_mapping(pairs: list[str] | None = None, map_file: str | Path | None = None) -> dict[str, str]:
    """{old name: new name} from ``OLD=NEW`` strings and/or a TOML file of ``OLD = "NEW"`` lines."""
    out: dict[str, str] = {}
    if map_file is not None:
        p = Path(map_file)
        data = read_toml(p, ZoomgradeError, "name-mapping file")
        for k, v in data.items():
            if not isinstance(v, str):
                raise ZoomgradeError(f'{p}: {k}: expected a string (the label set\'s name, or "-" to drop), got {v!r}')
            out[str(k)] = v
    for pair in pairs or []:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ZoomgradeError(f"--map: expected OLD=NEW, got {pair!r}")
        out[old.strip()] = new.strip()
    return out


def check_mapping(mapping: dict[str, str], labels: LabelSet, where: str = "--map") -> None:
    bad = {k: v for k, v in mapping.items() if v != IGNORE and v not in labels.fine}
    if bad:
        k, v = next(iter(bad.items()))
        raise ZoomgradeError(
            f"{where}: {k}={v}: {v!r} is not a fine grade of label set {labels.name} "
            f"({', '.join(labels.fine)}) nor {IGNORE!r} (drop)"
        )


def check_names(geojsons: list[Path], labels: LabelSet, mapping: dict[str, str]) -> Counter:
    """Objects per label-set grade after ``mapping``; refuses (one line) any name the label set lacks."""
    check_mapping(mapping, labels)
    seen: Counter = Counter()
    unknown: Counter = Counter()
    files: dict[str, set[str]] = {}
    for gj in geojsons:
        for a in load_annotations(gj):
            name = mapping.get(a.label, a.label)
            if name == IGNORE:
                continue
            if name in labels.fine:
                seen[name] += 1
            else:
                unknown[a.label] += 1
                files.setdefault(a.label, set()).add(gj.name)
    if unknown:
        listed = ", ".join(f"{n!r} ({c} objects in {len(files[n])} files)" for n, c in unknown.most_common())
        raise ZoomgradeError(
            f"{Path(geojsons[0]).parent}: classification names not in label set {labels.name} "
            f"({', '.join(labels.fine)}): {listed}; map them with --map OLD=NEW (NEW a fine grade, or "
            f"{IGNORE!r} to drop)"
        )
    return seen
