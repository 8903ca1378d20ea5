// The slide view: OpenSeadragon over the server's tiles, regions drawn on a canvas above it in their grade
// colours, layer toggles, the side list (most severe first; a click flies there), details, a scale bar in um.
"use strict";
(function () {
  const { el, pct } = window.zg;
  const key = document.body.dataset.key;
  const msg = document.getElementById("msg");
  const state = { doc: null, viewer: null, hidden: new Set(), selected: null, heat: null, canvas: null };
  window.zgView = state;  // for the browser test and for people poking at the page

  function say(text) { msg.hidden = !text; msg.textContent = text || ""; }
  function colour(g) { return state.doc.labels.colors[g] || "#808080"; }
  function gradeName(g) { return state.doc.labels.names[g] || ""; }

  function header(d) {
    const cat = document.getElementById("cat");
    const sub = document.getElementById("sub");
    if (d.status === "graded" && d.category) {
      cat.textContent = d.category;
      cat.style.background = colour(d.category);
      sub.append(el("b", { text: d.category_name || "" }), " \u00b7 risk of malignancy \u2248 " + pct(d.risk),
                 " \u00b7 " + (d.regions || []).length + " regions \u00b7 mode " + (d.mode || "?"));
    } else {
      cat.textContent = d.status === "withheld" ? "withheld" : "failed";
      cat.classList.add("cat-" + d.status);
      sub.append(el("b", { text: d.status === "withheld" ? "No category: withheld (see QC)" : "Not graded" }));
    }
    const why = document.getElementById("why");
    if (d.error) why.append(el("p", { class: "err", text: d.error }));
    if (d.reason) why.append(el("p", {}, el("b", { text: "Why: " }), d.reason));
    if (d.adequacy && typeof d.adequacy === "object")
      why.append(el("p", {}, el("b", { text: "Adequacy: " }),
        (d.adequacy.adequate === null ? "" : (d.adequacy.adequate ? "adequate" : "NOT adequate") + ": ")
          + (d.adequacy.reason || "")));
    if (d.qc !== null && d.qc !== undefined) {
      const qc = el("div", { class: "qc" }, el("b", { text: "QC: " }));
      if (typeof d.qc === "object" && !Array.isArray(d.qc)) {
        const dl = el("dl");
        for (const [k, v] of Object.entries(d.qc))
          dl.append(el("dt", { text: k }), el("dd", { text: typeof v === "object" ? JSON.stringify(v) : String(v) }));
        qc.append(dl);
      } else qc.append(typeof d.qc === "object" ? JSON.stringify(d.qc) : String(d.qc));
      why.append(qc);
    }
    if (d.warnings && d.warnings.length)
      why.append(el("ul", { class: "warn" }, ...d.warnings.map(w => el("li", { text: w }))));
  }

  // -- drawing the regions -----------------------------------------------------------------------------
  function affine() {  // image px -> element px (no rotation): x' = ox + x * s
    const it = state.item;  // the slide's TiledImage (the heatmap is a second one)
    const a = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0));
    const b = it.imageToViewerElementCoordinates(new OpenSeadragon.Point(1000, 1000));
    return { ox: a.x, oy: a.y, s: (b.x - a.x) / 1000 };
  }

  function draw() {
    if (!state.item) return;
    const c = state.canvas, v = state.viewer;
    const w = v.container.clientWidth, h = v.container.clientHeight, dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      c.style.width = w + "px"; c.style.height = h + "px";
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const { ox, oy, s } = affine();
    state.drawn = 0;
    for (const r of state.doc.regions) {
      if (state.hidden.has(r.fine_grade)) continue;
      const [bx, by, bw, bh] = r.bbox;
      if (ox + (bx + bw) * s < 0 || ox + bx * s > w || oy + (by + bh) * s < 0 || oy + by * s > h) continue;
      const sel = state.selected === r;
      g.beginPath();
      for (const ring of r.rings) {
        ring.forEach(([x, y], i) => (i ? g.lineTo : g.moveTo).call(g, ox + x * s, oy + y * s));
        g.closePath();
      }
      if (r.rings.length === 0) g.rect(ox + bx * s, oy + by * s, bw * s, bh * s);
      if (sel) { g.lineWidth = 7; g.strokeStyle = "rgba(255,255,255,0.9)"; g.stroke(); }
      g.lineWidth = sel ? 4 : 2.5;
      g.strokeStyle = colour(r.fine_grade);
      g.stroke();
      state.drawn++;
    }
    scaleBar(s);
  }

  function scaleBar(s) {  // s = screen px per level-0 px
    const mpp = state.doc.dzi.mpp, umPerPx = mpp / s;
    const nice = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];
    const um = nice.filter(n => n / umPerPx <= 160).pop() || nice[0];
    const bar = document.getElementById("scalebar");
    bar.querySelector(".line").style.width = Math.round(um / umPerPx) + "px";
    bar.querySelector("span").textContent = um >= 1000 ? (um / 1000) + " mm" : um + " \u00b5m";
  }

  // -- regions: hit test, list, details ----------------------------------------------------------------
  function inside(ring, x, y) {
    let hit = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) hit = !hit;
    }
    return hit;
  }

  function regionAt(pos) {
    const p = state.item.viewerElementToImageCoordinates(pos);
    const tol = 4 / affine().s;  // a few screen px around a small region still hits it
    for (const r of state.doc.regions) {  // most severe first: the most severe of overlapping regions wins
      if (state.hidden.has(r.fine_grade)) continue;
      const [bx, by, bw, bh] = r.bbox;
      if (p.x < bx - tol || p.x > bx + bw + tol || p.y < by - tol || p.y > by + bh + tol) continue;
      if (!r.rings.length || r.rings.some(ring => inside(ring, p.x, p.y)) || bw * affine().s < 12) return r;
    }
    return null;
  }

  function probs(values, names) {
    if (!values) return el("span", { class: "muted", text: "not run" });
    return el("span", {}, values.map((p, i) => (names && names[i] !== undefined ? names[i] : "#" + i) + " " + pct(p))
      .join(", "));
  }

  // where a region's cell count comes from (result.json cells_source)
  const CELL_SOURCE = { "high-power": "counted at high power", "scaled": "scaled up from part of the region",
                        "area": "estimated from the area" };

  function details(r) {
    const L = state.doc.labels;
    const box = document.getElementById("details");
    box.classList.remove("muted");
    const rows = [
      ["fine grade", r.fine_grade + (gradeName(r.fine_grade) ? " \u00b7 " + gradeName(r.fine_grade) : "")
        + " (" + pct(r.fine_confidence) + ")"],
      ["coarse grade (stage 1)", String(r.coarse_grade).replaceAll("_", " ") + " (confidence " + pct(r.confidence) + ")"],
      ["fused probabilities", probs(r.fine_probs, L.grades)],
      ["stage-2 raw probabilities", probs(r.stage2_probs, L.grades)],
      ["stage-1 probabilities", probs(r.coarse_probs, L.coarse && L.coarse.map(c => c.replaceAll("_", " ")))],
      ["decided by", r.decided_by + (r.patch_grades.length ? " (patches: " + r.patch_grades.join(", ") + ")" : "")],
      ["cells", r.est_cells + (CELL_SOURCE[r.cells_source] ? " (" + CELL_SOURCE[r.cells_source] + ")" : " (estimate)")],
      ["area", r.area_um2 === null || r.area_um2 === undefined ? "" : Math.round(r.area_um2) + " \u00b5m\u00b2"],
      ["review order", r.order], ["region id", r.id],
    ];
    if (r.error) rows.push(["error", r.error]);
    box.replaceChildren(el("dl", {}, ...rows.flatMap(([k, v]) =>
      [el("dt", { text: k }), el("dd", {}, v instanceof Node ? v : String(v ?? ""))])));
    box.style.borderColor = colour(r.fine_grade);
  }

  function select(r, fly) {
    state.selected = r;
    document.querySelectorAll("#regionlist li").forEach(li => li.classList.toggle("sel", li.zgRegion === r));
    if (!r) return;
    details(r);
    if (fly) {
      const [x, y, w, h] = r.bbox, pad = Math.max(w, h) * 1.5 + 200;
      const rect = state.item.imageToViewportRectangle(x - pad, y - pad, w + 2 * pad, h + 2 * pad);
      state.viewer.viewport.fitBounds(rect);
    }
    draw();
  }

  function regionList() {
    const ol = document.getElementById("regionlist");
    ol.replaceChildren(...state.doc.regions.map((r, i) => {
      const li = el("li", { tabindex: 0, "data-id": r.id, onclick: () => select(r, true),
                            onkeydown: (e) => { if (e.key === "Enter") select(r, true); } },
        el("span", { class: "sw", style: { background: colour(r.fine_grade) } }),
        el("b", { text: r.fine_grade }), " " + pct(r.fine_confidence) + " \u00b7 " + (r.decided_by || "")
          + (r.est_cells !== null && r.est_cells !== undefined ? " \u00b7 ~" + r.est_cells + " cells" : ""));
      li.zgRegion = r;
      li.hidden = state.hidden.has(r.fine_grade);
      li.title = "region " + r.id + " (#" + (i + 1) + ")";
      return li;
    }));
  }

  function layers() {
    const box = document.getElementById("layers");
    const counts = {};
    for (const r of state.doc.regions) counts[r.fine_grade] = (counts[r.fine_grade] || 0) + 1;
    const grades = state.doc.labels.grades.slice().reverse();  // most severe first
    for (const g of grades) {
      const cb = el("input", { type: "checkbox", checked: true, "data-grade": g });
      cb.checked = true;
      cb.addEventListener("change", () => {
        if (cb.checked) state.hidden.delete(g); else state.hidden.add(g);
        regionList(); draw();
      });
      box.append(el("label", { class: "layer" }, cb, el("span", { class: "sw", style: { background: colour(g) } }),
        g + (gradeName(g) ? " " + gradeName(g) : "") + " (" + (counts[g] || 0) + ")"));
    }
    const heat = el("input", { type: "checkbox", id: "heat" });
    heat.addEventListener("change", () => toggleHeat(heat.checked));
    box.append(el("label", { class: "layer" }, heat, "stage-1 heatmap (coarse grade where cell groups are)"));
  }

  function toggleHeat(on) {
    if (state.heat) { state.heat.setOpacity(on ? 0.85 : 0); return; }
    if (!on) return;
    state.viewer.addTiledImage({
      tileSource: { type: "image", url: "/heatmap/" + key + ".png", buildPyramid: false },
      x: 0, y: 0, width: 1, opacity: 0.85,
      success: (e) => { state.heat = e.item; },
      error: () => { say("No stage-1 heatmap for this slide."); document.getElementById("heat").disabled = true; },
    });
  }

  function start(d) {
    state.doc = d;
    if (!d.labels) document.getElementById("report").hidden = true;  // no result was written: no report either
    header(d);
    if (!d.dzi) {
      say(d.slide_error ? "The slide cannot be shown: " + d.slide_error
        : d.error ? d.error : "The slide cannot be shown.");
      if (d.regions && d.regions.length) { layers(); regionList(); }
      return;
    }
    const z = d.dzi;
    state.viewer = OpenSeadragon({
      id: "osd", prefixUrl: "/static/openseadragon/images/", drawer: "canvas", showNavigator: true,
      navigatorPosition: "BOTTOM_RIGHT", maxZoomPixelRatio: 2, visibilityRatio: 0.5, animationTime: 0.6,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
      tileSources: {
        width: z.width, height: z.height, tileSize: z.tileSize, tileOverlap: z.tileOverlap,
        minLevel: z.minLevel, maxLevel: z.maxLevel,
        getTileUrl: (level, x, y) => "/tiles/" + key + "/" + level + "/" + x + "_" + y + ".jpg",
      },
    });
    state.canvas = el("canvas", { id: "regions-canvas" });
    state.viewer.canvas.append(state.canvas);
    state.viewer.addHandler("open", () => { state.item = state.viewer.world.getItemAt(0); draw(); });
    state.viewer.addHandler("update-viewport", draw);
    state.viewer.addHandler("resize", draw);
    state.viewer.addHandler("canvas-click", (e) => {
      if (!e.quick) return;
      const r = state.item && regionAt(e.position);
      if (r) select(r, false);
    });
    const tip = document.getElementById("tip");
    new OpenSeadragon.MouseTracker({
      element: state.viewer.canvas,
      moveHandler: (e) => {
        const r = state.item && regionAt(e.position);
        tip.hidden = !r;
        if (!r) return;
        tip.textContent = r.fine_grade + " " + pct(r.fine_confidence) + " \u00b7 " + r.decided_by
          + " \u00b7 click for details";
        tip.style.left = (e.position.x + 14) + "px"; tip.style.top = (e.position.y + 14) + "px";
      },
      leaveHandler: () => { tip.hidden = true; },
    });
    state.viewer.addHandler("tile-load-failed", () => say("Some tiles could not be read from the slide."));
    layers();
    regionList();
  }

  window.zg.json("/api/slide/" + key).then(start).catch(err => say(String(err)));
})();
