"""Whatever the input, a valid SlideResult (category I where nothing adequate is found), never a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zoomgrade.bench.slide_io import write_aperio_from_array
from zoomgrade.cascade import grade
from zoomgrade.cascade.config import GradeConfig
from zoomgrade.outputs.schema import SCHEMA_VERSION, validate_result_dict
from zoomgrade.types import SlideResult

# Keep untrained networks (which may call a whole slide one region) quick: few windows per region.
FAST = GradeConfig()
FAST.stage2.max_windows_per_region = 6


def check_valid(r: SlideResult) -> None:
    assert isinstance(r, SlideResult)
    doc = json.loads(json.dumps(r.to_dict()))  # as result.json holds it (tuples become lists)
    doc["schema_version"] = SCHEMA_VERSION
    assert validate_result_dict(doc) == []
    if r.status == "graded":
        assert r.category in ("I", "II", "III", "IV", "V", "VI")
    else:  # withheld (zoomgrade.qc): no category, and the reasons
        assert r.status == "withheld" and r.category is None and r.withheld_reasons
    assert sum(r.counts.values()) == len(r.regions)
    assert r.cost.wall_seconds > 0


def test_all_background_slide(tmp_path, any_models):
    rng = np.random.default_rng(1_000_100)
    img = (245 + rng.integers(0, 8, (1024, 1024, 3))).clip(0, 255).astype(np.uint8)
    path = tmp_path / "blank.svs"
    write_aperio_from_array(path, img, tile=256, step=4, n_levels=3, mpp=0.25, mag=40)
    r = grade(path, FAST, mode="both", models=any_models)
    check_valid(r)
    ex = r.comparison["exhaustive"]
    assert ex["cost"]["stages"].get("exhaustive_read", {}).get("tiles", 0) == 0  # mask: nothing to tile
    # blank glass is withheld ("unstained or empty") where the gate runs, category I where it does not
    assert r.category == "I" or r.withheld
    assert ex["category"] == "I" or r.withheld


def test_flat_png_with_mpp(tmp_path, any_models):
    rng = np.random.default_rng(1_000_101)
    img = np.full((600, 800, 3), 240, np.uint8)
    img[200:320, 300:460] = rng.integers(60, 140, (120, 160, 3))
    path = tmp_path / "field.png"
    Image.fromarray(img).save(path)
    r = grade(path, FAST, mode="both", mpp=0.5, models=any_models)
    check_valid(r)
    assert r.slide.mpp_source == "caller" and r.slide.mpp == 0.5


def test_tiny_16px_svs(real, any_models):
    r = grade(real / "tiny-16px.svs", FAST, mode="both", models=any_models)
    check_valid(r)
    assert not r.adequacy.adequate
    assert r.withheld and any(w.startswith("extent") for w in r.withheld_reasons)  # 8 um: no window fits


@pytest.mark.parametrize(
    ("name", "mpp"),
    [
        ("CMU-1-small-region.svs", None),
        ("fluorescence-DAPI.ndpi", None),
        ("camelyon-lowres.dcm", None),
        ("boxes-generic.tiff", 0.5),
        ("kidney-flat.tif", 0.5),
    ],
)
def test_every_real_slide(real, any_models, name, mpp):
    cfg = GradeConfig()
    cfg.stage2.max_windows_per_region = 6
    cfg.fallback.enabled = False  # keeps untrained networks quick; the fallback has its own tests
    r = grade(real / name, cfg, mpp=mpp, models=any_models)
    check_valid(r)
    if r.status == "graded" and not r.adequacy.adequate and not any(g.fine_grade != "II" for g in r.regions):
        assert r.category == "I"
