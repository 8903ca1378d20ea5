// Small DOM helpers shared by the pages. Every name or value from a result goes in as text
// (textContent), never as markup, so a slide called "<script>..." is shown as those characters.
"use strict";
window.zg = {
  el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "style") Object.assign(e.style, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : String(kid));
    return e;
  },
  pct(p) { return (p === null || p === undefined) ? "-" : Math.round(p * 100) + "%"; },
  num(v, d) { return (v === null || v === undefined) ? "" : Number(v).toFixed(d); },
  // A one-line text for any QC record shape (absent: empty)
  qcText(qc) {
    if (qc === null || qc === undefined) return "";
    if (typeof qc !== "object") return String(qc);
    return Object.entries(qc).filter(([, v]) => v === null || typeof v !== "object")
      .map(([k, v]) => k + ": " + v).join("; ");
  },
  async json(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(url + ": " + r.status + " " + r.statusText);
    return r.json();
  },
};
