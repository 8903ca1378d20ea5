"""The early stop's defaults that are measurements, not choices: how the shipped models' stage 1 under-grades
on the validation slides (``early_stop.undergrade``, ``undergrade_prior``) and how many severe groups its
less severe calls hold (``recall_prior``). default.toml says where each figure comes from. They describe the
shipped models: with others, fit them on the lab's own validation slides (``python -m
zoomgrade.bench.recall_prior``, docs/train-your-own.md)."""

from __future__ import annotations

UNDERGRADE = {"benign": 0.5, "suspicious_follicular": 0.4}
RECALL_PRIOR = {"benign": (0.26, 2.68), "suspicious_follicular": (0.07, 0.10)}
UNDERGRADE_PRIOR = {
    "benign": {"suspicious_follicular": (0.868, 3.91), "malignant": (0.277, 3.15)},
    "suspicious_follicular": {"malignant": (0.109, 0.197)},
}


def undergrade() -> dict[str, float]:
    return dict(UNDERGRADE)


def recall_prior() -> dict[str, tuple[float, float]]:
    return dict(RECALL_PRIOR)


def undergrade_prior() -> dict[str, dict[str, tuple[float, float]]]:
    return {c: dict(t) for c, t in UNDERGRADE_PRIOR.items()}
