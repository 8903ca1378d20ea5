"""Summary, targets and the written reports of ``zoomgrade bench``: OUT/bench.json and OUT/bench.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..labels import TBSRTC
from . import ablation as ab

TARGET_RATIO = 0.05
TARGET_AGREEMENT = 0.98
TARGET_RECALL = 0.98
TARGET_SECONDS = 30.0  # a 20 x 20 mm slide on 2 CPU cores
TARGET_PEAK_MB = 2048.0
TARGET_FLOOR = 2.0
TARGET_GATE_PASS = 0.98  # issue 18: in-domain held-out slides that pass QC and the domain gate
BIG_SLIDE_MM = (20.0, 20.0)


def _median(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.median(v)) if v else None


def _mean(vals: list[Any]) -> float | None:
    v = [float(x) for x in vals if x is not None]
    return float(np.mean(v)) if v else None


def _early_stop_line(record: dict[str, Any]) -> str:
    """The cascade ran with its default early stop: how much it left unread (the agreement above is with it)."""
    rd = [r["cascade"].get("reading") or {} for r in record["slides"]]
    rd = [x for x in rd if x]
    if not rd:
        return "Early stop: not recorded."
    n, unread = sum(x["regions"] for x in rd), sum(x["unread"] for x in rd)
    return (f"Early stop ({'on' if all(x['early_stop'] for x in rd) else 'off on some slides'}): reading stopped "
            f"early on {sum(x['stopped'] for x in rd)} of {len(rd)} slides; {unread} of {n} regions "
            f"({unread / max(n, 1):.0%}) kept their stage-1 grade unread.")


def summarise(record: dict[str, Any], scores: list[dict[str, ab.ModeScore]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Medians over slides, pooled truth scores (all slides' groups together) and the targets."""
    S = record["slides"]
    s: dict[str, Any] = {"n_slides": len(S)}
    for mode in ("cascade", "exhaustive"):
        m = [r[mode] for r in S]
        s[mode] = {
            "median_wall_s": _median([x["wall_s"] for x in m]),
            "median_wall_with_write_s": _median([x["wall_with_write_s"] for x in m]),
            "median_stage_s": {k: _median([x["seconds"].get(k) for x in m]) for k in m[0]["seconds"]} if m else {},
            "median_hp_megapixels": _median([x["hp_megapixels"] for x in m]),
            "category_accuracy": _mean([x["correct"] for x in m]),
            "median_macro_f1": _median([x["macro_f1"] for x in m]),
            # share of these in-domain held-out slides that pass quality control and the domain gate
            "gate_pass_rate": _mean([x.get("status", "graded") == "graded" for x in m]),
            "median_gate_s": _median([x.get("gate_s", 0.0) for x in m]),
        }
    modes = list(scores[0]) if scores else []
    pooled: dict[str, Any] = {}
    for mode in modes:
        pairs = [p for sc in scores for p in sc[mode].pairs]
        flags = [f for sc in scores for f in sc[mode].vvi_recalled]
        pooled[mode] = {"macro_f1": ab.macro_f1(pairs, TBSRTC.fine), "f1_per_class": ab.f1_per_class(pairs, TBSRTC.fine),
                        "vvi_groups": len(flags), "vvi_recall": ab.recall(flags)}
    s["pooled"] = pooled
    if scores:
        c = [f for sc in scores for f in sc["cascade"].vvi_recalled]
        e = [f for sc in scores for f in sc["exhaustive"].vvi_recalled]
        s["vvi_recall_vs_exhaustive"] = ab.relative_recall(c, e)
    else:
        s["vvi_recall_vs_exhaustive"] = None
    s["ablation"] = {name: {"category_accuracy": _mean([r["ablation"][name]["correct"] for r in S]),
                            "pooled_macro_f1": pooled.get(f"lowpower_{name}", {}).get("macro_f1")}
                     for name in (S[0]["ablation"] if S else {})}
    s["median_wall_ratio"] = _median([r["wall_ratio"] for r in S])
    s["median_hp_pixel_ratio"] = _median([r["hp_pixel_ratio"] for r in S])
    s["category_agreement"] = _mean([r["category_agree"] for r in S])
    s["median_floor_s"] = _median([r["floor"]["serial_s"] for r in S])
    s["median_floor_overlapped_s"] = _median([r["floor"]["overlapped_s"] for r in S])
    s["median_cascade_over_floor"] = _median([r["cascade_over_floor"] for r in S])
    probe = {p["mode"]: p for p in record.get("memory_probe", []) if "peak_rss_mb" in p}
    s["cascade_peak_rss_mb"] = probe.get("cascade", {}).get("peak_rss_mb")
    s["exhaustive_peak_rss_mb"] = probe.get("exhaustive", {}).get("peak_rss_mb")
    s["process_peak_rss_mb"] = record.get("process_peak_rss_mb")
    return s, targets(record, s)


def _t(name: str, target: str, value: Any, passed: bool | None, note: str = "") -> dict[str, Any]:
    return {"name": name, "target": target, "value": value, "passed": passed, "note": note}


def targets(record: dict[str, Any], s: dict[str, Any]) -> list[dict[str, Any]]:
    def le(v: float | None, lim: float) -> bool | None:
        return None if v is None else v <= lim

    def ge(v: float | None, lim: float) -> bool | None:
        return None if v is None else v >= lim

    out = [
        _t("wall-time ratio cascade/exhaustive (median)", f"<= {TARGET_RATIO}", s["median_wall_ratio"],
           le(s["median_wall_ratio"], TARGET_RATIO)),
        _t("slide-category agreement cascade vs exhaustive", f">= {TARGET_AGREEMENT}", s["category_agreement"],
           ge(s["category_agreement"], TARGET_AGREEMENT)),
        _t("V/VI recall relative to exhaustive (pooled)", f">= {TARGET_RECALL}", s["vvi_recall_vs_exhaustive"],
           ge(s["vvi_recall_vs_exhaustive"], TARGET_RECALL),
           "" if s["vvi_recall_vs_exhaustive"] is not None else "no truth V/VI group recalled by exhaustive"),
    ]
    ca, ea = s["cascade"]["category_accuracy"], s["exhaustive"]["category_accuracy"]
    out.append(_t("cascade accuracy vs truth >= exhaustive's", "cascade >= exhaustive",
                  None if ca is None else f"{ca:.3f} vs {ea:.3f}", None if ca is None else ca >= ea))
    S = record["slides"]
    big = bool(S) and all(tuple(r.get("size_mm") or ()) == BIG_SLIDE_MM for r in S)
    cores = record["machine"]["cores_usable"]
    wall, peak = s["cascade"]["median_wall_s"], s["cascade_peak_rss_mb"]
    note = "" if big else "applies to 20 x 20 mm slides; this run's slides are smaller"
    if cores != 2:
        note = (note + "; " if note else "") + f"measured on {cores} cores, target is for 2"
    out.append(_t("cascade seconds on a 20x20 mm slide, 2 cores (median)", f"<= {TARGET_SECONDS:g} s", wall,
                  le(wall, TARGET_SECONDS) if big and cores == 2 else None, note))
    out.append(_t("cascade peak memory (fresh process)", f"<= {TARGET_PEAK_MB:g} MB", peak,
                  le(peak, TARGET_PEAK_MB) if big else None, note if not big else ""))
    gp = s["cascade"].get("gate_pass_rate")
    out.append(_t("in-domain slides passing QC and the domain gate", f">= {TARGET_GATE_PASS}", gp, ge(gp, TARGET_GATE_PASS)))
    out.append(_t("cascade time / its floor (median)", f"<= {TARGET_FLOOR:g}", s["median_cascade_over_floor"],
                  le(s["median_cascade_over_floor"], TARGET_FLOOR)))
    return out


# -- writing -----------------------------------------------------------------------------------------
def _f(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if abs(v) >= 10 ** -nd or v == 0 else f"{v:.2g}"
    return str(v)


def _pf(p: bool | None) -> str:
    return "n/a" if p is None else ("PASS" if p else "FAIL")


def to_markdown(record: dict[str, Any]) -> str:
    m, s, S = record["machine"], record.get("summary", {}), record["slides"]
    L = ["# zoomgrade bench: cascade vs exhaustive tiling", "",
         f"Machine: {m['cpu_model']}, {m['cores_usable']} usable cores ({m['cpu_count']} CPUs), "
         f"{m['memory_gb']} GB RAM, {m['platform']}; torch {m['torch']} on {m['device']}, "
         f"{m['torch_threads']} threads.", "",
         f"Command: `{record.get('command') or 'zoomgrade bench'}`  ",
         f"Started {record.get('started')}, finished {record.get('finished', '(running)')}; "
         f"models: {', '.join(record.get('models', {}).values())}; stage-2 window {record.get('window_px')} px.", "",
         "## Per slide", "",
         "| slide | truth | cascade | exhaustive | cascade s | exhaustive s | time ratio | HP px ratio "
         "| floor s | cascade/floor | V/VI recall c / e | macro-F1 c / e |",
         "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in S:
        c, e = r["cascade"], r["exhaustive"]
        L.append(f"| {r['slide']} | {r['truth_category']} | {c['category']} | {e['category']} | {_f(c['wall_s'])} "
                 f"| {_f(e['wall_s'])} | {_f(r['wall_ratio'], 3)} | {_f(r['hp_pixel_ratio'], 3)} "
                 f"| {_f(r['floor']['serial_s'])} | {_f(r['cascade_over_floor'])} "
                 f"| {_f(c['vvi_recall'])} / {_f(e['vvi_recall'])} ({c['vvi_groups']}) "
                 f"| {_f(c['macro_f1'])} / {_f(e['macro_f1'])} |")
    if s:
        cs, es = s["cascade"], s["exhaustive"]
        L.append(f"| **median** | | | | {_f(cs['median_wall_s'])} | {_f(es['median_wall_s'])} "
                 f"| {_f(s['median_wall_ratio'], 3)} | {_f(s['median_hp_pixel_ratio'], 3)} | {_f(s['median_floor_s'])} "
                 f"| {_f(s['median_cascade_over_floor'])} | | {_f(cs['median_macro_f1'])} / {_f(es['median_macro_f1'])} |")
        L += ["", "## Where the time goes (median seconds per stage)", "", "| mode | " +
              " | ".join(["open", "stage 1", "stage-2 read*", "stage-2 infer*", "fallback", "exh. read*",
                          "exh. infer*", "write", "wall (open+grade)"]) + " |", "|---|" + "---:|" * 9]
        for mode in ("cascade", "exhaustive"):
            st = s[mode]["median_stage_s"]
            cols = [st.get(k) for k in ("open", "stage1", "stage2_read", "stage2_infer", "fallback",
                                        "exhaustive_read", "exhaustive_infer", "write")]
            L.append(f"| {mode} | " + " | ".join(_f(v, 3) for v in cols) + f" | {_f(s[mode]['median_wall_s'], 3)} |")
        fl = [r["floor"] for r in S]
        td = [r["tile_decodes"] for r in S if r.get("tile_decodes")]
        if td:
            L += ["", f"File-tile decodes caused by the cascade's high-power windows (median): "
                      f"{_f(_median([t['decodes'] for t in td]), 0)} decodes of "
                      f"{_f(_median([t['unique_tiles'] for t in td]), 0)} distinct {td[0]['tile_px'][0]} px tiles "
                      f"(x{_f(_median([t['amplification'] for t in td]))}); decoding each distinct tile once takes "
                      f"{_f(_median([t['unique_s'] for t in td]), 3)} s vs {_f(_median([f['decode_windows_s'] for f in fl]), 3)} s "
                      "for the windows as read."]
            caches = [tc for r in S if (tc := r["cascade"].get("tile_cache"))]
            if caches:
                L[-1] += (f" With the decoded-tile cache the cascade decoded {_f(_median([c['misses'] for c in caches]), 0)} "
                          f"tiles (median; stage 1's included) and took {_f(_median([c['hits'] for c in caches]), 0)} from the cache.")
        loads = [r.get("loadavg_1min") for r in S if r.get("loadavg_1min") is not None]
        if loads:
            L += ["", f"Machine load (1-min load average after each slide, other processes included): "
                      f"{min(loads):.1f}-{max(loads):.1f} on {m['cpu_count']} CPUs."]
        L += ["", "\\* reading runs in reader threads beside inference (seconds summed over the threads), "
                  "so read + infer can exceed the wall time.", "",
              f"Floor (cascade's own reads replayed, no model; then the models on the same inputs from memory), "
              f"medians: decode {_f(_median([f['decode_s'] for f in fl]), 3)} s, inference "
              f"{_f(_median([f['infer_s'] for f in fl]), 3)} s, serial {_f(s['median_floor_s'], 3)} s, overlapped "
              f"(max) {_f(s['median_floor_overlapped_s'], 3)} s; windows read (median) "
              f"{_f(_median([f['n_windows'] for f in fl]), 0)}.", "",
              f"Quality control and domain gate: {_f(cs.get('gate_pass_rate'), 3)} of these held-out slides pass "
              f"(withheld: {', '.join(r['slide'] for r in S if r['cascade'].get('status') == 'withheld') or 'none'}); "
              f"the gate's median {_f(cs.get('median_gate_s'), 3)} s is part of the cascade's wall time.", "",
              "## Accuracy against truth", "",
              "| grader | slide-category accuracy | pooled region macro-F1 | pooled V/VI recall (groups) |",
              "|---|---:|---:|---:|"]
        P = s["pooled"]
        for name, acc in (("cascade", cs["category_accuracy"]), ("exhaustive", es["category_accuracy"])):
            L.append(f"| {name} | {_f(acc)} | {_f(P[name]['macro_f1'])} | {_f(P[name]['vvi_recall'])} ({P[name]['vvi_groups']}) |")
        for name, a in s["ablation"].items():
            key = f"lowpower_{name}"
            L.append(f"| low power only ({name}) | {_f(a['category_accuracy'])} | {_f(a['pooled_macro_f1'])} "
                     f"| {_f(P.get(key, {}).get('vvi_recall'))} |")
        L += ["", f"Ablation maps (coarse -> fine): {record.get('ablation_maps')}.", "",
              f"Slide-category agreement cascade vs exhaustive: {_f(s['category_agreement'])}; V/VI recall of the "
              f"cascade relative to exhaustive (pooled): {_f(s['vvi_recall_vs_exhaustive'])}.", "",
              _early_stop_line(record), "",
              "## Memory", ""]
        for p in record.get("memory_probe", []):
            L.append(f"- {p['mode']} alone in a fresh process on {p.get('slide', '?')}: peak RSS "
                     f"{_f(p.get('peak_rss_mb'), 0)} MB, grade {_f(p.get('grade_s'))} s "
                     f"(models loaded in {_f(p.get('load_models_s'))} s){' ERROR ' + p['error'] if 'error' in p else ''}")
        L.append(f"- whole bench process (both modes, all slides): peak RSS {_f(s.get('process_peak_rss_mb'), 0)} MB")
        L += ["", "## Targets", "", "| target | wanted | measured | result | note |", "|---|---|---|---|---|"]
        for t in record.get("targets", []):
            L.append(f"| {t['name']} | {t['target']} | {_f(t['value'], 3)} | {_pf(t['passed'])} | {t['note']} |")
    if record.get("separability"):
        L += separability_lines(record["separability"])
    return "\n".join(L) + "\n"


def separability_lines(sep: dict[str, Any]) -> list[str]:
    """The generator's separability (``zoomgrade.bench.separability``): what each power can tell."""
    d = sep.get("data", {})
    L = ["", "## Separability of the synthetic grades (small CNNs on true groups, held-out seeds)", "",
         f"High power {d.get('hi', '?')}, low power {d.get('lo', '?')}; {d.get('train_slides', '?')} training and "
         f"{d.get('test_slides', '?')} test slides; test groups per class II-VI {d.get('test_groups_per_class', '?')}.", "",
         "| task | balanced accuracy | plain accuracy | target | result |", "|---|---:|---:|---|---|"]
    for key, name in (("fine_high", "fine II-VI from high power"), ("fine_low", "fine II-VI from low power"),
                      ("coarse_low", "coarse from low power")):
        r = sep.get(key)
        if r:
            L.append(f"| {name} | {_f(r['balanced_accuracy'], 3)} | {_f(r['group_accuracy'], 3)} | {r['threshold']} | "
                     f"{_pf(r['pass'])} |")
    return L


def write_reports(record: dict[str, Any], out: Path) -> None:
    from ..outputs import atomic_write_json, atomic_write_text

    atomic_write_json(Path(out) / "bench.json", record)
    atomic_write_text(Path(out) / "bench.md", to_markdown(record))
