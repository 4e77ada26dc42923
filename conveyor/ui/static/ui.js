// The dashboard's behaviour: live data and every action go through /api/v1; a failed call
// shows the server's own message. Text from the server is only ever set as textContent.
"use strict";

const API = "/api/v1";
const REFRESH_MS = 5000;
const TERMINAL = new Set(["REGISTERED", "DEPLOYED", "REJECTED", "FAILED"]);
window.conveyor = { charts: {}, drift: null };

class ApiError extends Error {}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, options);
  } catch (err) {
    throw new ApiError(`the server did not answer: ${err.message}`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = data && data.message ? data.message : `${response.status} ${response.statusText}`;
    const error = new ApiError(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

function flash(message, ok = false) {
  const box = document.getElementById("flash");
  box.textContent = message;
  box.className = ok ? "flash ok" : "flash";
  box.hidden = false;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

const fmt = (value, digits = 3) => {
  if (value === null || value === undefined) return "—";
  const number = Number(value);
  return Math.abs(number) >= 1000 ? Math.round(number).toLocaleString("en") : number.toPrecision(digits);
};
const when = (iso) => (iso ? iso.replace("T", " ").slice(0, 19) + " UTC" : "—");
const enc = encodeURIComponent;

// -- projects ------------------------------------------------------------------------------

async function loadProjectsOverview() {
  let rows;
  try { rows = await api("GET", "/projects"); } catch (err) { flash(err.message); return; }
  for (const row of rows) {
    const tr = document.querySelector(`tr[data-project="${CSS.escape(row.name)}"]`);
    if (!tr) continue;
    for (const field of ["requests_last_hour", "alarm_state", "drift_status"]) {
      const cell = tr.querySelector(`[data-field="${field}"]`);
      const value = row[field];
      cell.textContent = value === null || value === undefined ? "—" : String(value);
      if (field !== "requests_last_hour" && value) cell.className = value;
    }
  }
}

// -- actions -------------------------------------------------------------------------------

function actionRequest(project, button) {
  const version = button.dataset.version;
  const base = `/projects/${enc(project)}`;
  switch (button.dataset.action) {
    case "approve": return ["POST", `${base}/versions/${version}/approve`, { reason: "approved in the dashboard" }];
    case "reject": return ["POST", `${base}/versions/${version}/reject`, { reason: "rejected in the dashboard" }];
    // A pending version's button says it approves (its confirmation asked): the API refuses
    // to approve by deploying unless told.
    case "deploy": return ["POST", `${base}/versions/${version}/deploy`, { approve: button.dataset.approve === "true", reason: "approved by deploying it in the dashboard" }];
    case "rollback": return ["POST", `${base}/rollback`, {}];
    default: throw new Error(`unknown action ${button.dataset.action}`);
  }
}

function wireActions(project) {
  for (const button of document.querySelectorAll("button.action")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      try {
        const [method, path, body] = actionRequest(project, button);
        await api(method, path, body);
        flash(`${button.textContent.trim()}: done`, true);
        window.location.reload();
      } catch (err) {
        flash(err.message);
      } finally {
        button.disabled = false;
      }
    });
  }
}

// -- upload --------------------------------------------------------------------------------

function wireUpload(project) {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("upload-file");
  const zone = document.getElementById("drop-zone");
  const label = document.getElementById("drop-label");
  const prompt = label.textContent;
  const showName = () => { label.textContent = input.files.length ? input.files[0].name : prompt; };
  input.addEventListener("change", showName);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) { input.files = event.dataTransfer.files; showName(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.files.length) { flash("choose a data file to upload first"); return; }
    const body = new FormData();
    body.append("file", input.files[0]);
    const sheet = document.getElementById("upload-sheet").value.trim();
    if (sheet) body.append("sheet", sheet);
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const started = await api("POST", `/projects/${enc(project)}/uploads`, body);
      await followRun(started.run_id);
    } catch (err) {
      flash(err.message);
    } finally {
      submit.disabled = false;
    }
  });
}

async function followRun(runId) {
  const box = document.getElementById("upload-progress");
  const link = document.getElementById("upload-run-link");
  const state = document.getElementById("upload-state");
  const stages = document.getElementById("upload-stages");
  const failure = document.getElementById("upload-failure");
  box.hidden = false;
  link.textContent = runId;
  link.href = `/ui/runs/${enc(runId)}`;
  for (;;) {
    const run = await api("GET", `/runs/${enc(runId)}`);
    state.textContent = run.state;
    state.className = `state ${run.state}`;
    stages.replaceChildren(...(run.stages || []).map((s) =>
      el("li", { class: `stage ${s.outcome}` }, `${s.stage} `,
        el("span", { class: "muted" }, s.seconds == null ? "…" : `${s.seconds.toFixed(1)} s`))));
    if (TERMINAL.has(run.state)) {
      failure.hidden = !run.failure_reason;
      failure.textContent = run.failure_reason || "";
      const registered = document.getElementById("upload-version");
      if (run.model_version) {
        const link = registered.querySelector("a");
        link.textContent = `v${run.model_version}`;
        link.href = `/ui/projects/${enc(run.project)}/versions/${run.model_version}`;
        registered.hidden = false;
      }
      document.body.dataset.lastRun = run.state;
      return run;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// -- traffic -------------------------------------------------------------------------------

function makeChart(id, series) {
  const target = document.getElementById(id);
  const options = {
    width: Math.max(300, target.clientWidth),
    height: 200,
    // From zero up: a flat series (no errors) reads as zero, not as a band around it.
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    legend: { live: false },
    // Points as well as lines: a minute of traffic between quiet ones is a lone point.
    series: [{}, ...series.map(([label, stroke]) => ({
      label, stroke, width: 2, spanGaps: false, points: { show: true, size: 5, fill: stroke },
    }))],
    axes: [{}, { size: 56 }],
  };
  const chart = new uPlot(options, [[], ...series.map(() => [])], target);
  window.conveyor.charts[id] = chart;
  return chart;
}

async function startTraffic(project) {
  const charts = {
    rps: makeChart("chart-rps", [["requests/s", "#0969da"]]),
    latency: makeChart("chart-latency", [["p50", "#1a7f37"], ["p99", "#9a6700"]]),
    errors: makeChart("chart-errors", [["5xx", "#cf222e"], ["4xx", "#9a6700"]]),
  };
  const refresh = async () => {
    try {
      const t = await api("GET", `/projects/${enc(project)}/traffic?window=3600&step=60`);
      const xs = t.t.map((iso) => Date.parse(iso) / 1000);
      charts.rps.setData([xs, t.requests_per_second]);
      charts.latency.setData([xs, t.latency_p50_ms, t.latency_p99_ms]);
      charts.errors.setData([xs, t.error_rate, t.client_error_rate]);
    } catch (err) {
      flash(`traffic: ${err.message}`);
    }
  };
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

// -- drift ---------------------------------------------------------------------------------

const DRIFT_BARS = 12;

// Tops whose quarters are round percentages (as the drift report's HTML draws its charts).
function niceTop(value) {
  return [0.04, 0.08, 0.12, 0.16, 0.2, 0.4, 0.6, 0.8, 1].find((top) => value <= top) ?? 1;
}

// Training against live share of rows per bin (a range of values, or a category), with a
// y axis in percent and each bin's label under its pair of bars.
function barChart(plot, drifted) {
  let keep = plot.labels.map((_, i) => i);
  if (keep.length > DRIFT_BARS) {  // the bins that matter most, in their order
    keep = keep.sort((a, b) => Math.max(plot.baseline[b], plot.live[b]) - Math.max(plot.baseline[a], plot.live[a]))
      .slice(0, DRIFT_BARS).sort((a, b) => a - b);
  }
  const labels = keep.map((i) => String(plot.labels[i]));
  const shorts = labels.map((label) => (label.length <= 16 ? label : `${label.slice(0, 15)}…`));
  // Long labels (date ranges) turn steeper and get more room: each under its own bars.
  const longest = Math.max(...shorts.map((label) => label.length));
  const angle = longest > 8 ? 60 : 40;
  const width = 300, left = 36, right = 4, top = 8, plotH = 124;
  const bottom = Math.round(16 + longest * 5.2 * Math.sin((angle * Math.PI) / 180));
  const height = top + plotH + bottom;
  const base = keep.map((i) => plot.baseline[i] || 0), live = keep.map((i) => plot.live[i] || 0);
  const peak = niceTop(Math.max(0.01, ...base, ...live));
  const plotW = width - left - right;
  const group = plotW / labels.length;
  const bar = Math.max(1, group * 0.38);
  const scale = (v) => (plotH * v) / peak;
  const root = svg("svg", { class: "bars drift-bars", viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": "share of rows per bin: training and live" });
  const text = (attrs, content) => { const node = svg("text", attrs); node.textContent = content; return node; };
  for (let step = 0; step <= 4; step += 1) {
    const y = top + plotH * (1 - step / 4);
    root.append(svg("line", { class: "gridline", x1: left, x2: width - right, y1: y, y2: y }),
      text({ class: "tick", x: left - 4, y: y + 3, "text-anchor": "end" }, `${Math.round((100 * peak * step) / 4)}%`));
  }
  root.append(text({ class: "axis-title", transform: `translate(9,${top + plotH / 2}) rotate(-90)`, "text-anchor": "middle" }, "share of rows"));
  labels.forEach((label, i) => {
    const x = left + i * group + (group - 2 * bar) / 2;
    for (const [offset, value, cls] of [[0, base[i], "base"], [bar, live[i], drifted ? "live drift" : "live"]]) {
      const h = scale(value);
      const rect = svg("rect", { x: x + offset, y: top + plotH - h, width: bar, height: Math.max(h, 0), class: cls });
      rect.append(svg("title"));
      rect.firstChild.textContent = `${label}: ${cls.startsWith("base") ? "training" : "live"} ${(100 * value).toFixed(1)}%`;
      root.append(rect);
    }
    const name = text({ class: "bin", transform: `translate(${left + (i + 0.5) * group + 3},${top + plotH + 9}) rotate(-${angle})`, "text-anchor": "end" }, shorts[i]);
    name.append(svg("title"));
    name.lastChild.textContent = label;
    root.append(name);
  });
  root.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
  return root;
}

function showDrift(report) {
  const box = document.getElementById("drift-features");
  const summary = document.getElementById("drift-summary");
  window.conveyor.drift = report;
  if (!report) {
    summary.textContent = "";
    box.replaceChildren(el("p", { class: "empty" }, "No drift check yet: send traffic, then check."));
    return;
  }
  summary.textContent = `${report.status} · ${report.rows} rows answered by v${report.model_version} from ${when(report.window_start)} to ${when(report.window_end)} · checked ${when(report.checked_at)}`;
  summary.className = `small ${report.status}`;
  const cards = Object.entries(report.features || {}).map(([name, f]) => {
    const drifted = f.verdict === "drift";
    const card = el("div", { class: `drift-card ${f.verdict}`, "data-feature": name },
      el("h3", {}, el("span", {}, name), el("span", { class: drifted ? "DRIFT" : "muted" }, f.verdict)),
      el("p", { class: "muted small" }, `${f.kind || ""} · PSI ${fmt(f.psi)}`));
    if (f.plot && f.plot.labels && f.plot.labels.length) card.append(barChart(f.plot, drifted));
    else card.append(el("p", { class: "empty" }, "Not enough values to plot."));
    return card;
  });
  box.replaceChildren(...cards);
  document.getElementById("drift-key").hidden = false;
}

async function loadDrift(project) {
  try {
    showDrift(await api("GET", `/projects/${enc(project)}/drift`));
  } catch (err) {
    if (err.status === 404) showDrift(null); else flash(`drift: ${err.message}`);
  }
}

function wireDrift(project) {
  const button = document.getElementById("drift-check");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      showDrift(await api("POST", `/projects/${enc(project)}/drift`, { window: 3600 }));
    } catch (err) {
      flash(err.message);
    } finally {
      button.disabled = false;
    }
  });
}

// -- alarms --------------------------------------------------------------------------------

async function loadAlarms(project) {
  const states = document.getElementById("alarm-states");
  const history = document.getElementById("alarm-history");
  try {
    const alarms = await api("GET", `/projects/${enc(project)}/alarms`);
    states.replaceChildren(...(alarms.length ? alarms.map((a) => el("tr", {},
      el("td", {}, a.name), el("td", {}, a.metric || ""), el("td", {}, a.enabled === false ? el("span", { class: "badge off", title: `disabled; last state ${a.state}` }, "off") : el("span", { class: `badge ${a.state}` }, a.state)),
      el("td", {}, a.state_reason || ""), el("td", {}, when(a.state_updated_at))))
      : [el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No alarms."))]));
    const items = await api("GET", `/projects/${enc(project)}/alarms/history?limit=50`);
    history.replaceChildren(...(items.length ? items.map((h) => el("tr", {},
      el("td", {}, when(h.timestamp)), el("td", {}, h.alarm), el("td", {}, `${h.old_state} → ${h.new_state}`),
      el("td", {}, h.reason || "")))
      : [el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No changes yet."))]));
  } catch (err) {
    flash(`alarms: ${err.message}`);
  }
}

// -- recent predictions and their explanations ---------------------------------------------

// Signed bars around a zero line, one per [label, value, the row's cell]: a push up of the
// score is blue, down orange.
function signedBars(items) {
  const width = 720, row = 20, left = 250, mid = left + (width - left) / 2;
  const peak = Math.max(1e-12, ...items.map(([, v]) => Math.abs(v)));
  const root = svg("svg", { class: "bars hbars contributions", viewBox: `0 0 ${width} ${items.length * row + 4}`, width: "100%", role: "img" });
  items.forEach(([label, value, cell], i) => {
    const text = svg("text", { x: left - 6, y: i * row + 14, "text-anchor": "end" });
    text.textContent = `${String(label).slice(0, 22)} = ${String(cell ?? "missing").slice(0, 14)}`;
    const w = ((width - left) / 2 - 60) * Math.abs(value) / peak;
    const x = value >= 0 ? mid : mid - w;
    const rect = svg("rect", { x, y: i * row + 4, width: Math.max(w, 1), height: row - 8, class: value >= 0 ? "up" : "down" });
    const num = svg("text", { x: value >= 0 ? mid + w + 4 : mid - w - 4, y: i * row + 14, "text-anchor": value >= 0 ? "start" : "end" });
    num.textContent = (value >= 0 ? "+" : "") + fmt(value);
    root.append(text, rect, num);
  });
  root.append(svg("line", { x1: mid, x2: mid, y1: 0, y2: items.length * row + 4, class: "zero" }));
  return root;
}

// ``record``: the listed request; a batch gets a choice of its rows.
function showExplanation(e, project, record) {
  const box = document.getElementById("explanation");
  const choice = el("select", { id: "explanation-row", "aria-label": "row" },
    ...Array.from({ length: record.rows }, (_, i) => el("option", { value: i }, `row ${i}`)));
  choice.value = String(e.row);
  choice.addEventListener("change", () => explainRecord(project, record, Number(choice.value)));
  const x = e.explanation, r = x.rows[0];
  // Multiclass: the predicted class's scores.
  const pick = (v) => (v !== null && typeof v === "object" ? v[String(e.prediction)] : v);
  const contributions = r.contributions[String(e.prediction)] ?? r.contributions;
  const items = Object.entries(contributions).map(([name, v]) => [name, v, e.inputs[name]]);
  items.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const version = e.answered_by === e.model_version ? `v${e.model_version}` : `v${e.model_version} (deployed; v${e.answered_by} answered it)`;
  box.replaceChildren(
    el("h3", {}, `Request ${e.request_id}, `, record.rows > 1 ? choice : `row ${e.row}`, ": predicted ", el("code", {}, String(e.prediction))),
    el("p", { class: "muted small", id: "explanation-sum" },
      `Score ${fmt(pick(r.score), 4)} = base value ${fmt(pick(r.base_value), 4)} + the columns' contributions below. The score is ${x.score}. Explained by ${version}, method ${x.method}.`),
    signedBars(items));
  box.hidden = false;
}

async function explainRecord(project, record, row) {
  const path = `/projects/${enc(project)}/inferences/${enc(record.request_id)}/explanation`;
  try {
    showExplanation(await api("GET", `${path}?at=${enc(record.timestamp)}&row=${row}`), project, record);
  } catch (err) {
    flash(`explain: ${err.message}`);
  }
}

async function loadInferences(project) {
  const body = document.getElementById("inference-rows");
  try {
    const records = await api("GET", `/projects/${enc(project)}/inferences?limit=20`);
    body.replaceChildren(...(records.length ? records.map((r) => {
      const button = el("button", { type: "button", class: "explain", "data-request": r.request_id }, "Explain");
      button.disabled = !r.rows || r.status !== 200;
      if (button.disabled) button.title = r.rows ? "the request was refused: nothing was predicted" : "its inputs were not captured (CONVEYOR_CAPTURE_RATE)";
      button.addEventListener("click", () => explainRecord(project, r, 0));
      return el("tr", { "data-request": r.request_id }, el("td", { class: "when" }, when(r.timestamp)),
        el("td", {}, el("code", {}, r.request_id.slice(0, 12))), el("td", {}, r.model_version ? `v${r.model_version}` : "—"),
        el("td", {}, String(r.status)), el("td", { class: "num" }, r.rows === null ? "—" : String(r.rows)),
        el("td", {}, r.predictions.map(String).join(", ") + (r.rows > r.predictions.length ? ", …" : "")), el("td", {}, button));
    }) : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No requests recorded yet."))]));
  } catch (err) {
    flash(`predictions: ${err.message}`);
  }
}

// A run still in progress: the page is drawn again when it moves to another state.
function watchRun(runId, shown) {
  const timer = setInterval(async () => {
    try {
      const run = await api("GET", `/runs/${enc(runId)}`);
      if (run.state !== shown) { clearInterval(timer); window.location.reload(); }
    } catch (err) {
      clearInterval(timer);
      flash(err.message);
    }
  }, 2000);
}

// -- run and version pages -----------------------------------------------------------------

async function loadRunLogs(runId) {
  const runLog = document.getElementById("run-log");
  const trainingLog = document.getElementById("training-log");
  try {
    const logs = await api("GET", `/runs/${enc(runId)}/logs`);
    runLog.textContent = logs.run_log || "(empty)";
    trainingLog.textContent = logs.training_log || "(no training log)";
  } catch (err) {
    runLog.textContent = trainingLog.textContent = "";
    flash(err.message);
  }
}

function confusionMatrix(cm) {
  const head = el("tr", {}, el("th", {}, "actual ↓ / predicted →"), ...cm.labels.map((l) => el("th", {}, String(l))));
  const peak = Math.max(1, ...cm.matrix.flat());
  const rows = cm.matrix.map((row, i) => el("tr", {}, el("th", {}, String(cm.labels[i])),
    ...row.map((n) => el("td", { style: `background: rgba(9,105,218,${(0.6 * n) / peak})` }, String(n)))));
  return el("table", { class: "grid matrix" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function hbars(pairs) {
  const width = 640, row = 18, left = 170;
  const peak = Math.max(1e-9, ...pairs.map(([, v]) => Math.abs(v)));
  const root = svg("svg", { class: "bars hbars", viewBox: `0 0 ${width} ${pairs.length * row + 4}`, width: "100%", role: "img" });
  pairs.forEach(([label, value], i) => {
    const text = svg("text", { x: left - 6, y: i * row + 13, "text-anchor": "end" });
    text.textContent = String(label).slice(0, 28);
    const w = ((width - left - 60) * Math.abs(value)) / peak;
    const rect = svg("rect", { x: left, y: i * row + 3, width: Math.max(w, 1), height: row - 6, class: "live" });
    const num = svg("text", { x: left + w + 4, y: i * row + 13 });
    num.textContent = fmt(value);
    root.append(text, rect, num);
  });
  return root;
}

// Residuals (true - predicted): ``edges`` has one more entry than ``counts``.
function histogram(edges, counts) {
  const width = 640, height = 200, left = 44, bottom = 22, top = 8;
  const peak = Math.max(1, ...counts);
  const step = (width - left) / counts.length;
  const root = svg("svg", { class: "bars hbars residuals", viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" });
  counts.forEach((count, i) => {
    const h = ((height - top - bottom) * count) / peak;
    const rect = svg("rect", { x: left + i * step + 1, y: height - bottom - h, width: Math.max(step - 2, 1), height: h, class: "live" });
    rect.append(svg("title"));
    rect.firstChild.textContent = `${fmt(edges[i])} to ${fmt(edges[i + 1])}: ${count}`;
    root.append(rect);
  });
  for (const i of [0, Math.floor(counts.length / 2), counts.length]) {
    const text = svg("text", { x: left + i * step, y: height - 6, "text-anchor": "middle" });
    text.textContent = fmt(edges[i]);
    root.append(text);
  }
  const axis = svg("text", { x: 4, y: top + 10 });
  axis.textContent = String(peak);
  root.append(axis);
  return root;
}

async function loadVersionDetails(project, version) {
  const evaluation = document.getElementById("evaluation-plot");
  const importance = document.getElementById("importance-plot");
  try {
    const v = await api("GET", `/projects/${enc(project)}/versions/${version}`);
    const d = v.details;
    drawCurves(document.getElementById("curves-plot"), [{ name: `v${v.version}`, curves: d ? d.curves : null }]);
    if (!d) {
      for (const box of [evaluation, importance]) box.replaceChildren(el("p", { class: "empty" }, "Not recorded for this version (registered before details were kept)."));
      return;
    }
    if (d.confusion_matrix) evaluation.replaceChildren(confusionMatrix(d.confusion_matrix));
    else if (d.residuals) evaluation.replaceChildren(histogram(d.residuals.bins, d.residuals.counts));
    else evaluation.replaceChildren(el("p", { class: "empty" }, "Not recorded."));
    const features = d.feature_importance || [];
    importance.replaceChildren(features.length ? hbars(features.map((f) => [f.feature, f.importance]))
      : el("p", { class: "empty" }, "Not recorded."));
  } catch (err) {
    flash(err.message);
  }
}

// -- settings and delete -------------------------------------------------------------------

function settingsBody(form) {
  const value = (name) => form.elements[name].value.trim();
  const number = (name) => (value(name) === "" ? null : Number(value(name)));
  let hyperparameters;
  try {
    hyperparameters = value("hyperparameters") === "" ? {} : JSON.parse(value("hyperparameters"));
  } catch (err) {
    throw new ApiError(`hyperparameters must be a JSON object, e.g. {"num_leaves": 15}: ${err.message}`);
  }
  const body = {
    task: value("task"),
    algorithm: value("algorithm"),
    hyperparameters,
    metric_floor: number("metric_floor"),
    min_absolute_change: number("min_absolute_change") ?? 0,
    min_relative_change: number("min_relative_change") ?? 0,
    max_reject_share: number("max_reject_share") ?? 0.1,
    manual_deploy: form.elements.manual_deploy.checked,
  };
  if (value("metric") !== "") body.metric = value("metric");
  if (!form.elements.target.disabled) body.target = value("target");
  return body;
}

function wireSettings(project) {
  const form = document.getElementById("settings-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await api("PATCH", `/projects/${enc(project)}`, settingsBody(form));
      flash("Settings saved: the next run uses them", true);
    } catch (err) {
      flash(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  const remove = document.getElementById("delete-project");
  remove.addEventListener("click", async () => {
    const serving = remove.dataset.serving;
    const warning = serving ? ` It serves version ${serving}: /predict/${project} stops answering.` : "";
    if (!window.confirm(`Delete project ${project} and everything it owns? This cannot be undone.${warning}`)) return;
    remove.disabled = true;
    try {
      // The person confirmed, knowing it serves: that is what force says.
      await api("DELETE", `/projects/${enc(project)}?force=${serving ? "true" : "false"}`);
      window.location.assign("/ui");
    } catch (err) {
      flash(err.message);
      remove.disabled = false;
    }
  });
}

// -- start ---------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const { page, project, run, version } = document.body.dataset;
  if (page === "projects") setInterval(loadProjectsOverview, REFRESH_MS);  // drawn by the server first
  if (page === "project") {
    wireActions(project);
    wireUpload(project);
    wireSettings(project);
    wireDrift(project);
    startTraffic(project);
    loadDrift(project);
    loadAlarms(project);
    setInterval(() => loadAlarms(project), REFRESH_MS);
    loadInferences(project);
    document.getElementById("inferences-refresh").addEventListener("click", () => loadInferences(project));
  }
  if (page === "run") {
    loadRunLogs(run);
    if (!TERMINAL.has(document.body.dataset.state)) watchRun(run, document.body.dataset.state);
  }
  if (page === "version") loadVersionDetails(project, version);
});
