"""What a TIFF says about the slide: Aperio descriptions, OME-XML, resolution tags -> properties and mpp."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import tifffile


def parse_aperio(description: str) -> dict[str, str]:
    """Aperio ImageDescription properties as ``aperio.<key>``."""
    # "Aperio Image Library vX \r\n<geometry>|Key = Value|Key = Value..."
    props: dict[str, str] = {}
    for part in description.split("|")[1:]:
        key, sep, value = part.partition("=")
        if sep:
            props[f"aperio.{key.strip()}"] = value.strip()
    return props


def float_or_none(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


_OME_UNITS = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def parse_ome(xml: str) -> tuple[dict[str, str], tuple[float, float] | None, float | None]:
    root = ET.fromstring(xml)
    ns = re.match(r"\{.*\}", root.tag)
    p = ns.group(0) if ns else ""
    props: dict[str, str] = {}
    pixels = root.find(f".//{p}Image/{p}Pixels")
    mpp = None
    if pixels is not None:
        for k, v in pixels.attrib.items():
            props[f"ome.Pixels.{k}"] = v
        sx, sy = float_or_none(pixels.get("PhysicalSizeX")), float_or_none(pixels.get("PhysicalSizeY"))
        ux = _OME_UNITS.get(pixels.get("PhysicalSizeXUnit", "µm"))
        uy = _OME_UNITS.get(pixels.get("PhysicalSizeYUnit", "µm"))
        if sx and sy and ux and uy:
            mpp = (sx * ux, sy * uy)
    objective = None
    obj = root.find(f".//{p}Instrument/{p}Objective")
    if obj is not None:
        objective = float_or_none(obj.get("NominalMagnification"))
    return props, mpp, objective


def resolution_mpp(page: tifffile.TiffPage) -> tuple[float, float] | None:
    """mpp from XResolution/YResolution in pixels per cm or inch (no unit: no physical size)."""
    tags = page.tags
    unit = tags.get("ResolutionUnit")
    xr, yr = tags.get("XResolution"), tags.get("YResolution")
    if unit is None or xr is None or yr is None:
        return None
    per = {3: 1e4, 2: 25400.0}.get(int(unit.value))
    rx = xr.value[0] / xr.value[1] if xr.value[1] else 0
    ry = yr.value[0] / yr.value[1] if yr.value[1] else 0
    if per is None or rx <= 0 or ry <= 0:
        return None
    return per / rx, per / ry
