"""How many unread regions the early stop must allow to be surprises: under-graded by stage 1.

An unread region keeps its stage-1 coarse grade, whose *reach* is its most severe fine grade. It can only
become evidence for a category ``k`` above its reach if high power would grade it higher than stage 1 did.
Of ``n`` such regions, ``Undergrade.most`` counts at most:

- the ``confidence`` quantile of Binomial(n, rate), ``rate`` the lower of the worst share measured on
  validation slides (``early_stop.undergrade``, per coarse grade) and the Clopper-Pearson bound at
  ``confidence`` of the share this slide's own regions of that reach read so far showed (regions of one
  coarse grade are read in no order of their high-power grade, so the ones read are a sample of the rest);
- where the validation slides gave a prior for the pair (source coarse grade, target coarse grade)
  (``early_stop.undergrade_prior``: Beta(a, b), how the share of the source's regions that are evidence for
  any category of the target varies from slide to slide, fitted as a beta-binomial), also the
  ``confidence`` quantile of the posterior predictive BetaBinomial(n, a + e, b + j - e) after ``e`` of the
  slide's ``j`` such regions read were; the lower count is used. The validation slides' spread (none on
  most slides, a share on a few) says that a slide whose regions read show none is unlikely to be one of
  the few. Evidence for ``k`` is evidence for some category of ``k``'s coarse grade, so the target's share
  bounds every category in it.

The share a category needs is of the slide's gradable groups, so the fewer of the unread regions are groups
the easier it is to reach. ``Undergrade.least_groups`` bounds that from below the same way: of ``n`` unread
regions of a reach, at least the ``1 - confidence`` quantile of the posterior predictive of the share of
that reach's regions read that were groups of ``min_cells`` cells (a region dismissed for too few nuclei
read as none).

Indices are the label set's (fine: 0 = least severe; coarse likewise); pure functions of counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln, gammaln

from ..labels import LabelSet
from .config import EarlyStopConfig, SlideRuleConfig
from .measured import table
from .quantiles import beta_ppf, binom_ppf


@dataclass(frozen=True)
class Undergrade:
    """The allowance for surprises (module docstring). Keys: (reach, k) for ``seen``; (reach, target coarse
    index) for ``priors`` and ``seen_coarse``; ``coarse_of[k]``: the coarse index of fine grade ``k``."""

    rates: dict[int, float]  # reach -> upper bound on P(graded above it at high power); none: 1
    confidence: float = 0.999
    seen: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (reach, k) -> (graded, evidence)
    priors: Mapping[tuple[int, int], tuple[float, float]] = field(default_factory=dict)
    seen_coarse: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    coarse_of: tuple[int, ...] = ()
    groups: dict[int, tuple[int, int]] = field(default_factory=dict)  # reach -> (read, gradable groups)

    def rate(self, reach: int, k: int) -> float:
        cap = self.rates.get(reach, 1.0)
        j, e = self.seen.get((reach, k), (0, 0))
        if j > e:
            cap = min(cap, beta_ppf(self.confidence, e + 1, j - e))
        return cap

    def most(self, n: int, reach: int, k: int) -> int:
        if n <= 0:
            return 0
        if reach >= k:
            return n
        rate = self.rate(reach, k)
        if rate <= 0:
            return 0
        m = n if rate >= 1 else min(n, binom_ppf(self.confidence, n, rate))
        key = (reach, self.coarse_of[k] if k < len(self.coarse_of) else -1)
        prior = self.priors.get(key)
        if prior is not None and m > 0:
            j, e = self.seen_coarse.get(key, (0, 0))
            m = min(m, betabinom_ppf(self.confidence, n, prior[0] + e, prior[1] + j - e))
        return m

    def least_groups(self, n: int, reach: int) -> int:
        """At least how many of ``n`` unread regions of this reach are gradable groups: the ``1 - confidence``
        quantile of the posterior predictive BetaBinomial(n, g + 1, j - g + 1) after ``g`` of the slide's ``j``
        regions of that reach read were (a uniform prior: the slide alone). None read: 0, none assumed."""
        j, g = self.groups.get(reach, (0, 0))
        if n <= 0 or g <= 0:
            return 0
        return betabinom_ppf(1.0 - self.confidence, n, g + 1.0, j - g + 1.0)


def betabinom_ppf(q: float, n: int, a: float, b: float) -> int:
    """The ``q`` quantile of BetaBinomial(n, a, b): the least x with P(X <= x) >= q. Written out because
    scipy's ``betabinom.ppf`` searches its cdf point by point (0.14-0.31 ms a call for n = 10-700 on the
    2-core VM, and the rule asks a few dozen times per model batch); this sums the pmf over 0..n at once."""
    x = np.arange(n + 1, dtype=np.float64)
    logpmf = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1) + betaln(x + a, n - x + b) - betaln(a, b)
    cdf = np.cumsum(np.exp(logpmf))
    return int(min(n, np.searchsorted(cdf, q * cdf[-1])))  # normalised by cdf[-1]: rounding, not mass


def reach_of(coarse: str, labels: LabelSet) -> int:
    return labels.fine_index(labels.coarse_to_fine[coarse][-1])


def coarse_indices(labels: LabelSet) -> tuple[int, ...]:
    """Fine index -> its coarse grade's index."""
    return tuple(labels.coarse_index(labels.coarse_of(f)) for f in labels.fine)


def undergrade_from_config(cfg: EarlyStopConfig, labels: LabelSet) -> Undergrade:
    """The config's rates and priors (keyed by coarse grade names; "models" not resolved: none) in the label
    set's indices; names the label set lacks are left out, as are priors whose target is not more severe."""
    rates = {reach_of(c, labels): float(r) for c, r in table(cfg.undergrade).items() if c in labels.coarse}
    priors = {
        (reach_of(c, labels), labels.coarse_index(t)): (float(ab[0]), float(ab[1]))
        for c, targets in table(cfg.undergrade_prior).items()
        if c in labels.coarse
        for t, ab in targets.items()
        if t in labels.coarse and labels.coarse_index(t) > labels.coarse_index(c)
    }
    return Undergrade(rates, cfg.confidence, priors=priors, coarse_of=coarse_indices(labels))


def p_at_least(fine_probs: Sequence[float] | np.ndarray) -> tuple[float, ...]:
    """P(grade index >= k) for k = 0 .. n_fine - 1, from a region's fine-grade probabilities."""
    p = np.asarray(fine_probs, dtype=np.float64)
    return tuple(float(x) for x in np.cumsum(p[::-1])[::-1])


def is_evidence(
    k: int,
    severity: int,
    at_least: Sequence[float] | np.ndarray,
    cells: int,
    rule: SlideRuleConfig,
    fine: Sequence[str],
) -> bool:
    """A graded region is evidence for category ``k`` (the rule's test, ``decision.evidence``, in indices):
    graded at least ``k`` with enough confidence, and a group of enough cells. ``rule``: a resolved one."""
    return bool(severity >= k and at_least[k] >= rule.min_confidence.get(fine[k], 0.5) and cells >= rule.min_cells)


def surprises(
    reach: int,
    severity: int,
    at_least: Sequence[float] | np.ndarray,
    cells: int,
    rule: SlideRuleConfig,
    fine: Sequence[str],
    coarse_of: Sequence[int],
) -> tuple[dict[int, bool], dict[int, bool]]:
    """For a graded region of stage-1 reach ``reach``: whether it is evidence for each category above the
    reach, and for any category of each coarse grade above it (what ``Undergrade`` tallies per slide)."""
    by_k = {k: is_evidence(k, severity, at_least, cells, rule, fine) for k in range(reach + 1, len(fine))}
    by_coarse: dict[int, bool] = {}
    for k, ev in by_k.items():
        by_coarse[coarse_of[k]] = by_coarse.get(coarse_of[k], False) or ev
    return by_k, by_coarse


__all__ = [
    "Undergrade",
    "betabinom_ppf",
    "coarse_indices",
    "is_evidence",
    "p_at_least",
    "reach_of",
    "surprises",
    "undergrade_from_config",
]
