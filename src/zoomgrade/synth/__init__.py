"""Synthetic thyroid FNA smears with exact ground truth (``zoomgrade synth``).

``write_slide(out, category, stain, size_mm, seed, level_step)`` writes three files:

- ``OUT.svs``: a real pyramidal tiled TIFF, 512 px JPEG tiles (quality 88, YCbCr 4:2:0), 0.25 um/px
  (40x), levels downsampled by 4 (or 2) until the largest side is under 2,000 px, an Aperio
  ImageDescription (``Aperio Image Library ... |AppMag = 40|MPP = 0.25``) so OpenSlide reports vendor
  ``aperio``, and an Aperio-style stripped thumbnail as page 1.
- ``OUT.geojson``: QuPath FeatureCollection, one Polygon per follicular cell group (level-0 px),
  classification = the group's fine category "II".."VI" with ``TBSRTC`` colours; properties
  ``fine_category``, ``cell_count``, ``architecture``.
- ``OUT.truth.json``: slide ``category`` (by ``composition.RULE``), ``counts`` per fine category,
  ``n_groups``, ``n_adequate_groups``, ``seed``, ``stain``, ``size_mm``, ``mpp``, level sizes.

Design constraints other modules rely on:

- Deterministic: same arguments, same bytes (any number of worker processes).
- Scale: a benign nucleus is 7.5 um (~30 px); flat sheets hold ~120 um^2 of outline per cell (the
  cascade estimates cells as polygon area / 120 um^2); groups hold 3-200 cells (50-400 um).
- Sparsity: group outlines cover only a few % of what an Otsu mask marks as tissue (plasma, blood,
  colloid, debris all count), so a cascade that reads only the groups reads far less than tiling.
- Category mix (``composition``): I: < 6 groups of >= 10 cells, all benign; II: all II; III: >= 3 III
  groups among II; IV: mostly IV, little colloid; V: >= 3 V among II/III; VI: >= 3 VI among II.
  Key groups have >= 15 cells.
- Fine categories III-VI differ mainly in nuclear detail visible at high power (``profiles``);
  architecture and colloid give a partial low-power signal. Stain (pap / diffquik), intensity and
  background vary per slide.
- Speed and memory: rendered tile row by tile row on a process pool; only tiles that objects touch
  are drawn, plain ones are cached; lower levels are built streaming from the level above.
- Seeds: training uses seeds < 100000; evaluation, bench and tests use seeds >= 1_000_000.
"""

from __future__ import annotations

from .composition import CATEGORIES, RULE, slide_category
from .dataset import write_set
from .slide import write_slide
from .stains import STAINS
from .truth import truth_paths

__all__ = ["CATEGORIES", "RULE", "STAINS", "slide_category", "truth_paths", "write_set", "write_slide"]
