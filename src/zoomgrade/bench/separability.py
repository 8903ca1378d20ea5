"""How separable are the synthetic fine grades at high power vs low power? (issue 3 acceptance)

Generates slides on training seeds and on held-out seeds, cuts crops of every gradable follicular group
(>= 15 cells) through ``zoomgrade.slide.open_slide`` at 0.5 um/px (high power, inside the group) and at
8 um/px (low power, centred on the group), trains a small plain-torch CNN per task on the training
seeds and reports accuracy per group (softmax averaged over a group's crops) on the held-out seeds, balanced over classes
(mean per-class recall: benign groups outnumber the others on real and synthetic slides alike):

- fine II-VI from high power: should be >= 0.90 (nuclear detail is there);
- fine II-VI from low power: should be <= 0.70 (nuclear detail is not);
- coarse (benign / suspicious follicular / malignant) from low power: should be >= 0.80.

Also reports sparsity: group-outline area over the Otsu tissue area at 8 um/px, per slide.

    python -m zoomgrade.bench.separability [--out DIR] [--per-category 10] [--size-mm 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from shapely.geometry import Point
from torch import nn

from ..annotations import load_annotations
from ..atomic import atomic_write_text
from ..labels import TBSRTC
from ..models.train_common import keeps_torch_state
from ..slide import open_slide
from ..synth import truth_paths, write_slide

HI_MPP, HI_PX = 0.5, 96  # 48 um window at 20x: a handful of nuclei (64 px held 2-4 large ones)
LO_MPP, LO_PX = 8.0, 32  # 256 um window: the group and its surroundings at 1.25x
TRAIN_SEED, TEST_SEED = 20_000, 1_200_000
THRESHOLDS = {"fine_high": (">=", 0.90), "fine_low": ("<=", 0.70), "coarse_low": (">=", 0.80)}


@dataclass
class Crops:
    hi: np.ndarray  # (N, HI_PX, HI_PX, 3) uint8
    lo: np.ndarray  # (N, LO_PX, LO_PX, 3) uint8
    fine: np.ndarray  # (N,) index into TBSRTC.fine
    group: np.ndarray  # (N,) global group id


def make_slides(out: Path, per_category: int, size_mm: float, seed0: int) -> list[Path]:
    """per_category slides of each category III-VI (their benign groups give class II) and one II slide."""
    paths = []
    cats = [c for c in ("III", "IV", "V", "VI") for _ in range(per_category)] + ["II"]
    for k, cat in enumerate(cats):
        seed = seed0 + k
        p = out / f"sep-{cat}-{seed}.svs"
        if not truth_paths(p)[1].exists():
            write_slide(p, cat, "pap" if k % 2 == 0 else "diffquik", (size_mm, size_mm), seed)
        paths.append(p)
    return paths


def _points_inside(poly, k: int, rng: np.random.Generator, margin: float) -> list[tuple[float, float]]:
    inner = poly.buffer(-margin)
    if inner.is_empty or inner.area < 1:
        inner = poly
    x0, y0, x1, y1 = inner.bounds
    pts: list[tuple[float, float]] = []
    for _ in range(200 * k):
        if len(pts) == k:
            break
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if inner.contains(Point(x, y)):
            pts.append((x, y))
    return pts or [tuple(poly.representative_point().coords[0])]


def cut_crops(paths: list[Path], per_group: int, seed: int, group0: int = 0) -> Crops:
    rng = np.random.default_rng(seed)
    hi, lo, fine, gid = [], [], [], []
    g = group0
    for p in paths:
        with open_slide(p) as s:
            hw = HI_PX * HI_MPP / s.mpp  # window side in level-0 px
            lw = LO_PX * LO_MPP / s.mpp
            for ann in load_annotations(truth_paths(p)[0]):
                if int(ann.properties["cell_count"]) < 15:
                    continue
                cx, cy = ann.geometry.centroid.coords[0]
                for x, y in _points_inside(ann.geometry, per_group, rng, margin=hw * 0.25):
                    hi.append(s.read_region(int(x - hw / 2), int(y - hw / 2), int(hw), int(hw), HI_MPP))
                    jx, jy = rng.uniform(-0.1, 0.1, 2) * lw
                    lo.append(s.read_region(int(cx + jx - lw / 2), int(cy + jy - lw / 2), int(lw), int(lw), LO_MPP))
                    fine.append(TBSRTC.fine_index(ann.label))
                    gid.append(g)
                g += 1
    return Crops(np.stack(hi), np.stack(lo), np.array(fine), np.array(gid))


class SmallCNN(nn.Module):
    """conv-bn-relu-pool blocks, global average pool, linear: enough to read nuclei, not to memorise."""

    def __init__(self, n_classes: int, blocks: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for i in range(blocks):
            w = width * (2 ** min(i, 2))
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255.0).sub(0.5).div(0.25)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(3)
    k = int(torch.randint(0, 4, (1,), generator=gen).item())
    x = torch.rot90(x, k, (2, 3))
    # stain / brightness jitter per image so the net cannot key on one slide's colours
    scale = 1 + 0.1 * torch.randn(x.shape[0], 3, 1, 1, generator=gen)
    shift = 0.1 * torch.randn(x.shape[0], 3, 1, 1, generator=gen)
    return x * scale + shift


def train_eval(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    y_te: np.ndarray,
    g_te: np.ndarray,
    n_classes: int,
    epochs: int,
    seed: int,
) -> dict:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    blocks = 4 if x_tr.shape[1] >= 64 else 3
    net = SmallCNN(n_classes, blocks)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * (len(x_tr) // 64 + 1))
    xt, yt = _tensor(x_tr), torch.from_numpy(y_tr).long()
    counts = np.bincount(y_tr, minlength=n_classes).astype(np.float64)
    w = torch.tensor((1.0 / np.maximum(counts, 1))[y_tr])  # class-balanced sampling
    for _ in range(epochs):
        net.train()
        idx = torch.multinomial(w, len(w), replacement=True, generator=gen)
        for b in range(0, len(idx), 64):
            j = idx[b : b + 64]
            loss = nn.functional.cross_entropy(net(_augment(xt[j], gen)), yt[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.inference_mode():
        xe = _tensor(x_te)
        p = torch.cat([net(xe[b : b + 256]).softmax(1) for b in range(0, len(xe), 256)]).numpy()
    crop_acc = float((p.argmax(1) == y_te).mean())
    groups = np.unique(g_te)
    gp = np.stack([p[g_te == g].mean(0) for g in groups])
    gy = np.array([y_te[g_te == g][0] for g in groups])
    pred = gp.argmax(1)
    conf = np.zeros((n_classes, n_classes), int)
    np.add.at(conf, (gy, pred), 1)
    per_class = [float(conf[i, i] / max(conf[i].sum(), 1)) for i in range(n_classes) if conf[i].sum()]
    return {
        "balanced_accuracy": float(np.mean(per_class)),
        "group_accuracy": float((pred == gy).mean()),
        "crop_accuracy": crop_acc,
        "n_groups": int(len(groups)),
        "confusion": conf.tolist(),
    }


@keeps_torch_state
def run(
    out: Path, per_category: int = 10, size_mm: float = 2.0, per_group: int = 6, epochs: int = 15, seed: int = 0
) -> dict:
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    train = make_slides(out, per_category, size_mm, TRAIN_SEED + 100 * seed)
    # as many test slides as training ones: with ~12 groups per class a single group moved balanced
    # accuracy by 1.5 points, too coarse a measure for a 0.90 / 0.70 target
    test = make_slides(out, per_category, size_mm, TEST_SEED + 100 * seed)
    t_gen = time.perf_counter() - t0
    tr = cut_crops(train, per_group, seed)
    te = cut_crops(test, per_group, seed + 1, group0=10**6)
    coarse = np.array([TBSRTC.coarse_index(TBSRTC.coarse_of(f)) for f in TBSRTC.fine])
    t1 = time.perf_counter()
    res = {
        "fine_high": train_eval(tr.hi, tr.fine, te.hi, te.fine, te.group, 5, epochs, seed),
        "fine_low": train_eval(tr.lo, tr.fine, te.lo, te.fine, te.group, 5, epochs, seed),
        "coarse_low": train_eval(tr.lo, coarse[tr.fine], te.lo, coarse[te.fine], te.group, 3, epochs, seed),
    }
    for key, (op, thr) in THRESHOLDS.items():
        acc = res[key]["balanced_accuracy"]
        res[key]["threshold"] = f"{op} {thr}"
        res[key]["pass"] = bool(acc >= thr if op == ">=" else acc <= thr)
    res["data"] = {
        "train_slides": len(train),
        "test_slides": len(test),
        "size_mm": size_mm,
        "train_groups_per_class": np.bincount(tr.fine[np.unique(tr.group, return_index=True)[1]], minlength=5).tolist(),
        "test_groups_per_class": np.bincount(te.fine[np.unique(te.group, return_index=True)[1]], minlength=5).tolist(),
        "crops_per_group": per_group,
        "hi": f"{HI_PX} px at {HI_MPP} um/px",
        "lo": f"{LO_PX} px at {LO_MPP} um/px",
    }
    res["seconds"] = {
        "generate": round(t_gen, 1),
        "train_eval": round(time.perf_counter() - t1, 1),
        "total": round(time.perf_counter() - t0, 1),
    }
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/separability"), help="slide cache folder")
    # 10: with 5, about 20 groups a class trained the high-power classifier to 0.88; with 10, 0.99
    ap.add_argument("--per-category", type=int, default=10)
    ap.add_argument("--size-mm", type=float, default=2.0)
    ap.add_argument("--per-group", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    res = run(a.out, a.per_category, a.size_mm, a.per_group, a.epochs, a.seed)
    for key in THRESHOLDS:
        r = res[key]
        print(
            f"{key:11s} balanced group acc {r['balanced_accuracy']:.3f} (plain {r['group_accuracy']:.3f}, crops "
            f"{r['crop_accuracy']:.3f}, {r['n_groups']} groups) target {r['threshold']}: "
            f"{'PASS' if r['pass'] else 'FAIL'}"
        )
    print(json.dumps(res["data"]), json.dumps(res["seconds"]))
    if a.json:
        atomic_write_text(a.json, json.dumps(res, indent=1))
    return 0 if all(res[k]["pass"] for k in THRESHOLDS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
