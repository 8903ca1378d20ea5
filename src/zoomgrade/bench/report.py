"""The written reports of ``zoomgrade bench``: OUT/bench.json and OUT/bench.md (the figures and targets
are ``bench/summary.py``'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .summary import median_of


def _early_stop_line(record: dict[str, Any]) -> str:
    """The cascade ran with its default early stop: how much it left unread (the agreement above is with it)."""
    rd = [r["cascade"].get("reading") or {} for r in record["slides"]]
    rd = [x for x in rd if x]
    if not rd:
        return "Early stop: not recorded."
    n, unread = sum(x["regions"] for x in rd), sum(x["unread"] for x in rd)
    return (
        f"Early stop ({'on' if all(x['early_stop'] for x in rd) else 'off on some slides'}): reading stopped "
        f"early on {sum(x['stopped'] for x in rd)} of {len(rd)} slides; {unread} of {n} regions "
        f"({unread / max(n, 1):.0%}) kept their stage-1 grade unread."
    )


def _f(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if abs(v) >= 10**-nd or v == 0 else f"{v:.2g}"
    return str(v)


def _pf(p: bool | None) -> str:
    return "n/a" if p is None else ("PASS" if p else "FAIL")


def to_markdown(record: dict[str, Any]) -> str:
    m, s, S = record["machine"], record.get("summary", {}), record["slides"]
    L = [
        "# zoomgrade bench: cascade vs exhaustive tiling",
        "",
        f"Machine: {m['cpu_model']}, {m['cores_usable']} usable cores ({m['cpu_count']} CPUs), "
        f"{m['memory_gb']} GB RAM, {m['platform']}; {', '.join(m['engines'])} on "
        f"{m['device']} (torch {m['torch']}, onnxruntime {m['onnxruntime']}), {m['model_threads']} model threads.",
        "",
        f"Command: `{record.get('command') or 'zoomgrade bench'}`  ",
        f"Started {record.get('started')}, finished {record.get('finished', '(running)')}; "
        f"models: {', '.join(record.get('models', {}).values())}; stage-2 window {record.get('window_px')} px.",
        "",
        "## Per slide",
        "",
        "| slide | truth | cascade | exhaustive | cascade s | exhaustive s | time ratio | HP px ratio "
        "| floor s | cascade/floor | V/VI recall c / e | macro-F1 c / e |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in S:
        c, e = r["cascade"], r["exhaustive"]
        L.append(
            f"| {r['slide']} | {r['truth_category']} | {c['category']} | {e['category']} | {_f(c['wall_s'])} "
            f"| {_f(e['wall_s'])} | {_f(r['wall_ratio'], 3)} | {_f(r['hp_pixel_ratio'], 3)} "
            f"| {_f(r['floor']['serial_s'])} | {_f(r['cascade_over_floor'])} "
            f"| {_f(c['vvi_recall'])} / {_f(e['vvi_recall'])} ({c['vvi_groups']}) "
            f"| {_f(c['macro_f1'])} / {_f(e['macro_f1'])} |"
        )
    if s:
        cs, es = s["cascade"], s["exhaustive"]
        L.append(
            f"| **median** | | | | {_f(cs['median_wall_s'])} | {_f(es['median_wall_s'])} "
            f"| {_f(s['median_wall_ratio'], 3)} | {_f(s['median_hp_pixel_ratio'], 3)} | {_f(s['median_floor_s'])} "
            f"| {_f(s['median_cascade_over_floor'])} | | {_f(cs['median_macro_f1'])} / {_f(es['median_macro_f1'])} |"
        )
        L += [
            "",
            "## Where the time goes (median seconds per stage)",
            "",
            "| mode | "
            + " | ".join(
                [
                    "open",
                    "stage 1",
                    "stage-2 read*",
                    "stage-2 infer*",
                    "fallback",
                    "exh. read*",
                    "exh. infer*",
                    "write",
                    "wall (open+grade)",
                ]
            )
            + " |",
            "|---|" + "---:|" * 9,
        ]
        for mode in ("cascade", "exhaustive"):
            st = s[mode]["median_stage_s"]
            cols = [
                st.get(k)
                for k in (
                    "open",
                    "stage1",
                    "stage2_read",
                    "stage2_infer",
                    "fallback",
                    "exhaustive_read",
                    "exhaustive_infer",
                    "write",
                )
            ]
            L.append(f"| {mode} | " + " | ".join(_f(v, 3) for v in cols) + f" | {_f(s[mode]['median_wall_s'], 3)} |")
        fl = [r["floor"] for r in S]
        td = [r["tile_decodes"] for r in S if r.get("tile_decodes")]
        if td:
            L += [
                "",
                f"File-tile decodes caused by the cascade's high-power windows (median): "
                f"{_f(median_of([t['decodes'] for t in td]), 0)} decodes of "
                f"{_f(median_of([t['unique_tiles'] for t in td]), 0)} distinct {td[0]['tile_px'][0]} px tiles "
                f"(x{_f(median_of([t['amplification'] for t in td]))}); decoding each distinct tile once takes "
                f"{_f(median_of([t['unique_s'] for t in td]), 3)} s vs {_f(median_of([f['decode_windows_s'] for f in fl]), 3)} s "
                "for the windows as read.",
            ]
            caches = [tc for r in S if (tc := r["cascade"].get("tile_cache"))]
            if caches:
                L[-1] += (
                    f" With the decoded-tile cache the cascade decoded {_f(median_of([c['misses'] for c in caches]), 0)} "
                    f"tiles (median; stage 1's included) and took {_f(median_of([c['hits'] for c in caches]), 0)} from the cache."
                )
        loads = [r.get("loadavg_1min") for r in S if r.get("loadavg_1min") is not None]
        if loads:
            L += [
                "",
                f"Machine load (1-min load average after each slide, other processes included): "
                f"{min(loads):.1f}-{max(loads):.1f} on {m['cpu_count']} CPUs.",
            ]
        L += [
            "",
            "\\* reading runs in reader threads beside inference (seconds summed over the threads), "
            "so read + infer can exceed the wall time.",
            "",
            f"Floor (cascade's own reads replayed, no model; then the models on the same inputs from memory), "
            f"medians: decode {_f(median_of([f['decode_s'] for f in fl]), 3)} s, inference "
            f"{_f(median_of([f['infer_s'] for f in fl]), 3)} s, serial {_f(s['median_floor_s'], 3)} s, overlapped "
            f"(max) {_f(s['median_floor_overlapped_s'], 3)} s; windows read (median) "
            f"{_f(median_of([f['n_windows'] for f in fl]), 0)}, graded "
            f"{_f(median_of([f['n_graded'] for f in fl]), 0)}.",
            "",
            f"Quality control and domain gate: {_f(cs.get('gate_pass_rate'), 3)} of these held-out slides pass "
            f"(withheld: {', '.join(r['slide'] for r in S if r['cascade'].get('status') == 'withheld') or 'none'}); "
            f"the gate's median {_f(cs.get('median_gate_s'), 3)} s is part of the cascade's wall time.",
            "",
            "## Accuracy against truth",
            "",
            "| grader | slide-category accuracy | pooled region macro-F1 | pooled V/VI recall (groups) "
            "| truth groups found (groups) |",
            "|---|---:|---:|---:|---:|",
        ]
        P = s["pooled"]

        def found(p: dict[str, Any]) -> str:
            return f"{_f(p.get('groups_found'))} ({p.get('groups', 0)})"

        for name, acc in (("cascade", cs["category_accuracy"]), ("exhaustive", es["category_accuracy"])):
            L.append(
                f"| {name} | {_f(acc)} | {_f(P[name]['macro_f1'])} | {_f(P[name]['vvi_recall'])} ({P[name]['vvi_groups']}) "
                f"| {found(P[name])} |"
            )
        for name, a in s["ablation"].items():
            key = f"lowpower_{name}"
            L.append(
                f"| low power only ({name}) | {_f(a['category_accuracy'])} | {_f(a['pooled_macro_f1'])} "
                f"| {_f(P.get(key, {}).get('vvi_recall'))} | {found(P.get(key, {}))} |"
            )
        L += [
            "",
            f"Ablation maps (coarse -> fine): {record.get('ablation_maps')}.",
            "",
            f"Slide-category agreement cascade vs exhaustive: {_f(s['category_agreement'])}; V/VI recall of the "
            f"cascade relative to exhaustive (pooled): {_f(s['vvi_recall_vs_exhaustive'])}.",
            "",
            _early_stop_line(record),
            "",
            "## Memory",
            "",
        ]
        for p in record.get("memory_probe", []):
            L.append(
                f"- {p['mode']} alone in a fresh process on {p.get('slide', '?')}: peak RSS "
                f"{_f(p.get('peak_rss_mb'), 0)} MB, grade {_f(p.get('grade_s'))} s "
                f"(models loaded in {_f(p.get('load_models_s'))} s){' ERROR ' + p['error'] if 'error' in p else ''}"
            )
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
    L = [
        "",
        "## Separability of the synthetic grades (small CNNs on true groups, held-out seeds)",
        "",
        f"High power {d.get('hi', '?')}, low power {d.get('lo', '?')}; {d.get('train_slides', '?')} training and "
        f"{d.get('test_slides', '?')} test slides; test groups per class II-VI {d.get('test_groups_per_class', '?')}.",
        "",
        "| task | balanced accuracy | plain accuracy | target | result |",
        "|---|---:|---:|---|---|",
    ]
    for key, name in (
        ("fine_high", "fine II-VI from high power"),
        ("fine_low", "fine II-VI from low power"),
        ("coarse_low", "coarse from low power"),
    ):
        r = sep.get(key)
        if r:
            L.append(
                f"| {name} | {_f(r['balanced_accuracy'], 3)} | {_f(r['group_accuracy'], 3)} | {r['threshold']} | "
                f"{_pf(r['pass'])} |"
            )
    return L


def write_reports(record: dict[str, Any], out: Path) -> None:
    from ..atomic import atomic_write_json, atomic_write_text

    atomic_write_json(Path(out) / "bench.json", record)
    atomic_write_text(Path(out) / "bench.md", to_markdown(record))
