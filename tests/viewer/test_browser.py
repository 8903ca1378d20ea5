"""The viewer in a real browser (headless Chromium driven by Selenium): worklist -> slide -> tiles and region
outlines drawn -> a click on a region flies the view there. Screenshots go to tmp_path, and to
$ZOOMGRADE_SCREENSHOTS when set (that is how docs/images/viewer-*.png are made)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from viewer_helpers import HOSTILE

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium and its driver are absent (Debian: apt-get install -y chromium chromium-driver)",
)


@pytest.fixture
def browser(tmp_path: Path):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is a dev dependency: pip install -e '.[dev]'"
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,880",
        "--force-device-scale-factor=1",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def wait_for(drv, script: str, timeout: float = 60.0):
    """Poll a JS expression until it is truthy; its value."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = drv.execute_script("try { return " + script + "; } catch (e) { return null; }")
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


def shot(drv, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    drv.save_screenshot(str(path))
    dest = os.environ.get("ZOOMGRADE_SCREENSHOTS")
    if dest:  # for the docs: JPEG, a fifth of the bytes of the PNG (tissue photographs poorly in 256 colours)
        from PIL import Image

        Path(dest).mkdir(parents=True, exist_ok=True)
        with Image.open(path) as im:
            im.convert("RGB").save(Path(dest) / Path(name).with_suffix(".jpg"), quality=88)
    return path


# Pixels of a canvas: how many are not paper-white, and how many are close to a colour (an outline).
CANVAS_STATS = """
const c = arguments[0], hex = arguments[1];
const g = c.getContext('2d'), d = g.getImageData(0, 0, c.width, c.height).data;
const t = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
let ink = 0, near = 0, n = d.length / 4;
for (let i = 0; i < d.length; i += 4) {
  if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) ink++;
  if (d[i + 3] > 200 && Math.abs(d[i] - t[0]) < 30 && Math.abs(d[i + 1] - t[1]) < 30 && Math.abs(d[i + 2] - t[2]) < 30) near++;
}
return [ink / n, near];
"""


def test_worklist_slide_tiles_regions_and_fly_to(results_dir: Path, serve, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    server = serve(results_dir)
    browser.get(server.url)
    wait_for(browser, "document.querySelectorAll('#worklist tbody tr').length === 3")
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#worklist tbody td a")]
    assert HOSTILE in names, names  # the markup is shown as text
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x']")  # ... and never became an element
    statuses = sorted(td.text for td in browser.find_elements(By.CSS_SELECTOR, "#worklist tbody td:nth-child(2)"))
    assert statuses == ["failed", "graded", "graded"]
    first = browser.find_element(By.CSS_SELECTOR, "#worklist tbody tr td a").text
    assert first == "smear-VI.svs"  # opened most severe first (sorted by risk)
    # filtering narrows the list
    browser.find_element(By.ID, "filter").send_keys("benign")
    wait_for(browser, "document.querySelectorAll('#worklist tbody tr').length === 1")
    browser.find_element(By.ID, "filter").clear()
    browser.execute_script("document.getElementById('filter').dispatchEvent(new Event('input'))")
    wait_for(browser, "document.querySelectorAll('#worklist tbody tr').length === 3")
    browser.set_window_size(1400, 330)  # the worklist's screenshot without the empty page below it
    shot(browser, tmp_path, "viewer-worklist.png")
    browser.set_window_size(1400, 880)

    browser.find_element(By.LINK_TEXT, "smear-VI.svs").click()
    wait_for(browser, "location.pathname.startsWith('/slide/')")
    # tiles: OpenSeadragon loaded the slide's tiles and its canvas shows stained tissue, not a blank
    wait_for(browser, "zgView.viewer.world.getItemAt(0).getFullyLoaded()")
    time.sleep(1.0)
    drawer = browser.execute_script("return zgView.viewer.drawer.canvas")
    doc = browser.execute_script("return zgView.doc")
    ink, _ = browser.execute_script(CANVAS_STATS, drawer, "#000000")
    assert ink > 0.02, f"the slide canvas is nearly blank ({ink:.3f} of pixels inked)"
    # region outlines drawn in the result's own colour for their grade
    top = doc["regions"][0]
    assert top["fine_grade"] == "VI"
    colour = doc["labels"]["colors"]["VI"]
    overlay = browser.find_element(By.ID, "regions-canvas")
    drawn = wait_for(browser, "zgView.drawn")
    _, near = browser.execute_script(CANVAS_STATS, overlay, colour)
    assert drawn == len(doc["regions"]) and near > 50, (drawn, near)
    assert browser.find_element(By.ID, "cat").text == "VI"
    assert "µm" in browser.find_element(By.ID, "scalebar").text or "mm" in browser.find_element(By.ID, "scalebar").text
    shot(browser, tmp_path, "viewer-slide.png")

    # the most severe region first in the side list; a click flies there and shows its details
    zoom0 = browser.execute_script("return zgView.viewer.viewport.getZoom(true)")
    items = browser.find_elements(By.CSS_SELECTOR, "#regionlist li")
    assert len(items) == len(doc["regions"])
    items[0].click()
    time.sleep(2.0)  # the fly-to animation
    cx, cy, zoom1 = browser.execute_script(
        "const v = zgView.viewer.viewport, c = zgView.item.viewportToImageCoordinates(v.getCenter(true));"
        "return [c.x, c.y, v.getZoom(true)]"
    )
    x, y, w, h = top["bbox"]
    assert abs(cx - (x + w / 2)) < max(w, 50) and abs(cy - (y + h / 2)) < max(h, 50), ((cx, cy), top["bbox"])
    assert zoom1 > 2 * zoom0
    details = browser.find_element(By.ID, "details").text
    assert "decided by" in details and "fused probabilities" in details and "stage-2 raw" in details
    assert f"{top['est_cells']} (counted at high power)" in details  # graded at high power: its count says so
    shot(browser, tmp_path, "viewer-region.png")

    # a click on the outline on the slide selects that region too (the second one, somewhere else)
    second = doc["regions"][1]
    browser.execute_script(
        """
      const v = zgView.viewer, r = arguments[0];
      v.viewport.fitBounds(zgView.item.imageToViewportRectangle(r.bbox[0] - 300, r.bbox[1] - 300,
                           r.bbox[2] + 600, r.bbox[3] + 600), true);""",
        second,
    )
    time.sleep(0.5)
    px, py = browser.execute_script(
        """
      const v = zgView.viewer, r = arguments[0], ring = r.rings[0];
      let sx = 0, sy = 0; ring.forEach(p => { sx += p[0]; sy += p[1]; });
      const p = zgView.item.imageToViewerElementCoordinates(new OpenSeadragon.Point(sx / ring.length, sy / ring.length));
      return [p.x, p.y];""",
        second,
    )
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = browser.find_element(By.CSS_SELECTOR, "#osd .openseadragon-canvas")
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(
        canvas, px - size["width"] / 2, py - size["height"] / 2
    ).click().perform()
    sel = wait_for(browser, "zgView.selected && zgView.selected.id", timeout=10)
    assert sel == second["id"]

    # hiding the region's grade hides its outlines (whole slide in view); the heatmap layer loads
    browser.execute_script("zgView.viewer.viewport.goHome(true)")
    time.sleep(0.3)
    assert browser.execute_script("return zgView.drawn") == len(doc["regions"])
    browser.find_element(By.CSS_SELECTOR, "input[data-grade='VI']").click()
    hidden = browser.execute_script("return zgView.drawn")
    assert hidden == sum(r["fine_grade"] != "VI" for r in doc["regions"])
    browser.find_element(By.CSS_SELECTOR, "input[data-grade='VI']").click()
    browser.find_element(By.ID, "heat").click()
    wait_for(browser, "zgView.heat && zgView.heat.getFullyLoaded()")
    time.sleep(0.5)
    shot(browser, tmp_path, "viewer-heatmap.png")

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, severe


def test_slide_page_of_a_missing_slide_says_why(results_dir: Path, serve, browser, tmp_path: Path) -> None:
    from viewer_helpers import copy_results

    folder = copy_results(results_dir, tmp_path / "out")
    import json

    doc = json.loads((folder / "smear-VI" / "result.json").read_text())
    doc["slide"]["path"] = str(tmp_path / "gone.svs")
    (folder / "smear-VI" / "result.json").write_text(json.dumps(doc))
    server = serve(folder)
    key = next(e.key for e in server.viewer.index.entries() if e.name == "smear-VI.svs")
    browser.get(server.url + f"slide/{key}")
    text = wait_for(browser, "!document.getElementById('msg').hidden && document.getElementById('msg').textContent")
    assert "gone.svs" in text and "not found" in text
    # the verdict and the region list are still there
    assert browser.execute_script("return document.querySelectorAll('#regionlist li').length") == len(doc["regions"])
