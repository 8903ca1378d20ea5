"""95% intervals of the headline figures, each by the method that suits it.

A proportion over slides (slide accuracy, malignant-side sensitivity, nondiagnostic rate) gets the exact
binomial (Clopper-Pearson) interval of scipy: a percentile bootstrap of k of n collapses to [1, 1] when every
slide is right (every resample is then all right too), which claims a certainty four slides cannot give.
Figures that are not a count over slides (region macro-F1, weighted kappa, calibration error) keep the
percentile bootstrap over slides, slides being the independent units.
"""

from __future__ import annotations

from typing import Any

from scipy.stats import binomtest

from ..labels import LabelSet
from . import metrics
from .run import SlideRecord

LEVEL = 0.95
EXACT = "exact binomial (Clopper-Pearson)"
BOOTSTRAP = "percentile bootstrap over slides"
#: headline figure -> (numerator, denominator) keys of slide_metrics' counts
PROPORTIONS = {
    "slide_accuracy": ("correct", "n"),
    "malignant_sensitivity": ("malignant_called", "malignant_n"),
    "nondiagnostic_rate": ("nondiagnostic", "n_graded"),
}
BOOTSTRAPPED = ("region_macro_f1", "region_qwk", "ece")


def proportion_interval(k: int, n: int, level: float = LEVEL) -> dict[str, Any]:
    """The exact binomial interval of k successes in n trials (none when n is 0)."""
    if n <= 0:
        return {"lo": None, "hi": None, "k": k, "n": n, "method": EXACT}
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return {"lo": float(ci.low), "hi": float(ci.high), "k": k, "n": n, "method": EXACT}


def intervals(
    records: list[SlideRecord], mode: str, labels: LabelSet, n_boot: int = metrics.BOOTSTRAP, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Every headline figure's interval (plus the nondiagnostic rate's), with the method named in each."""
    counts = metrics.slide_metrics(records, mode, labels)["counts"]
    out = {k: proportion_interval(counts[num], counts[den]) for k, (num, den) in PROPORTIONS.items()}
    boot = metrics.bootstrap(records, mode, labels, n=n_boot, seed=seed, keys=BOOTSTRAPPED)
    out.update({k: {**boot[k], "method": BOOTSTRAP} for k in BOOTSTRAPPED})
    return out


def methods() -> dict[str, Any]:
    """What eval.json says about its intervals."""
    return {
        "level": LEVEL,
        "proportions": {
            "figures": list(PROPORTIONS),
            "method": EXACT,
            "by": "scipy.stats.binomtest(k, n).proportion_ci(method='exact')",
        },
        "other": {"figures": list(BOOTSTRAPPED), "method": BOOTSTRAP, "resamples": metrics.BOOTSTRAP},
    }
