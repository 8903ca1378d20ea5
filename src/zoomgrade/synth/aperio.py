"""The one writer of Aperio-style pyramidal TIFFs (synthetic slides, the benchmark's big slides, test slides).

Layout, as Aperio scanners write it: page 0 = level 0 (tiled, JPEG), page 1 = an untiled thumbnail, then
the lower levels (tiled, JPEG). OpenSlide recognises the file as Aperio because page 0's ImageDescription
starts with "Aperio" and carries ``|AppMag = 40|MPP = 0.25``. Tiles arrive already JPEG-encoded, so a level
is never in memory whole; the lower levels may be made while level 0 is written (``rest`` is called after).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from numpy.typing import NDArray

APERIO_HEAD = "Aperio Image Library v12.0.15"

#: A lower level: its width, height and JPEG tiles in row-major order.
Level = tuple[int, int, Iterable[bytes]]


def aperio_description(
    w0: int,
    h0: int,
    tile: int,
    quality: int,
    mpp: float,
    app_mag: float,
    w: int | None = None,
    h: int | None = None,
    extra: str = "",
) -> str:
    """Page description: level 0's (``w`` None) or a lower page's (``w`` x ``h``)."""
    head = f"{APERIO_HEAD} \r\n{w0}x{h0} [0,0 {w0}x{h0}] ({tile}x{tile})"
    if w is not None:
        head += f" -> {w}x{h}"
    return f"{head} JPEG/RGB Q={quality}|AppMag = {app_mag:g}|MPP = {mpp:g}{extra}"


def write_aperio(
    path: str | Path,
    width: int,
    height: int,
    level0: Iterator[bytes],
    rest: Callable[[], tuple[NDArray[np.uint8], list[Level]] | None],
    *,
    tile: int,
    quality: int,
    mpp: float,
    app_mag: float,
    ycbcr: bool = True,
    bigtiff: bool | None = None,
    software: str = "zoomgrade",
    extra_desc: str = "",
) -> None:
    """Write level 0 from ``level0`` (its JPEG tiles in row-major order), then ``rest()``'s thumbnail and
    lower levels (None: level 0 is the only page). ``ycbcr``: tiles are YCbCr 4:2:0 JPEG (else RGB components, as Aperio scanners store
    them); the TIFF tags say which. ``bigtiff``: None = only when level 0 needs it."""
    common: dict[str, Any]
    if ycbcr:
        common = {
            "photometric": "rgb",
            "compression": "jpeg",
            "subsampling": (2, 2),
            "metadata": None,
            "software": software,
        }
    else:
        common = {
            "photometric": "rgb",
            "compression": "jpeg",
            "compressionargs": {"outcolorspace": "RGB"},
            "metadata": None,
            "software": software,
        }
    big = width * height * 3 > 2**31 if bigtiff is None else bigtiff
    desc = aperio_description
    with tifffile.TiffWriter(path, bigtiff=big) as tw:
        tw.write(
            level0,
            shape=(height, width, 3),
            dtype=np.uint8,
            tile=(tile, tile),
            description=desc(width, height, tile, quality, mpp, app_mag, extra=extra_desc),
            **common,
        )
        more = rest()
        if more is None:
            return
        thumb, levels = more
        thumb_args = {k: v for k, v in common.items() if k not in ("compression", "subsampling", "compressionargs")}
        if ycbcr:
            thumb_args.update(compression="jpeg", subsampling=(2, 2), compressionargs={"level": quality})
        tw.write(
            thumb,
            rowsperstrip=16,
            description=desc(width, height, tile, quality, mpp, app_mag, thumb.shape[1], thumb.shape[0]),
            **thumb_args,
        )
        for w, h, tiles in levels:
            tw.write(
                iter(tiles),
                shape=(h, w, 3),
                dtype=np.uint8,
                tile=(tile, tile),
                description=desc(width, height, tile, quality, mpp, app_mag, w, h),
                **common,
            )
