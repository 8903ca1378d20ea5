"""What a batch grades: a folder (searched recursively for whole-slide files) or a text/CSV list of paths.

Folder discovery goes by extension, not by opening every file: a study folder holds thousands of files
and probing each with OpenSlide would cost more than the listing. A file with a slide extension that is
not a slide is caught by the slide layer's own probe when it is graded and lands in failures.csv.
Flat camera images (.png/.jpg) are not picked up from folders: they need a caller-given mpp, and a
batch's own output folders are full of PNGs. Name them in a list file to grade them anyway.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ZoomgradeError
from ..outputs.naming import output_names, slide_stem, unique_inputs

__all__ = ["SlideInput", "find_slides", "read_list", "resolve_inputs", "slide_stem", "unique_names"]

#: Whole-slide formats the slide layer reads (OpenSlide's vendor formats, generic/OME pyramidal TIFF,
#: DICOM WSI). Lower case; ".ome.tif(f)" is covered by ".tif(f)".
SLIDE_EXTENSIONS = frozenset(
    {".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif", ".dcm", ".isyntax"}
)
#: A single INPUT file with one of these suffixes is a list of slide paths, not a slide.
LIST_EXTENSIONS = frozenset({".txt", ".csv", ".tsv", ".lst", ".list"})
#: CSV header names that hold the slide path (first match wins); otherwise the first column is used.
PATH_COLUMNS = ("path", "slide", "file", "filename", "slide_path")


@dataclass(frozen=True)
class SlideInput:
    """One slide of the batch: its path and the name of its output folder under OUT."""

    path: Path  # absolute
    name: str  # OUT/<name>/, unique within the batch


def _absolute(path: Path) -> Path:
    """Absolute and normalised, but symlinks kept: a study folder of links names its slides by the
    links (and the slide layer follows them when it opens the file)."""
    return Path(os.path.abspath(path))


def find_slides(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Slide files under ``folder`` (recursive, sorted), skipping hidden entries and ``exclude``.

    ``exclude`` is the batch's own output folder, which may sit inside the input folder. A DICOM WSI is
    a folder of .dcm files (one per level) that OpenSlide opens from any one of them, so only the first
    .dcm of each folder is taken. MRXS data folders hold .dat/.ini files, which no extension matches.
    """
    skip = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (here / d).resolve() != skip))
        dicom_taken = False
        for f in sorted(files):
            if f.startswith("."):
                continue
            ext = Path(f).suffix.lower()
            if ext not in SLIDE_EXTENSIONS:
                continue
            if ext == ".dcm":
                if dicom_taken:
                    continue
                dicom_taken = True
            found.append(_absolute(here / f))
    return found


def read_list(list_file: Path) -> list[Path]:
    """Paths from a text list (one per line, '#' comments) or a CSV/TSV with a path column.

    Relative paths are relative to the list file's folder, so a list travels with its slides. Paths are
    not checked here: a missing or unreadable one fails on its own, in failures.csv, like any bad slide.
    """
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ZoomgradeError(f"{list_file}: cannot read the list ({err.__class__.__name__}: {err})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    ext = list_file.suffix.lower()
    if ext in (".csv", ".tsv") and lines:
        rows = list(csv.reader(lines, delimiter="\t" if ext == ".tsv" else ","))
        header = [h.strip().lower() for h in rows[0]]
        col = next((header.index(c) for c in PATH_COLUMNS if c in header), None)
        if col is not None:
            rows = rows[1:]
        else:
            col = 0  # no header we know: the first column holds the paths
        entries = [r[col].strip() for r in rows if len(r) > col and r[col].strip()]
    else:
        entries = [ln.strip() for ln in lines]
    base = _absolute(list_file).parent
    return [_absolute(base / Path(e).expanduser()) for e in entries]


def unique_names(paths: list[Path]) -> list[SlideInput]:
    """Each slide with its output folder name (``outputs.naming``: the rule ``grade`` uses too)."""
    return [SlideInput(path=p, name=n) for p, n in zip(paths, output_names(paths))]


def resolve_inputs(inputs: str | os.PathLike | list, out_dir: Path | None = None) -> list[SlideInput]:
    """Turn the batch's INPUT into its slides: a folder, a list file, one slide file, or a Python list.

    Duplicates (the same file named twice, or through a link) are graded once. An INPUT that does not exist or holds no
    slide is a usage error (ZoomgradeError -> exit 2); a bad *entry* is not (it fails in failures.csv).
    """
    if isinstance(inputs, (list, tuple)):
        paths = [_absolute(Path(p).expanduser()) for p in inputs]
        where = "the input list"
    else:
        src = Path(inputs).expanduser()
        where = str(src)
        if src.is_dir():
            paths = find_slides(src, exclude=out_dir)
        elif src.is_file() and src.suffix.lower() in LIST_EXTENSIONS:
            paths = read_list(src)
        elif src.is_file():
            paths = [_absolute(src)]
        else:
            raise ZoomgradeError(f"{src}: no such file or folder")
    unique, _ = unique_inputs(paths)
    if not unique:
        raise ZoomgradeError(f"{where}: no slide files found (looked for {', '.join(sorted(SLIDE_EXTENSIONS))})")
    return unique_names(unique)
