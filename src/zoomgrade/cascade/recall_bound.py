"""The early stop's recall bound: reading may stop only when the unread regions could hold at most a small
share of the slide's most severe groups.

A region left unread keeps its stage-1 grade. One stage 1 called in the label set's most severe coarse
grade (TBSRTC: malignant, V and VI) keeps a grade in it and stays marked; one stage 1 called less severe
stays unmarked whatever it is. Stage 1's own malignant probability is no measure of how many of those are
severe: on the validation slides it is not calibrated and its error depends on the slide (benign-called
regions: 0 of 104 severe on I-IV slides with a mean probability of 0.14, 22-32% severe on V and VI slides
with a mean of 0.08-0.15). The slide's own reading is: within a coarse grade regions are read in bands
across the slide, in no order of their high-power grade, so those read are a sample of those left.

For each less severe coarse grade with ``n`` unread regions, of which ``j`` have been read and ``e`` of
those graded in the most severe coarse grade, the expected number of severe groups among the unread is at
most ``n * rate``, ``rate`` an upper bound at ``confidence`` on the grade's severe share on this slide:

- with a prior for the grade (``early_stop.recall_prior``: Beta(a, b), the spread of that share across the
  validation slides, fitted to them as a beta-binomial), the ``confidence`` quantile of the posterior
  Beta(a + e, b + j - e). The slides seen in validation say how the share varies from slide to slide (none
  at all on most, a fifth to a half on V and VI slides), so a slide whose regions read show none soon
  becomes unlikely to be one of those; the bound is then as good as the validation slides are like it.
- without one, the Clopper-Pearson upper bound of ``e / j`` (1 before any is read): the slide alone.

With ``found`` the regions marked severe (read and graded so, or unread and called so), and
``unread`` the sum of those bounds, the bound holds when

    unread <= max((1 - target) * (found + unread), slack)

i.e. the expected recall of the severe groups is at least ``target``, or at most ``slack`` severe groups are
expected unread (a slide with few or none found: the share alone would make it read everything).

Pure functions of counts, in coarse indices of the label set (0 = least severe); no slide and no model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .quantiles import beta_ppf

#: What a bound's description adds when it used the validation slides' prior (here and in ``early_stop``).
GIVEN_PRIOR = ", given the validation slides' prior"


@dataclass(frozen=True)
class RecallTarget:
    """``early_stop.recall``, ``recall_confidence``, ``recall_slack``, ``recall_prior`` (by coarse index);
    target 0 = no recall bound."""

    target: float
    confidence: float = 0.9
    slack: float = 1.0
    priors: Mapping[int, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecallCheck:
    found: int  # regions marked in the most severe coarse grade (graded so, or unread and called so)
    unread_bound: float  # upper bound on the expected severe groups among the unread regions
    holds: bool

    def describe(self, target: RecallTarget, severe: str) -> str:
        prior = GIVEN_PRIOR if target.priors else ""
        return (
            f"at most {self.unread_bound:.1f} {severe} groups expected among the unread regions against "
            f"{self.found} found (recall target {target.target:g}, or at most {target.slack:g} unread; the "
            f"severe share of each coarse grade bounded at the {target.confidence:g} quantile from the regions "
            f"read{prior})"
        )


def rate_bound(read: int, severe: int, confidence: float, prior: tuple[float, float] | None = None) -> float:
    """Upper bound on the share of severe groups among regions like ``read`` ones, ``severe`` of them severe:
    the posterior quantile given ``prior`` (Beta(a, b)), else Clopper-Pearson."""
    if prior is not None:
        a, b = prior
        return beta_ppf(confidence, a + severe, b + max(read - severe, 0))
    if read <= 0 or severe >= read:
        return 1.0
    return beta_ppf(confidence, severe + 1, read - severe)


def unread_bound(
    unread: Mapping[int, int],
    seen: Mapping[int, tuple[int, int]],
    confidence: float,
    priors: Mapping[int, tuple[float, float]] | None = None,
) -> float:
    """Upper bound on the expected severe groups among ``unread`` (coarse index -> unread regions of it),
    from ``seen`` (coarse index -> (regions read, graded severe)) and ``priors`` (coarse index -> Beta(a, b)).
    Only less severe coarse grades belong in ``unread``: the most severe one's unread regions stay marked."""
    total = 0.0
    for c, n in unread.items():
        if n > 0:
            j, e = seen.get(c, (0, 0))
            total += n * rate_bound(j, e, confidence, (priors or {}).get(c))
    return total


def recall_check(
    found: int, unread: Mapping[int, int], seen: Mapping[int, tuple[int, int]], t: RecallTarget
) -> RecallCheck:
    """Whether reading may stop as far as the recall target goes (always, with target 0)."""
    if t.target <= 0:
        return RecallCheck(found, 0.0, True)
    u = unread_bound(unread, seen, t.confidence, t.priors)
    return RecallCheck(found, u, u <= max((1.0 - t.target) * (found + u), t.slack))


__all__ = ["RecallCheck", "RecallTarget", "rate_bound", "recall_check", "unread_bound"]
