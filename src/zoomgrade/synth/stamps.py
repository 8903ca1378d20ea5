"""Drawing one object into a tile's optical-density (OD) buffer. Every stamp ADDS OD (order-free)."""

from __future__ import annotations

import numpy as np

from .objects import Table
from .textures import window


def _box(od: np.ndarray, x0: int, y0: int, cx: float, cy: float, reach: float) -> tuple[int, int, int, int] | None:
    h, w = od.shape[:2]
    xa, xb = max(int(cx - reach), x0), min(int(cx + reach) + 2, x0 + w)
    ya, yb = max(int(cy - reach), y0), min(int(cy + reach) + 2, y0 + h)
    if xa >= xb or ya >= yb:
        return None
    return xa, xb, ya, yb


def _ellipse_coords(xa: int, xb: int, ya: int, yb: int, cx: float, cy: float, theta: float):
    yy, xx = np.ogrid[ya:yb, xa:xb]
    dx = xx + 0.5 - cx
    dy = yy + 0.5 - cy
    c, s = np.cos(theta), np.sin(theta)
    return dx * c + dy * s, -dx * s + dy * c  # u along the major axis, v across


def nucleus(od: np.ndarray, x0: int, y0: int, t: Table, i: int, fine_tex: np.ndarray) -> None:
    """A nucleus: soft ellipse, chromatin granules, central pallor with membrane rim, optional groove,
    pseudoinclusion and nucleolus."""
    cx, cy, a, b = float(t.cx[i]), float(t.cy[i]), float(t.a[i]), float(t.b[i])
    box = _box(od, x0, y0, cx, cy, a + 2)
    if box is None:
        return
    xa, xb, ya, yb = box
    u, v = _ellipse_coords(xa, xb, ya, yb, cx, cy, float(t.theta[i]))
    ang = np.arctan2(v, u)
    irr = float(t.irregular[i])
    scale = 1 + irr * (np.cos(3 * ang + i) + 0.6 * np.sin(5 * ang + 2 * i)) if irr > 0 else 1.0
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2) / scale
    edge = np.clip((1 - r) * b / 1.2, 0, 1)
    dens = float(t.density[i])
    prof = dens * (1 - float(t.pallor[i]) * np.clip(1 - r * r, 0, 1))
    rim = float(t.rim[i])
    if rim > 0:
        prof = prof + rim * dens * np.exp(-(((1 - r) * b / 1.6) ** 2))
    tex = window(fine_tex, xa + i * 37, ya + i * 91, xb - xa, yb - ya)
    prof = prof * (1 + float(t.texture[i]) * tex)
    g = float(t.groove[i])
    if g > 0:  # longitudinal groove along the long axis
        prof = prof + g * np.exp(-((v / 1.1) ** 2)) * (np.abs(u) < 0.8 * a)
    inc = float(t.inclusion[i])
    if inc > 0:  # sharp round pale hole with a dark rim, off centre
        d = np.sqrt((u - 0.25 * a) ** 2 + (v - 0.1 * b) ** 2) / (inc * a)
        prof = np.where(d < 1, 0.12 * dens, prof) + 0.5 * dens * np.exp(-(((d - 1) * inc * a / 1.0) ** 2))
    nuc = float(t.nucleolus[i])
    if nuc > 0:
        d = np.sqrt((u + 0.2 * a) ** 2 + v**2)
        prof = prof + nuc * np.exp(-((d / 1.6) ** 2))
    od[ya - y0 : yb - y0, xa - x0 : xb - x0] += (edge * np.maximum(prof, 0))[..., None] * t.od[i]


#: disc profiles
FLAT, CELL, FOAMY, LAMINATED, GRANULE = 0, 1, 2, 3, 4


def disc(od: np.ndarray, x0: int, y0: int, t: Table, i: int, mid_tex: np.ndarray) -> None:
    """A soft ellipse of one material: cytoplasm (darker border), foamy macrophage, laminated psammoma..."""
    cx, cy, a, b = float(t.cx[i]), float(t.cy[i]), float(t.a[i]), float(t.b[i])
    box = _box(od, x0, y0, cx, cy, max(a, b) + 2)
    if box is None:
        return
    xa, xb, ya, yb = box
    u, v = _ellipse_coords(xa, xb, ya, yb, cx, cy, float(t.theta[i]))
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    alpha = np.clip((1 - r) * min(a, b) / float(t.edge[i]), 0, 1)
    kind = int(t.profile[i])
    if kind == CELL:  # only the cell border: a faint ring; the sheet's cytoplasm is drawn as one piece
        alpha = np.exp(-(((r - 0.97) * min(a, b) / 1.3) ** 2))
    elif kind == FOAMY:
        alpha = alpha * np.clip(0.75 + 0.6 * window(mid_tex, xa + i * 13, ya + i * 29, xb - xa, yb - ya), 0.1, 1.6)
    elif kind == LAMINATED:
        alpha = alpha * (0.55 + 0.45 * np.cos(r * 6 * np.pi))
    od[ya - y0 : yb - y0, xa - x0 : xb - x0] += alpha[..., None] * t.od[i]


def rbc_sprite(radius: int) -> np.ndarray:
    """A red cell seen flat: a disc with a paler centre (biconcave), soft 1-px edge."""
    n = 2 * radius + 3
    yy, xx = np.mgrid[0:n, 0:n] + 0.5 - n / 2
    r = np.hypot(xx, yy) / radius
    alpha = np.clip((1 - r) * radius / 1.0, 0, 1)
    return (alpha * (0.5 + 0.5 * np.clip(r, 0, 1) ** 2)).astype(np.float32)


def sprite(od: np.ndarray, x0: int, y0: int, spr: np.ndarray, cx: float, cy: float, color: np.ndarray) -> None:
    n = spr.shape[0]
    sx, sy = int(round(cx)) - n // 2, int(round(cy)) - n // 2
    h, w = od.shape[:2]
    xa, xb = max(sx, x0), min(sx + n, x0 + w)
    ya, yb = max(sy, y0), min(sy + n, y0 + h)
    if xa >= xb or ya >= yb:
        return
    od[ya - y0 : yb - y0, xa - x0 : xb - x0] += spr[ya - sy : yb - sy, xa - sx : xb - sx, None] * color


LUT = 1024  # angular resolution of blob outlines (linearly interpolated)


def radial_lut(coef: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Outline radius factor of irregular blobs sampled at LUT angles: (n, LUT)."""
    t = (np.arange(LUT) + 0.5) / LUT * 2 * np.pi - np.pi
    k = np.arange(1, coef.shape[1] + 1)
    f = 1 + (coef[:, None, :] * np.cos(k[None, None, :] * t[None, :, None] + phi[:, None, :])).sum(-1)
    return np.maximum(f, 0.4).astype(np.float32)


#: blob kinds
THIN, CRACKED, THICK = 0, 1, 2


def blob(od: np.ndarray, x0: int, y0: int, t: Table, i: int, low_tex: np.ndarray) -> None:
    """An irregular sheet of colloid: thin and watery, cracked (crazed), or thick and sharp-edged."""
    cx, cy, R = float(t.cx[i]), float(t.cy[i]), float(t.R[i])
    box = _box(od, x0, y0, cx, cy, float(t.reach[i]))
    if box is None:
        return
    xa, xb, ya, yb = box
    yy, xx = np.ogrid[ya:yb, xa:xb]
    dx = (xx + 0.5 - cx).astype(np.float32)
    dy = (yy + 0.5 - cy).astype(np.float32)
    rad = np.sqrt(dx * dx + dy * dy)
    pos = (np.arctan2(dy, dx) + np.pi) * (LUT / (2 * np.pi)) - 0.5
    lo = np.floor(pos)
    f = pos - lo
    lo = lo.astype(np.int32) & (LUT - 1)
    lut = t.lut[i]
    r = rad / (R * (lut[lo] * (1 - f) + lut[(lo + 1) & (LUT - 1)] * f))
    kind = int(t.kind[i])
    alpha = np.clip((1 - r) * (R / float(t.edge[i])), 0, 1)
    if not alpha.any():
        return
    low = window(low_tex, xa + i * 101, ya + i * 57, xb - xa, yb - ya)
    if kind == THICK:
        alpha *= 1 + 0.25 * np.exp(-(((1 - r) * (R / 6.0)) ** 2)) + 0.08 * low
    else:
        alpha *= np.clip(0.8 + 0.25 * low, 0.3, 1.3)
    if kind == CRACKED or (kind == THICK and i % 3 == 0):
        crack = window(low_tex, xa + i * 7 + 200, ya + i * 3 + 100, xb - xa, yb - ya)
        alpha *= 1 - 0.9 * np.exp(-((crack * 20.0) ** 2))
    od[ya - y0 : yb - y0, xa - x0 : xb - x0] += alpha[..., None] * t.od[i]


def sheet(od: np.ndarray, x0: int, y0: int, outline: np.ndarray, color: np.ndarray, soft: float = 1.5) -> None:
    """A group's shared cytoplasm: its outline polygon filled, edges softened."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import gaussian_filter

    h, w = od.shape[:2]
    m = int(3 * soft) + 2
    # rasterise over the tile plus a margin (so blurred edges agree across tiles), then crop
    ra, rb = max(int(outline[:, 0].min()) - m, x0 - m), min(int(outline[:, 0].max()) + m + 1, x0 + w + m)
    sa, sb = max(int(outline[:, 1].min()) - m, y0 - m), min(int(outline[:, 1].max()) + m + 1, y0 + h + m)
    xa, xb, ya, yb = max(ra, x0), min(rb, x0 + w), max(sa, y0), min(sb, y0 + h)
    if xa >= xb or ya >= yb:
        return
    img = Image.new("L", (rb - ra, sb - sa), 0)
    ImageDraw.Draw(img).polygon([(float(x) - ra, float(y) - sa) for x, y in outline], fill=255)
    mask = np.asarray(img, np.float32) * (1 / 255)
    if not mask.any():
        return
    mask = gaussian_filter(mask, soft, mode="constant")[ya - sa : yb - sa, xa - ra : xb - ra]
    od[ya - y0 : yb - y0, xa - x0 : xb - x0] += mask[..., None] * color
