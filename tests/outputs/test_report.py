"""report.html is one self-contained file: every image embedded and decodable, nothing fetched from outside."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from result_factory import make_result, save_with_slide

from zoomgrade.outputs import save_result
from zoomgrade.types import SlideResult


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str]] = []
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value) of anything that loads a resource
        self.figures = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.imgs.append(a)
        if tag == "figure":
            self.figures += 1
        for key in ("src", "href", "srcset", "poster", "data"):
            if key in a:
                self.refs.append((tag, key, a[key]))
        if tag == "link" or (tag == "script" and "src" in a):
            self.refs.append((tag, "tag", str(a)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _decode(uri: str) -> Image.Image:
    head, b64 = uri.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/jpeg;base64"), head
    img = Image.open(io.BytesIO(base64.b64decode(b64, validate=True)))
    img.load()  # a truncated image fails here
    assert img.format == ("PNG" if "png" in head else "JPEG")
    return img


def test_report_is_self_contained(result: SlideResult, tmp_path: Path) -> None:
    save_with_slide(result, tmp_path)
    p = _parse(tmp_path / "report.html")
    assert len(p.imgs) >= 2 + len(result.regions)  # overlay, heatmap, one crop per region (7 <= 12)
    for img in p.imgs:
        _decode(img["src"])
    external = [r for r in p.refs if not (r[2].startswith("data:") or r[2].startswith("#"))]
    assert external == []
    text = " ".join(p.text)
    for needed in (
        result.category_name,
        result.slide.name,
        "97%",
        result.category_reason,
        "adequate:",
        "Cost of this run",
        "stage2-test 0",
    ):
        assert needed in text, needed
    # the overlay embedded is byte-for-byte the overlay.png written beside it
    assert base64.b64decode(p.imgs[0]["src"].split(",", 1)[1]) == (tmp_path / "overlay.png").read_bytes()


def test_gallery_crops_are_high_power_reads_of_the_most_severe_regions(result: SlideResult, tmp_path: Path) -> None:
    save_with_slide(result, tmp_path)
    p = _parse(tmp_path / "report.html")
    assert p.figures == len(result.regions)
    crops = [_decode(i["src"]) for i in p.imgs if i.get("alt", "").startswith("region ")]
    assert next(i["alt"] for i in p.imgs if i.get("alt", "").startswith("region ")) == "region 4"  # the VI region
    # region 4 is a 120 px-radius disc at 0.5 um/px: read at 0.5 um/px with a margin, > 240 px, not a
    # thumbnail enlargement (the thumbnail shows it 60 px wide)
    assert min(crops[0].size) >= 240
    # a crop shows cells: dark nuclei drawn on the slide are present at full contrast
    assert min(crops[0].convert("L").getextrema()) < 90


def test_a_region_too_large_for_one_crop_is_shown_as_a_high_power_detail(result: SlideResult, tmp_path: Path) -> None:
    from shapely.geometry import box

    big = result.regions[4]  # the VI region, first in the gallery
    big.region.polygon = box(50, 50, result.slide.width - 50, result.slide.height - 50)
    save_with_slide(result, tmp_path)
    p = _parse(tmp_path / "report.html")
    first = next(i for i in p.imgs if i.get("alt") == "region 4")
    assert _decode(first["src"]).size == (480, 480)  # 240 um at 0.5 um/px, not the whole slide shrunk
    assert "detail of a large region" in " ".join(p.text)


def test_report_without_the_slide_says_why(flat_slide: Path, tmp_path: Path) -> None:
    r = make_result(flat_slide)
    r.slide.path = str(tmp_path / "moved-away.png")
    save_result(r, tmp_path / "out")  # no slide given: the writers open nothing themselves
    p = _parse(tmp_path / "out" / "report.html")
    assert p.figures == 0
    assert "no slide was given" in " ".join(p.text)
    for img in p.imgs:
        _decode(img["src"])


def test_comparison_and_exhaustive_without_maps(flat_slide: Path, tmp_path: Path) -> None:
    # the record zoomgrade.cascade.compare writes for mode="both"
    cmp = {
        "exhaustive": {"category": "V", "counts": {"V": 3}},
        "category_agreement": False,
        "regions": [
            {"id": 4, "cascade_grade": "VI", "exhaustive_grade": "V", "n_tiles": 9, "agree": False},
            {"id": 0, "cascade_grade": "II", "exhaustive_grade": "II", "n_tiles": 4, "agree": True},
        ],
        "region_agreement": 0.5,
        "regions_compared": 2,
        "high_power_pixels": {"cascade": 2_000_000, "exhaustive": 40_000_000, "ratio": 0.05},
        "seconds": {"cascade": 3.0, "exhaustive": 41.0},
    }
    r = make_result(flat_slide, mode="exhaustive", with_maps=False, comparison=cmp)
    save_result(r, tmp_path)
    text = " ".join(_parse(tmp_path / "report.html").text)
    assert "mode both" in text and "DIFFERENT category" in text and "50% of 2" in text and "(5.0%)" in text
    assert "exhaustive.counts.V" in text  # the full record, flattened
    assert Image.open(tmp_path / "heatmap.png").size[0] > 100  # a panel saying there are no maps


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(result: SlideResult, tmp_path: Path) -> None:
    save_with_slide(result, tmp_path)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        (tmp_path / "report.html").as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 1600)
    # the header band is drawn in the category colour (VI: #6a1b9a)
    assert img.getpixel((600, 10)) == (0x6A, 0x1B, 0x9A)
