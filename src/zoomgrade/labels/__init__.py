"""Label sets: the grades a model gives and a slide is reported in, read from TOML files.

``TBSRTC`` (the default, ``labels/tbsrtc.toml``) and the other shipped systems are package data;
``load_label_set(name_or_path)`` reads any of them or a lab's own file (docs/label-sets.md).
"""

from __future__ import annotations

from .files import (
    label_set_from_dict,
    label_set_to_dict,
    load_label_set,
    read_label_file,
    shipped_files,
    shipped_label_sets,
)
from .labelset import LabelSet

#: The default label set: The Bethesda System for Reporting Thyroid Cytopathology, 3rd edition.
TBSRTC: LabelSet = read_label_file(shipped_files()["tbsrtc"])
DEFAULT = TBSRTC

__all__ = [
    "DEFAULT",
    "TBSRTC",
    "LabelSet",
    "label_set_from_dict",
    "label_set_to_dict",
    "load_label_set",
    "read_label_file",
    "shipped_files",
    "shipped_label_sets",
]
