"""What the early stop's priors are fitted to: a slide read in full, counted per coarse grade."""

from __future__ import annotations

from zoomgrade.evaluation.stop_counts import slide_counts, undergrade_counts
from zoomgrade.labels import TBSRTC


def test_counts_of_a_slide_read_in_full(synth_slide):
    from zoomgrade.cascade import grade
    from zoomgrade.models.folder import load_default_models

    models = load_default_models("cpu")
    result = grade(synth_slide("VI"), {"early_stop": {"enabled": False}}, models=models)
    counts = slide_counts(result, TBSRTC)
    assert counts and set(counts) <= {"benign", "suspicious_follicular"}  # never the most severe coarse grade
    for c, (m, k) in counts.items():
        regions = [g for g in result.regions if g.region.coarse_grade == c]
        assert m == len(regions) and k == sum(g.fine_grade in ("V", "VI") for g in regions)
    from zoomgrade.evaluation.stop_fit import fit

    priors = fit([{"counts": counts}, {"counts": {"benign": (40, 0)}}, {"counts": {"benign": (30, 3)}}], min_slides=1)
    assert set(priors) <= set(counts) and all(x > 1e-6 for ab in priors.values() for x in ab)

    # the under-grade counts are the slide rule's own evidence (decision.evidence), per more severe coarse grade
    from zoomgrade.cascade.config import default_config
    from zoomgrade.cascade.decision import evidence, resolved

    cfg = default_config().slide_rule
    rule = resolved(cfg, TBSRTC)
    under = undergrade_counts(result, TBSRTC, cfg)
    assert set(under) == set(counts)
    for c, table in under.items():
        regs = [g for g in result.regions if g.region.coarse_grade == c]
        assert set(table) == set(TBSRTC.coarse[TBSRTC.coarse_index(c) + 1 :])
        for t, (j, e) in table.items():
            hit = {
                id(g)
                for f in TBSRTC.coarse_to_fine[t]
                for g, _ in evidence(regs, f, TBSRTC, rule.min_confidence[f], rule.min_cells)
            }
            assert j == len(regs) and e == len(hit)
