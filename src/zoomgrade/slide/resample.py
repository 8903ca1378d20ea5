"""Area-averaging resize (what OpenCV calls INTER_AREA): each output pixel is the mean of the input area
it covers, with fractional weights at the edges. Anti-aliased by construction, so an 8 um/px view of a
slide has no moire. Integral factors take a fast integer block-mean path."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def area_weights(n_in: int, n_out: int) -> sp.csr_matrix:
    """(n_out, n_in) matrix whose row i averages the input interval [i, i+1) * n_in / n_out."""
    scale = n_in / n_out
    start = np.arange(n_out) * scale
    end = start + scale
    first = np.floor(start).astype(np.int64)
    span = int(np.ceil(scale)) + 1
    rows, cols, vals = [], [], []
    for k in range(span):
        j = first + k
        overlap = np.minimum(end, j + 1) - np.maximum(start, j)
        keep = (overlap > 1e-9) & (j < n_in)
        rows.append(np.nonzero(keep)[0])
        cols.append(j[keep])
        vals.append(overlap[keep] / scale)
    return sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_out, n_in),
    )


def apply_weights(img: np.ndarray, wy: sp.csr_matrix, wx: sp.csr_matrix) -> np.ndarray:
    """out = wy @ img @ wx.T per channel; img (h, w, c) uint8 -> (wy rows, wx rows, c) uint8."""
    h, w, c = img.shape
    oh, ow = wy.shape[0], wx.shape[0]
    t = wy @ img.reshape(h, w * c).astype(np.float32)  # (oh, w*c)
    t = t.reshape(oh, w, c).transpose(1, 0, 2).reshape(w, oh * c)
    t = (wx @ t).reshape(ow, oh, c).transpose(1, 0, 2)
    out: np.ndarray = np.clip(np.rint(t), 0, 255).astype(np.uint8)
    return out


def block_mean(img: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """Mean over ky x kx blocks (shape must divide), rounded half up, in integers."""
    n = ky * kx
    dtype = np.uint16 if n <= 256 else np.uint32  # n * 255 + n // 2 fits
    # Adding strided views is several times faster than reshape(...).sum(axis=(1, 3)); summing whole rows
    # first (contiguous), then the columns of the ky-times smaller row sums, saves a third more (measured:
    # 0.040 -> 0.027 s for a 2x2 mean of 1676 x 5000 RGB, a third of a 20 x 20 mm slide's stage-1 thumbnail).
    rows: np.ndarray = np.add(img[0::ky], img[1::ky], dtype=dtype) if ky > 1 else img.astype(dtype)
    for i in range(2, ky):
        rows += img[i::ky]
    acc: np.ndarray = np.add(rows[:, 0::kx], rows[:, 1::kx]) if kx > 1 else rows
    for j in range(2, kx):
        acc += rows[:, j::kx]
    acc += n // 2
    acc //= n
    return acc.astype(np.uint8)


def area_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize (h, w, c) uint8 to (out_h, out_w, c) by area averaging."""
    h, w = img.shape[:2]
    if (h, w) == (out_h, out_w):
        return img
    if h % out_h == 0 and w % out_w == 0:
        return block_mean(img, h // out_h, w // out_w)
    return apply_weights(img, area_weights(h, out_h), area_weights(w, out_w))
