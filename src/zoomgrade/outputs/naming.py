"""The one output-naming rule of ``grade`` and ``batch``: which inputs are graded, and the folder each gets.

- The same file named twice (or through a symlink, or a hard link) is graded once: inputs are keyed by
  device and inode, the first name given wins.
- A folder name is the file name without its slide suffix (``x.ome.tiff`` -> ``x``), made safe: path
  separators and control characters become ``_``, leading dots and spaces go (a stem of ``.``, ``..`` or
  ``.hidden`` cannot escape OUT nor hide), an empty result is ``slide``, and it is cut to 120 characters.
- Where two slides' safe names are equal ignoring case (OUT may be on a file system that ignores it), or a
  name is one of the run's own files (summary.csv, failures.csv, the lock), every such slide gets
  ``<name>-<8 hex of its absolute path's SHA-1>``; a suffixed name can meet no other slide's name (the
  hash is lengthened until it does not). The hash is of the absolute path as given (symlinks kept), so the
  same slides get the same folders in every run, whether graded by ``grade`` or by ``batch``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from pathlib import Path

#: Files a run writes directly in OUT: no slide folder may take their names.
RESERVED = frozenset({"summary.csv", "failures.csv", ".zoomgrade.lock"})
MAX_NAME = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_DOUBLE_SUFFIXES = (".ome.tiff", ".ome.tif")


def slide_stem(path: str | os.PathLike) -> str:
    """File name without its slide suffix ("a.ome.tiff" -> "a", "x.svs" -> "x"); not yet made safe."""
    name = Path(path).name
    for suffix in _DOUBLE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem if not name.startswith(".") or name.count(".") > 1 else name


def safe_name(stem: str) -> str:
    """A folder name that stays inside OUT, is visible, and is not empty."""
    name = _UNSAFE.sub("_", stem).lstrip(". ").rstrip(" ")
    name = name[:MAX_NAME].rstrip(" .") if len(name) > MAX_NAME else name
    return name or "slide"


def _file_key(path: Path) -> tuple[int, int] | str:
    """(device, inode) of an existing file (links and symlinks meet), else its normalised absolute path."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.normcase(os.path.abspath(path))
    return (st.st_dev, st.st_ino)


def unique_inputs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(paths to grade, duplicates dropped): each file once, under the first name it was given."""
    seen: set[tuple[int, int] | str] = set()
    kept: list[Path] = []
    dropped: list[Path] = []
    for p in paths:
        key = _file_key(p)
        (dropped if key in seen else kept).append(p)
        seen.add(key)
    return kept, dropped


def _digest(path: Path) -> str:
    return hashlib.sha1(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest()


def output_names(paths: list[Path]) -> list[str]:
    """One safe, unique folder name per path (see the module doc); paths should already be unique files."""
    stems = [safe_name(slide_stem(p)) for p in paths]
    groups: dict[str, int] = defaultdict(int)
    for s in stems:
        groups[s.lower()] += 1
    plain = {s.lower() for s in stems if groups[s.lower()] == 1 and s.lower() not in RESERVED}
    names: list[str] = []
    taken = set(plain)
    for p, s in zip(paths, stems):
        if s.lower() in plain:
            names.append(s)
            continue
        digest, n = _digest(p), 8
        while f"{s}-{digest[:n]}".lower() in taken and n < len(digest):
            n += 4
        name = f"{s}-{digest[:n]}"
        taken.add(name.lower())
        names.append(name)
    return names


def output_dirs(paths: list[Path], out: Path) -> list[Path]:
    """OUT/<output name> for each path."""
    return [out / n for n in output_names(paths)]
