"""Rendering: a tile of the slide from its scene, in optical density, then to RGB.

Only tiles that objects touch are drawn; tiles of plain glass or plain plasma are cheap, cached and
reused (their bytes are identical), which is what makes a 20 x 20 mm slide fast.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from . import stamps
from .fields import GRID
from .scene import Scene
from .textures import Textures, window

_RBC_RADII = tuple(range(10, 20))
_FLAT_STEP = 0.004  # OD quantum under which a tile's plasma tint counts as flat (invisible, < 1 grey level)


def _interp(p0: int, n: int, gn: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower lattice index and weight of the next one, for pixels p0..p0+n (nodes at (k+0.5)*GRID)."""
    pos = np.clip((np.arange(p0, p0 + n) + 0.5) / GRID - 0.5, 0, gn - 1)
    lo = np.clip(np.floor(pos).astype(np.intp), 0, gn - 2)
    return lo, (pos - lo).astype(np.float32)


class Renderer:
    """Draws any level-0 region of one scene. Holds the scene's textures and sprites (made once)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.tex = Textures.make(scene.seed)
        self.sprites = {r: stamps.rbc_sprite(r) for r in _RBC_RADII}
        self.rbc_od = scene.palette["rbc"]
        self.plasma_od = scene.palette["plasma"]
        self.bg = scene.palette.background
        # one tint quantum = _FLAT_STEP of OD in the strongest channel (under one grey level)
        self.tint_step = _FLAT_STEP / float(max(self.plasma_od.max(), 1e-3))
        self._log_bg = np.log(self.bg).astype(np.float32)
        self._grain_scale = np.float32(1.6 / float(self.bg.mean()))  # ~1.6 grey levels of sensor noise
        n = self.tex.grain.shape[0]
        self._level_shape = (n, n)
        self._level = self._log_bg + (self._grain_scale * self.tex.grain)[..., None]
        # granular proteinaceous background, per unit of tint
        self._plasma = ((1 + 0.18 * self.tex.mid)[..., None] * self.plasma_od).astype(np.float32)

    # -- what is where ---------------------------------------------------------------------------
    def touching(self, x0: int, y0: int, x1: int, y1: int, rows: dict | None = None) -> dict[str, np.ndarray]:
        s = self.scene
        tables = {
            "nuclei": s.nuclei,
            "discs": s.discs,
            "rbcs": s.rbcs,
            "blobs": s.blobs,
            "blurs": s.blurs,
            "sheets": s.sheets,
        }
        return {k: t.select(x0, y0, x1, y1, None if rows is None else rows[k]) for k, t in tables.items()}

    def tint_patch(self, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """Plasma OD scale over the region: bilinear interpolation of the GRID lattice (continuous across
        tiles), separable: first along y on the few lattice columns needed, then along x."""
        t = self.scene.tint
        gx0, gx1 = max(0, x0 // GRID - 1), min(t.shape[1], (x0 + w) // GRID + 3)
        ly, fy = _interp(y0, h, t.shape[0])
        lx, fx = _interp(x0, w, t.shape[1])
        sub = t[:, gx0:gx1]
        rows = sub[ly] * (1 - fy)[:, None] + sub[ly + 1] * fy[:, None]  # (h, gx1-gx0)
        lx = lx - gx0
        return rows[:, lx] * (1 - fx)[None, :] + rows[:, lx + 1] * fx[None, :]

    def flat_tint(self, x0: int, y0: int, w: int, h: int) -> float | None:
        """The tint, quantised, if it varies less than a visible step over the region (else None).

        Flat regions share one background value, so object-free tiles repeat byte for byte (cached)."""
        t = self.scene.tint
        gy0, gy1 = max(0, y0 // GRID - 1), min(t.shape[0], (y0 + h) // GRID + 2)
        gx0, gx1 = max(0, x0 // GRID - 1), min(t.shape[1], (x0 + w) // GRID + 2)
        sub = t[gy0:gy1, gx0:gx1]
        if float(sub.max() - sub.min()) > self.tint_step * 2:
            return None
        return round(float(sub.mean()) / self.tint_step) * self.tint_step

    # -- drawing ----------------------------------------------------------------------------------
    def render(
        self, x0: int, y0: int, w: int, h: int, hit: dict[str, np.ndarray] | None = None, flat: float | None = None
    ) -> np.ndarray:
        """RGB uint8 (h, w, 3) of the level-0 region at (x0, y0)."""
        if hit is None:
            hit = self.touching(x0, y0, x0 + w, y0 + h)
        if len(hit["blurs"]):
            return self._render_blurred(x0, y0, w, h, hit)
        od = self._od(x0, y0, w, h, hit, flat)
        return self._to_rgb(od, x0, y0)

    def _od(self, x0: int, y0: int, w: int, h: int, hit: dict[str, np.ndarray], flat: float | None) -> np.ndarray:
        s, tex = self.scene, self.tex
        if (h, w) == self._level_shape and x0 % w == 0 and y0 % h == 0:
            plasma = self._plasma  # aligned tile: the textured plasma OD is precomputed
        else:
            plasma = (1 + 0.18 * window(tex.mid, x0, y0, w, h))[..., None] * self.plasma_od
        od = plasma * np.float32(flat) if flat is not None else plasma * self.tint_patch(x0, y0, w, h)[..., None]
        for i in hit["blobs"]:
            stamps.blob(od, x0, y0, s.blobs, int(i), tex.low)
        rb = s.rbcs
        for i in hit["rbcs"]:
            r = int(np.clip(round(float(rb.r[i])), _RBC_RADII[0], _RBC_RADII[-1]))
            stamps.sprite(od, x0, y0, self.sprites[r], float(rb.cx[i]), float(rb.cy[i]), self.rbc_od * rb.scale[i])
        for i in hit["sheets"]:
            stamps.sheet(od, x0, y0, s.outlines[int(i)], s.sheets.od[i])
        for i in hit["discs"]:
            stamps.disc(od, x0, y0, s.discs, int(i), tex.mid)
        for i in hit["nuclei"]:
            stamps.nucleus(od, x0, y0, s.nuclei, int(i), tex.fine)
        return od

    def _to_rgb(self, od: np.ndarray, x0: int, y0: int) -> np.ndarray:
        """background * exp(-od) + sensor grain, done as exp(log(background) + grain - od) in place."""
        h, w = od.shape[:2]
        if (h, w) == self._level_shape and x0 % self._level_shape[1] == 0 and y0 % self._level_shape[0] == 0:
            level = self._level  # the common case: a tile aligned with the texture period
        else:
            level = self._log_bg + (self._grain_scale * window(self.tex.grain, x0, y0, w, h))[..., None]
        np.subtract(level, od, out=od)
        np.exp(od, out=od)
        od += 0.5
        np.clip(od, 0, 255, out=od)
        return od.astype(np.uint8)

    def _render_blurred(self, x0: int, y0: int, w: int, h: int, hit: dict[str, np.ndarray]) -> np.ndarray:
        """Out-of-focus patches: draw with a margin, blur, blend by a soft patch mask."""
        b = self.scene.blurs
        m = int(3 * float(b.sigma[hit["blurs"]].max())) + 2
        big = self.touching(x0 - m, y0 - m, x0 + w + m, y0 + h + m)
        od = self._od(x0 - m, y0 - m, w + 2 * m, h + 2 * m, big, self.flat_tint(x0 - m, y0 - m, w + 2 * m, h + 2 * m))
        yy, xx = np.ogrid[y0 - m : y0 + h + m, x0 - m : x0 + w + m]
        for i in hit["blurs"]:
            d = np.hypot(xx + 0.5 - b.cx[i], yy + 0.5 - b.cy[i]) / b.R[i]
            wgt = np.clip((1 - d) / 0.4, 0, 1)[..., None].astype(np.float32)
            if wgt.any():
                blurred = gaussian_filter(od, (float(b.sigma[i]), float(b.sigma[i]), 0), mode="nearest")
                od = od * (1 - wgt) + blurred * wgt
        return self._to_rgb(np.ascontiguousarray(od[m : m + h, m : m + w]), x0, y0)
