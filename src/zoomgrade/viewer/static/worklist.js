// The worklist: every slide of the results folder, sortable (click a column) and filterable; one click opens it.
"use strict";
(function () {
  const { el } = window.zg;
  const tbody = document.querySelector("#worklist tbody");
  const filter = document.getElementById("filter");
  const status = document.getElementById("status");
  const count = document.getElementById("count");
  let rows = [];
  let sortKey = "risk", sortDir = -1;  // most severe first when opened

  function sortValue(r, k) {
    if (k === "category") return r.risk === null ? -1 : r.risk;  // categories rank by their risk
    if (k === "counts") return Object.values(r.counts || {}).reduce((a, b) => a + b, 0);
    const v = r[k];
    return v === null || v === undefined ? (typeof rows[0]?.[k] === "string" ? "" : -Infinity) : v;
  }

  function countsText(c) {
    return Object.entries(c || {}).filter(([, n]) => n > 0).map(([g, n]) => g + " " + n).join(", ");
  }

  function render() {
    const q = filter.value.trim().toLowerCase();
    const st = status.value;
    const shown = rows.filter(r => (!st || r.status === st) && (!q ||
      [r.name, r.status, r.category, r.category_name, r.qc, r.error, countsText(r.counts)]
        .some(v => v && String(v).toLowerCase().includes(q))));
    shown.sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir || a.name.localeCompare(b.name);
    });
    tbody.replaceChildren(...shown.map(r => {
      const cat = r.status === "graded" ? [r.category, r.category_name].filter(Boolean).join(" ")
        : r.status === "withheld" ? "withheld" : "failed";
      const tr = el("tr", { class: "st-" + r.status, "data-key": r.key, tabindex: 0,
                            onclick: () => { location.href = "/slide/" + r.key; },
                            onkeydown: (e) => { if (e.key === "Enter") location.href = "/slide/" + r.key; } },
        el("td", {}, el("a", { href: "/slide/" + r.key, text: r.name })),
        el("td", { text: r.status }),
        el("td", { text: cat, title: r.error || "" }),
        el("td", { class: "num", text: r.risk === null ? "" : window.zg.pct(r.risk) }),
        el("td", { class: "num", text: r.n_regions ?? "" }),
        el("td", { text: countsText(r.counts) }),
        el("td", { class: "num", text: window.zg.num(r.seconds, 1) }),
        el("td", { text: r.qc || (r.error ? r.error : "") }),
        el("td", { class: "num", text: r.warnings || "" }));
      return tr;
    }));
    count.textContent = shown.length + " of " + rows.length + " slides";
    document.querySelectorAll("#worklist th").forEach(th => {
      th.classList.toggle("sorted", th.dataset.k === sortKey);
      th.dataset.dir = th.dataset.k === sortKey ? (sortDir > 0 ? "asc" : "desc") : "";
    });
  }

  document.querySelectorAll("#worklist th").forEach(th => th.addEventListener("click", () => {
    sortDir = th.dataset.k === sortKey ? -sortDir : (th.dataset.k === "name" || th.dataset.k === "status" ? 1 : -1);
    sortKey = th.dataset.k;
    render();
  }));
  filter.addEventListener("input", render);
  status.addEventListener("change", render);

  window.zg.json("/api/worklist").then(d => { rows = d.slides; render(); })
    .catch(err => { document.getElementById("msg").textContent = String(err); });
})();
