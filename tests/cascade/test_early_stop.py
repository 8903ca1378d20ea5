"""The early stop's rule: a verdict only when no completion of the ungraded regions can change the slide rule's
category or adequacy (checked against the real slide rule on random completions)."""

import dataclasses

import numpy as np
import pytest
from cascade_builders import make_grade

from zoomgrade.cascade.config import AdequacyConfig, SlideRuleConfig
from zoomgrade.cascade.decision import assess_adequacy, pool_grade, resolved, slide_category
from zoomgrade.cascade.early_stop import Graded, Ungraded, decide
from zoomgrade.cascade.undergrade import Undergrade
from zoomgrade.labels import TBSRTC

FINE = TBSRTC.fine
POOLS = [TBSRTC.fine_index(pool_grade(f, TBSRTC)) for f in FINE]
TOP = len(FINE) - 1


def as_graded(g) -> Graded:
    p = np.asarray(g.fine_probs)
    return Graded(
        TBSRTC.fine_index(g.fine_grade), tuple(np.cumsum(p[::-1])[::-1]), g.region.est_cells, g.region.area_um2
    )


def random_grade(rng, top: int):
    k = int(rng.integers(0, top + 1))
    return make_grade(
        FINE[k],
        conf=float(rng.uniform(0.4, 0.99)),
        area_um2=float(rng.uniform(500, 6000)),
        est_cells=int(rng.integers(3, 40)),
    )


def complete(rng, ungraded, cells=None):
    """Grades for the ungraded regions, each within its reach (``cells``: their counts, else drawn)."""
    cells = [int(c) for c in rng.integers(3, 40, len(ungraded))] if cells is None else cells
    return [
        make_grade(
            FINE[int(rng.integers(0, u.reach + 1))],
            conf=float(rng.uniform(0.4, 0.99)),
            area_um2=u.area_um2,
            est_cells=c,
        )
        for u, c in zip(ungraded, cells)
    ]


def final(grades, rule, adq):
    a = assess_adequacy(grades, adq)
    return slide_category(grades, a, TBSRTC, rule).category, a.adequate


@pytest.mark.parametrize("seed", range(60))
def test_a_verdict_holds_for_every_completion(seed):
    """Random slides; the graded part and the reach of the rest random. With no under-grading allowed
    (rate 0), every completion that keeps each region within its reach must give the verdict."""
    rng = np.random.default_rng(seed)
    rule = resolved(SlideRuleConfig(min_pool_share={"IV": 0.3, "VI": 0.5} if seed % 2 else {}), TBSRTC)
    adq = AdequacyConfig()
    sev = int(rng.integers(0, TOP + 1))  # how severe this slide tends to be
    n = int(rng.integers(4, 40))
    graded = [random_grade(rng, sev) for _ in range(int(rng.integers(0, n)))]
    unread_area = rng.uniform(500, 6000, n - len(graded))
    reaches = rng.choice([0, 2, 4], len(unread_area), p=[0.7, 0.2, 0.1])
    ungraded = [Ungraded(int(r), float(a)) for r, a in zip(reaches, unread_area)]
    v = decide([as_graded(g) for g in graded], ungraded, FINE, POOLS, rule, adq, Undergrade({0: 0.0, 2: 0.0}))
    if v is None:
        return
    for _ in range(30):
        done = complete(rng, ungraded)
        cat, adequate = final(graded + done, rule, adq)
        assert adequate == v.adequate
        expect = FINE[v.category] if v.category is not None else (FINE[0] if adequate else TBSRTC.nondiagnostic)
        assert cat == expect, (v, cat)


@pytest.mark.parametrize("seed", range(40))
def test_a_verdict_holds_for_every_completion_with_as_many_groups_as_those_read_allow(seed):
    """As above, with the regions read saying how many of the unread are groups (``least_groups``): every
    completion in which at least that many of each reach are groups, and the one the cascade makes (stage 1's
    own estimates of the cells), must give the verdict."""
    rng = np.random.default_rng(1000 + seed)
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig()
    # mostly benign slides read in part, some with atypia or malignancy among the regions read; unread: many
    # benign-looking regions, a few suspicious-looking and malignant-looking ones (about half the seeds
    # reach a verdict, and on about half of those the floor is what lets them)
    top = int(rng.choice([0, 1, 4], p=[0.6, 0.2, 0.2]))
    graded = [random_grade(rng, top if rng.uniform() < 0.3 else 0) for _ in range(int(rng.integers(10, 40)))]
    reaches = [0] * int(rng.integers(20, 150)) + [2] * int(rng.integers(0, 6)) + [4] * int(rng.integers(0, 3))
    n = len(reaches)
    ungraded = [Ungraded(r, float(rng.uniform(500, 6000)), int(rng.integers(3, 40))) for r in reaches]
    read = int(rng.integers(5, 80))
    groups = {r: (read, int(rng.binomial(read, rng.uniform(0.5, 1.0)))) for r in (0, 2, 4)}
    under = Undergrade({0: 0.0, 2: 0.0}, groups=groups)
    v = decide([as_graded(g) for g in graded], ungraded, FINE, POOLS, rule, adq, under)
    if v is None:
        return
    floor = {}
    for r in (0, 2, 4):
        mine = [u for u in ungraded if u.reach == r]
        floor[r] = min(under.least_groups(len(mine), r), sum(u.est_cells >= rule.min_cells for u in mine))
    for trial in range(31):
        cells = [u.est_cells for u in ungraded]  # trial 0: the counts the unread regions keep
        if trial:
            cells = [int(c) for c in rng.integers(3, 40, n)]
            for r in (0, 2, 4):  # at least the floor of each reach are groups
                idx = [i for i, u in enumerate(ungraded) if u.reach == r]
                for i in rng.permutation(idx)[: floor[r]]:
                    cells[i] = int(rng.integers(rule.min_cells, 40))
        done = complete(rng, ungraded, cells)
        cat, adequate = final(graded + done, rule, adq)
        assert adequate == v.adequate
        expect = FINE[v.category] if v.category is not None else (FINE[0] if adequate else TBSRTC.nondiagnostic)
        assert cat == expect, (v, cat)


def test_the_groups_read_keep_the_share_out_of_reach():
    """A benign slide: 100 regions read, graded II; 400 benign-looking regions unread, enough of which stage 1
    may have under-graded that, were none of the others groups, atypia (5% of the gradable groups) could
    hold. The regions read were all groups, so most of the unread are: benign."""
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig()
    graded = [as_graded(make_grade("II", conf=0.9)) for _ in range(100)]
    unread = [Ungraded(0, 3000.0, est_cells=25)] * 400
    alone = Undergrade({0: 0.02})  # the 0.999 quantile of Binomial(400, 0.02): 17 surprises, 17 / 117 > 0.05
    assert decide(graded, unread, FINE, POOLS, rule, adq, alone) is None
    sampled = dataclasses.replace(alone, groups={0: (100, 100)})
    v = decide(graded, unread, FINE, POOLS, rule, adq, sampled)
    assert v is not None and v.category is None and v.adequate and "gradable groups as of those read" in v.reason
    # stage 1's own estimates make them too small to be groups: the counts they would keep allow no floor
    small = [Ungraded(0, 3000.0, est_cells=5)] * 400
    assert decide(graded, small, FINE, POOLS, rule, adq, sampled) is None
    # regions awaiting the fallback are no sample of the unread: they add nothing to the floor
    pending = [Ungraded(0, 3000.0, est_cells=25, awaiting=True)] * 400
    assert decide(graded, pending, FINE, POOLS, rule, adq, sampled) is None


def test_regions_that_become_vi_evidence_join_the_v_pool():
    """A V slide: 40 regions graded V, 10 VI (VI needs 0.35 of the V-or-worse evidence), 10 malignant-looking
    regions unread. Were all 10 VI, they would be 20 of 60 in the pool, not 20 of 50: VI cannot hold, V
    must. Where the pool asks more confidence than VI evidence has, a VI region need not join it."""
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig()
    graded = [as_graded(make_grade("V", conf=0.9)) for _ in range(40)]
    graded += [as_graded(make_grade("VI", conf=0.9)) for _ in range(10)]
    unread = [Ungraded(TOP, 3000.0, est_cells=25)] * 10
    v = decide(graded, unread, FINE, POOLS, rule, adq, Undergrade({0: 0.0, 2: 0.0}))
    assert v is not None and FINE[v.category] == "V"
    # the pool asks P(V or worse) >= 0.95, which the VI regions (0.925) lack: 4 more VI would make 14 of a
    # pool of 40, VI's share exactly
    stricter = resolved(SlideRuleConfig(min_confidence={"V": 0.95}), TBSRTC)
    graded_sure = [dataclasses.replace(g, p_at_least=(1.0, 1.0, 1.0, 0.97, 0.0)) for g in graded[:40]]
    four = unread[:4]
    assert decide(graded_sure + graded[40:], four, FINE, POOLS, stricter, adq, Undergrade({0: 0.0})) is None
    assert decide(graded, four, FINE, POOLS, rule, adq, Undergrade({0: 0.0})) is not None  # 14 of 54


def test_a_malignant_slide_stops_before_its_benign_regions():
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig()
    graded = [as_graded(make_grade("VI", conf=0.9)) for _ in range(30)]
    benign_unread = [Ungraded(0, 3000.0)] * 200
    v = decide(graded, benign_unread, FINE, POOLS, rule, adq, Undergrade({0: 0.02}))
    assert v is not None and FINE[v.category] == "VI" and v.adequate
    # stage 1 unmeasured (no rate): every benign-looking region might be V, and 30 VI regions could then
    # be fewer than the share of the V-or-worse pool that VI needs (min_pool_share): reading goes on
    assert decide(graded, benign_unread, FINE, POOLS, rule, adq, Undergrade({})) is None


def test_under_grading_keeps_a_benign_slide_reading():
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig()
    graded = [as_graded(make_grade("II", conf=0.9)) for _ in range(20)]
    unread = [Ungraded(0, 3000.0)] * 100
    # 5% of 100 benign-looking regions might be III or worse: more than the 6 a slide of 120 groups needs
    assert decide(graded, unread, FINE, POOLS, rule, adq, Undergrade({0: 0.05})) is None
    # with stage 1 never under-grading, nothing unread can make atypia: benign, adequate
    v = decide(graded, unread, FINE, POOLS, rule, adq, Undergrade({0: 0.0}))
    assert v is not None and v.category is None and v.adequate


def test_adequacy_must_be_settled():
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig(min_groups=6, min_cells=10)
    graded = [as_graded(make_grade("II", est_cells=12)) for _ in range(4)]
    never = Undergrade({0: 0.0})
    assert decide(graded, [Ungraded(0, 800.0)] * 3, FINE, POOLS, rule, adq, never) is None  # 4 + up to 3
    v = decide(graded, [Ungraded(0, 800.0)], FINE, POOLS, rule, adq, never)
    assert v is not None and not v.adequate and v.category is None  # 4 + at most 1 < 6: nondiagnostic


@pytest.mark.parametrize("seed", range(60))
def test_a_verdict_holds_whatever_the_unsettled_counts_are(seed):
    """Regions read once only recall was open keep a count scaled up from fewer windows, unsettled
    (``Graded.settled``): should the rule be asked again, every completion that also gives those regions
    any count must give the verdict."""
    rng = np.random.default_rng(3000 + seed)
    rule = resolved(SlideRuleConfig(min_pool_share={"IV": 0.3, "VI": 0.5} if seed % 2 else {}), TBSRTC)
    adq = AdequacyConfig()
    sev = int(rng.integers(0, TOP + 1))
    graded = [random_grade(rng, sev) for _ in range(int(rng.integers(4, 40)))]
    unsettled = rng.uniform(size=len(graded)) < 0.3
    known = [dataclasses.replace(as_graded(g), settled=not u) for g, u in zip(graded, unsettled)]
    reaches = rng.choice([0, 2, 4], int(rng.integers(0, 12)), p=[0.7, 0.2, 0.1])
    ungraded = [Ungraded(int(r), float(rng.uniform(500, 6000))) for r in reaches]
    v = decide(known, ungraded, FINE, POOLS, rule, adq, Undergrade({0: 0.0, 2: 0.0}))
    if v is None:
        return
    for _ in range(30):
        recounted = [
            dataclasses.replace(g, region=dataclasses.replace(g.region, est_cells=int(rng.integers(3, 40)))) if u else g
            for g, u in zip(graded, unsettled)
        ]
        done = complete(rng, ungraded)
        cat, adequate = final(recounted + done, rule, adq)
        assert adequate == v.adequate
        expect = FINE[v.category] if v.category is not None else (FINE[0] if adequate else TBSRTC.nondiagnostic)
        assert cat == expect, (v, cat)


def test_an_unsettled_count_settles_nothing():
    """Five groups counted adequate and one whose count was only scaled past the threshold: adequacy is
    open, as is the category where the unsettled region may or may not be one of the groups it needs."""
    rule, adq = resolved(SlideRuleConfig(), TBSRTC), AdequacyConfig(min_groups=6, min_cells=10)
    never = Undergrade({0: 0.0})
    five = [as_graded(make_grade("II", est_cells=12)) for _ in range(5)]
    sixth = as_graded(make_grade("II", est_cells=12))
    assert decide([*five, sixth], [], FINE, POOLS, rule, adq, never) is not None
    assert decide([*five, dataclasses.replace(sixth, settled=False)], [], FINE, POOLS, rule, adq, never) is None
    # a benign slide of 40 groups and two atypical regions: as groups they would be 2 of 40 (5% needs 2)
    benign = [as_graded(make_grade("II", est_cells=30)) for _ in range(38)]
    atypia = [as_graded(make_grade("III", conf=0.9, est_cells=8)) for _ in range(2)]
    v = decide(benign + atypia, [], FINE, POOLS, rule, adq, never)
    assert v is not None and v.category is None  # counted, they are too small to be evidence
    loose = [dataclasses.replace(a, settled=False) for a in atypia]
    assert decide(benign + loose, [], FINE, POOLS, rule, adq, never) is None
