"""The severity queue: coarse grade first, then what stage 1 says of being worse than called."""

from __future__ import annotations

import pytest
from cascade_builders import make_region

from zoomgrade.cascade.regions import expected_severity, severity_order


def test_expected_severity_weights_each_coarse_grade_by_its_index():
    assert expected_severity(make_region(0, (1.0, 0.0, 0.0))) == 0.0
    assert expected_severity(make_region(0, (0.0, 0.0, 1.0))) == 2.0
    assert expected_severity(make_region(0, (0.5, 0.2, 0.3))) == pytest.approx(0.8)


def test_within_a_coarse_grade_the_likeliest_to_be_worse_is_read_first(labels):
    regions = [
        make_region(0, (0.95, 0.04, 0.01)),  # the surest benign
        make_region(1, (0.55, 0.05, 0.40)),  # benign-called, but 0.40 malignant
        make_region(2, (0.60, 0.30, 0.10)),
        make_region(3, (0.10, 0.75, 0.15)),  # suspicious-called
        make_region(4, (0.30, 0.20, 0.50)),  # malignant-called, unsure
        make_region(5, (0.02, 0.08, 0.90)),
    ]
    ids = [r.id for r in severity_order(regions, labels)]
    assert ids == [5, 4, 3, 1, 2, 0]


def test_ties_fall_to_the_larger_region_then_stage_1_order(labels):
    regions = [
        make_region(0, (0.8, 0.1, 0.1), area_um2=100.0),
        make_region(1, (0.8, 0.1, 0.1), area_um2=900.0),
        make_region(2, (0.8, 0.1, 0.1), area_um2=100.0),
    ]
    assert [r.id for r in severity_order(regions, labels)] == [1, 0, 2]
