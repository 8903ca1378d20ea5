"""zoomgrade bench: scoring against truth, the low-power map, and a small end-to-end run through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from zoomgrade.annotations import Annotation
from zoomgrade.bench import ablation as ab
from zoomgrade.labels import TBSRTC
from zoomgrade.types import Region, RegionGrade


def _grade(rid: int, poly, fine: str) -> RegionGrade:
    region = Region(
        id=rid,
        polygon=poly,
        coarse_probs=np.array([0.2, 0.3, 0.5]),
        coarse_grade="malignant",
        confidence=0.5,
        area_um2=float(poly.area),
        est_cells=10,
    )
    probs = np.full(5, 0.1)
    probs[TBSRTC.fine_index(fine)] = 0.6
    return RegionGrade(
        region=region,
        fine_grade=fine,
        confidence=0.6,
        fine_probs=probs,
        stage2_probs=probs,
        decided_by="stage2",
        order=rid,
    )


def test_score_regions_matches_by_overlap() -> None:
    groups = [
        Annotation(box(0, 0, 10, 10), "V"),
        Annotation(box(100, 100, 110, 110), "II"),
        Annotation(box(200, 200, 210, 210), "VI"),
    ]
    regions = [
        _grade(0, box(5, 5, 40, 40), "II"),
        _grade(1, box(-5, -5, 8, 8), "VI"),  # group V: VI overlaps most
        _grade(2, box(100, 100, 105, 105), "II"),
        _grade(3, box(500, 500, 520, 520), "IV"),
    ]
    sc = ab.score_regions(groups, regions, TBSRTC)
    assert sc.pairs == [("V", "VI"), ("II", "II"), ("VI", ab.MISSED), (ab.NONE, "IV")]
    assert sc.vvi_recalled == [True, False]
    f1 = ab.f1_per_class(sc.pairs, TBSRTC.fine)
    # region 0 overlaps group V (less than region 1 does): neither its match nor a false alarm
    assert f1 == {"II": 1.0, "III": None, "IV": 0.0, "V": 0.0, "VI": 0.0}
    assert ab.macro_f1(sc.pairs, TBSRTC.fine) == pytest.approx(0.25)
    assert ab.relative_recall([True, False, False], [True, True, False]) == 0.5
    # stage 1's recall as the result shows it: the VI group no region overlaps is the one missed
    assert ab.groups_found(sc.pairs) == {"groups": 3, "groups_found": pytest.approx(2 / 3)}
    assert ab.groups_found([]) == {"groups": 0, "groups_found": None}


def test_warm_up_runs_both_models_and_one_nuclear_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # The count's compiled steps load on their first call: the bench's first slide must not pay for it.
    from zoomgrade.bench import run as bench_run
    from zoomgrade.bench.machine import load_models
    from zoomgrade.cascade.config import AdequacyConfig

    real, seen = bench_run.count_cells, []

    def counting(img: np.ndarray, mpp: float, cfg: AdequacyConfig) -> int:
        seen.append((img.shape, mpp))
        return real(img, mpp, cfg)

    monkeypatch.setattr(bench_run, "count_cells", counting)
    s1, s2 = load_models(None, 1)
    stage1_in: list[tuple[int, ...]] = []
    predict = s1.predict
    monkeypatch.setattr(s1, "predict", lambda img: (stage1_in.append(img.shape), predict(img))[1])
    assert bench_run.warm_up(s1, s2, 128, 4, 0.5, AdequacyConfig(), stage1_px=320) > 0
    assert seen == [((128, 128, 3), 0.5)]
    # stage 1 at the slides' thumbnail size: ONNX Runtime's arena is grown before the first slide is timed
    assert stage1_in == [(320, 320, 3)]


def test_stage1_warm_up_takes_the_largest_thumbnail(synth_slide, tmp_path: Path) -> None:
    from zoomgrade.bench.run import stage1_side
    from zoomgrade.slide import open_slide

    small, large = synth_slide("II", size_mm=(1.0, 1.0)), synth_slide("IV", size_mm=(2.0, 1.5))
    with open_slide(large) as sl:
        expect = round(max(sl.dimensions) * sl.mpp / 8.0)
    assert expect > 200  # 2 mm at 8 um/px
    bad = tmp_path / "not-a-slide.svs"
    bad.write_bytes(b"no slide here")

    class Runner:
        window = 10_000

    assert stage1_side([small, bad, large], 8.0, Runner()) == expect
    Runner.window = 128  # larger thumbnails run in windows of this side: the arena grows to a window
    assert stage1_side([small, large], 8.0, Runner()) == 128
    assert stage1_side([bad], 8.0, Runner()) == 128  # nothing opens: the default, within the window


def test_low_power_maps() -> None:
    groups = [Annotation(box(0, 0, 1, 1), g) for g in ("V", "VI", "VI", "VI", "II")]
    best = ab.best_constant_map(groups, TBSRTC)
    assert best == {"benign": "II", "suspicious_follicular": "III", "malignant": "VI"}
    assert ab.product_map(TBSRTC)["malignant"] == "V"
    r = _grade(0, box(0, 0, 10, 10), "II").region
    (g,) = ab.low_power_grades([r], best, TBSRTC)
    assert g.fine_grade == "VI" and g.confidence == pytest.approx(0.5)
    assert g.fine_probs.sum() == pytest.approx(1.0)


def _untrained_weights(d: Path) -> Path:
    """Real networks, freshly initialised (fixed seed), saved with cards: the bench runs every path with them."""
    import torch

    from zoomgrade.models.card import ModelCard
    from zoomgrade.models.stage1 import Stage1Config, Stage1Net
    from zoomgrade.models.stage2 import Stage2Config, Stage2Net
    from zoomgrade.models.weights_file import save_model

    torch.manual_seed(0)
    # Small widths: the test exercises every path of the bench, not the networks' speed.
    c1 = Stage1Config(widths=(8, 8, 16, 16), attn_dim=16, attn_heads=2, fuse_dim=8)
    c2 = Stage2Config(stem=8, widths=(8, 8, 16, 16), fpn_dim=8)
    save_model(
        Stage1Net(c1),
        ModelCard(
            name="stage1",
            version="untrained",
            architecture="Stage1Net",
            hyperparameters=c1.to_dict(),
            input_mpp=8.0,
            input_size=None,
            label_set=TBSRTC.name,
            labels=list(TBSRTC.coarse),
        ),
        d / "stage1",
    )
    save_model(
        Stage2Net(c2),
        ModelCard(
            name="stage2",
            version="untrained",
            architecture="Stage2Net",
            hyperparameters=c2.to_dict(),
            input_mpp=0.5,
            input_size=64,
            label_set=TBSRTC.name,
            labels=[*TBSRTC.fine, "none"],
        ),
        d / "stage2",
    )
    return d


@pytest.mark.slow
def test_bench_cli_small_run(synth_slide, tmp_path: Path) -> None:
    from zoomgrade.cli.main import app
    from zoomgrade.synth import truth_paths

    src = synth_slide("VI", size_mm=(1.5, 1.5))
    slides = tmp_path / "slides"
    slides.mkdir()
    for p in (src, *truth_paths(src)):
        shutil.copy(p, slides / p.name)
    weights = _untrained_weights(tmp_path / "weights")
    out = tmp_path / "out"
    # every map pixel a group (untrained stage 1), few windows per region: bounded, non-empty high-power work
    config = tmp_path / "small.toml"
    config.write_text(
        "[stage1]\ngroup_threshold = 0.01\n[stage2]\nmax_windows_per_region = 4\n"
        "[exhaustive]\nmin_tissue_fraction = 0.5\n"
    )
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CliRunner().invoke(
            app,
            [
                "bench",
                "--input",
                str(slides),
                "--weights",
                str(weights),
                "--out",
                str(out),
                "--config",
                str(config),
                "--threads",
                "2",
            ],
            catch_exceptions=False,
        )
        assert torch.get_num_threads() == 1  # its two threads were for its run: the caller's are kept
    finally:
        torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "bench.json").read_text())
    (s,) = rec["slides"]
    assert s["truth_category"] == json.loads(truth_paths(src)[1].read_text())["category"]
    for mode, stages in (
        ("cascade", ("open", "stage1", "stage2_read", "stage2_infer", "fallback", "write")),
        ("exhaustive", ("open", "exhaustive_read", "exhaustive_infer", "write")),
    ):
        assert set(stages) <= set(s[mode]["seconds"])
        assert s[mode]["wall_s"] > 0 and s[mode]["category"] in TBSRTC.category_names
    assert s["wall_ratio"] == pytest.approx(s["cascade"]["wall_s"] / s["exhaustive"]["wall_s"])
    # The floor replays exactly the high-power windows the cascade accounted for.
    assert s["floor"]["n_windows"] == s["cascade"]["hp_tiles"] > 0
    # ... and infers as many windows as the cascade's models graded
    graded = s["cascade"]["model_items_by_stage"]
    assert s["floor"]["n_graded"] == graded.get("stage2_infer", 0) + graded.get("fallback", 0)
    assert s["floor"]["n_graded"] <= s["floor"]["n_windows"]
    assert s["floor"]["serial_s"] > 0 and s["cascade_over_floor"] > 0
    td = s["tile_decodes"]  # the synthetic slide is a tiled TIFF: decodes are counted
    assert td["decodes"] >= td["unique_tiles"] > 0 and td["unique_s"] > 0
    assert set(s["ablation"]) == {"product_map", "best_constant_map"}
    assert next(t["name"] for t in rec["targets"]).startswith("wall-time ratio")
    names = {t["name"] for t in rec["targets"]}
    for wanted in (
        "wall-time ratio, slowest slide",
        "V/VI group recall of the cascade vs truth (pooled)",
        "slides with a wrong category vs truth, cascade",
        "V slides called V by the cascade",
        "writing, share of the whole cascade command (median)",
        "in-domain slides passing QC and the domain gate",
        "QC and domain gate, share of the cascade's wall time (medians)",
        "cascade time / its floor (median)",
    ):
        assert wanted in names, wanted
    assert all(t["passed"] in (True, False, None) for t in rec["targets"])
    share = next(t for t in rec["targets"] if t["name"].startswith("writing"))["value"]
    assert 0 < share < 1  # write seconds over open + grade + write of the same slide
    (probe,) = rec["memory_probe"]
    assert probe["mode"] == "cascade" and probe["peak_rss_mb"] > 0, probe
    # the untrained weights have no ONNX export: torch runs them, on the threads asked for
    assert probe["torch_loaded"] is True and probe["threads"] == 2, probe
    md = (out / "bench.md").read_text()
    assert rec["machine"]["cpu_model"] in md and "| **median** |" in md
    assert rec["machine"]["engines"] == ["torch"] and rec["machine"]["model_threads"] == 2, rec["machine"]
    pooled = rec["summary"]["pooled"]
    n = len(ab.truth_groups(src))
    for mode in ("cascade", "exhaustive", "lowpower_product_map"):
        assert pooled[mode]["groups"] == n and 0 <= pooled[mode]["groups_found"] <= 1
    assert f"| {pooled['cascade']['groups_found']:.2f} ({n}) |" in md


@pytest.mark.slow
def test_bench_on_onnx_runtime_never_imports_torch(synth_slide, tmp_path: Path) -> None:
    """With the shipped models (ONNX Runtime), a whole bench run grades as `zoomgrade grade` does: no torch
    in the process, so its times are a user's grading process's. (3 mm: a smaller slide's thumbnail is
    smaller than stage 1's export takes, and torch runs it.)"""
    import subprocess
    import sys

    from zoomgrade.synth import truth_paths

    src = synth_slide("II", size_mm=(3.0, 3.0))
    slides = tmp_path / "slides"
    slides.mkdir()
    for p in (src, *truth_paths(src)):
        shutil.copy(p, slides / p.name)
    out = tmp_path / "out"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from zoomgrade.bench.options import BenchOptions\n"
        "from zoomgrade.bench.run import run_bench\n"
        f"run_bench(BenchOptions(out=Path({str(out)!r}), input_dir=Path({str(slides)!r}), threads=2,"
        " memory_probe=False), log=lambda m: None)\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "False", res.stdout
    rec = json.loads((out / "bench.json").read_text())
    m = rec["machine"]
    assert m["engines"] == ["onnxruntime"] and m["model_threads"] == 2 and m["device"] == "cpu", m
    assert rec["slides"][0]["cascade"]["wall_s"] > 0
    assert "onnxruntime on cpu" in (out / "bench.md").read_text()
