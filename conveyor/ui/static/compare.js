// The compare page: versions side by side from GET /api/v1/projects/P/compare (what
// `conveyor models compare` prints), their curves from each version's details. Uses api(),
// el(), fmt(), when(), enc() and flash() from ui.js and drawCurves() from curves.js.
"use strict";

const SPLIT_ORDER = ["test", "holdout", "validation", "baseline"];

function versionHeads(columns, project) {
  return columns.map((c, i) => el("th", { class: "num" },
    el("i", { class: "swatch", style: `background: ${PALETTE[i % PALETTE.length]}` }),
    el("a", { href: `/ui/projects/${enc(project)}/versions/${c.version}` }, `v${c.version}`)));
}

// Rows of [name, values[], {differs, best}]: one table, a column per version.
function sideBySide(project, columns, rows, id) {
  const head = el("tr", {}, el("th", {}, ""), ...versionHeads(columns, project));
  const body = rows.map(([name, cells, mark = {}]) => el("tr", { class: mark.differs ? "differs" : "" },
    el("th", {}, name),
    ...cells.map((cell, i) => el("td", { class: `num${mark.best === i ? " best" : ""}` }, cell))));
  return el("table", { class: "grid compare", id }, el("thead", {}, head), el("tbody", {}, ...body));
}

const differs = (values) => new Set(values.map((v) => JSON.stringify(v ?? null))).size > 1;

function trainingRows(columns, project) {
  const link = (href, text) => el("a", { href }, text);
  const fields = [
    ["approval", (c) => c.approval_status],
    ["algorithm", (c) => c.algorithm],
    ["primary metric", (c) => c.primary_metric],
    ["data set", (c) => el("code", { title: c.dataset_id }, c.dataset_id.slice(0, 12)), (c) => c.dataset_id],
    ["raw file", (c) => el("code", {}, c.raw), (c) => c.raw],
    // Every version has its own run and time: not marked as a difference.
    ["run", (c) => link(`/ui/runs/${enc(c.run_id)}`, c.run_id), () => null],
    ["created", (c) => when(c.created_at), () => null],
  ];
  return fields.map(([name, show, key = show]) => [name, columns.map(show), { differs: differs(columns.map(key)) }]);
}

function metricRows(columns, lowerIsBetter) {
  const splits = [...new Set(columns.flatMap((c) => Object.keys(c.metrics)))]
    .sort((a, b) => (SPLIT_ORDER.indexOf(a) + 1 || 99) - (SPLIT_ORDER.indexOf(b) + 1 || 99));
  const rows = [];
  for (const split of splits) {
    const names = [...new Set(columns.flatMap((c) => Object.keys(c.metrics[split] || {})))].sort();
    for (const name of names) {
      const values = columns.map((c) => (c.metrics[split] || {})[name]);
      const known = values.map((v, i) => [v, i]).filter(([v]) => v !== undefined && v !== null && Number.isFinite(v));
      let best;
      if (split !== "baseline" && known.length > 1 && differs(known.map(([v]) => v))) {
        const lower = lowerIsBetter.has(name);
        best = known.reduce((a, b) => ((lower ? b[0] < a[0] : b[0] > a[0]) ? b : a))[1];
      }
      const label = `${split === "baseline" ? "trivial baseline" : split} ${name}${name === columns[0].primary_metric ? " ★" : ""}`;
      rows.push([label, values.map((v) => fmt(v, 4)), { best }]);
    }
  }
  return rows;
}

function hyperparameterRows(columns) {
  const keys = [...new Set(columns.flatMap((c) => Object.keys(c.hyperparameters || {})))].sort();
  return keys.map((key) => {
    const values = columns.map((c) => (c.hyperparameters || {})[key]);
    return [key, values.map((v) => (v === undefined ? "—" : JSON.stringify(v))), { differs: differs(values) }];
  });
}

function importanceRows(columns) {
  const peak = new Map();
  for (const c of columns) for (const item of c.top_inputs) peak.set(item.feature, Math.max(peak.get(item.feature) || 0, item.share));
  const features = [...peak.keys()].sort((a, b) => peak.get(b) - peak.get(a));
  return features.map((feature) => [feature, columns.map((c, i) => {
    const item = c.top_inputs.find((t) => t.feature === feature);
    if (!item) return "—";
    const bar = el("span", { class: "share-bar", style: `width: ${Math.round(60 * item.share)}px; background: ${PALETTE[i % PALETTE.length]}` });
    return el("span", {}, bar, `${(100 * item.share).toFixed(1)}%`);
  })]);
}

async function loadCompare(project, versions, lowerIsBetter) {
  let compared, details;
  try {
    [compared, ...details] = await Promise.all([
      api("GET", `/projects/${enc(project)}/compare?versions=${versions.join(",")}`),
      ...versions.map((v) => api("GET", `/projects/${enc(project)}/versions/${v}`)),
    ]);
  } catch (err) {
    for (const id of ["training-table", "metrics-table", "hyperparameters-table", "importance-table", "compare-curves-plot"]) {
      document.getElementById(id).replaceChildren(el("p", { class: "empty" }, "Not shown: the server refused the comparison."));
    }
    document.getElementById("differences").replaceChildren();
    flash(err.message);
    return;
  }
  const columns = compared.versions;
  const show = (id, rows, empty) => document.getElementById(id).replaceChildren(rows.length
    ? sideBySide(project, columns, rows, `${id}-grid`) : el("p", { class: "empty" }, empty));
  show("training-table", trainingRows(columns, project), "");
  show("metrics-table", metricRows(columns, lowerIsBetter), "No metrics recorded.");
  show("hyperparameters-table", hyperparameterRows(columns), "No hyperparameters recorded.");
  show("importance-table", importanceRows(columns), "No importance recorded for these versions.");
  const said = compared.differences;
  document.getElementById("differences").replaceChildren(...(said.length ? said.map((d) => el("li", {}, d))
    : [el("li", { class: "muted" }, "Nothing: same algorithm, data set, metric and hyperparameters.")]));
  drawCurves(document.getElementById("compare-curves-plot"),
    details.map((v) => ({ name: `v${v.version}`, curves: v.details ? v.details.curves : null })), "compare-");
  document.body.dataset.loaded = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  const { page, project, versions, lowerIsBetter } = document.body.dataset;
  if (page !== "compare" || !versions) return;
  loadCompare(project, versions.split(",").map(Number), new Set(lowerIsBetter.split(",")));
});
