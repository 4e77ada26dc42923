// A version's curves (conveyor.model.curves) drawn with uPlot: one chart per kind, one line per
// version, so the version page (one version) and the compare page (several) draw them alike.
// Uses el(), fmt() and window.conveyor from ui.js.
"use strict";

const PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#9a6700", "#bc4c00", "#1b7c83", "#bf3989", "#57606a", "#4d2d00"];
const GUIDE = "#8c959f";
// LightGBM's names of the metrics it records, as a reader knows them.
const METRIC_WORDS = { binary_logloss: "log-loss", multi_logloss: "log-loss", l2: "squared error", l1: "absolute error", rmse: "RMSE", auc: "ROC-AUC" };

// Dots and dashed rules drawn over a chart: the decision threshold's point, the round early
// stopping chose. uPlot draws series; these are annotations on its canvas.
function drawMarks(u, marks, rules, labelsBelow) {
  const ctx = u.ctx;
  const px = window.devicePixelRatio || 1;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.font = `${11 * px}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  rules.forEach((rule, i) => {
    const x = u.valToPos(rule.x, "x", true);
    ctx.strokeStyle = rule.stroke;
    ctx.lineWidth = px;
    ctx.setLineDash([5 * px, 4 * px]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = rule.stroke;
    const right = x > left + width * 0.6;
    ctx.textAlign = right ? "right" : "left";
    ctx.fillText(rule.text, x + (right ? -4 : 4) * px, top + (10 + 14 * i) * px);
  });
  let labelled = 0;  // labels of several versions' dots are stacked, not written over each other
  for (const mark of marks) {
    if (mark.x == null || mark.y == null) continue;
    const x = u.valToPos(mark.x, "x", true);
    const y = u.valToPos(mark.y, "y", true);
    const r = (mark.r || 6) * px;
    for (const [radius, colour] of [[r + 2 * px, "#ffffff"], [r, mark.stroke]]) {
      ctx.beginPath();
      ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = colour;
      ctx.fill();
    }
    if (!mark.text) continue;
    ctx.fillStyle = mark.stroke;
    const right = x > left + width * 0.7;
    ctx.textAlign = right ? "right" : "left";
    const below = labelsBelow ? y < top + height - (16 + 14 * labelled) * px : y < top + (16 + 14 * labelled) * px;
    const shift = (10 + 14 * labelled) * px;
    ctx.fillText(mark.text, x + (right ? -9 : 9) * px, below ? y + shift : y - shift);
    labelled += 1;
  }
  ctx.restore();
}

// One uPlot chart of lines that need not share their x values (uPlot's mode 2).
//   spec: { id, x: {label, range}, y: {label, range}, lines: [{label, stroke, xs, ys, dash,
//           scatter}], marks: [{x, y, stroke, text, r}], rules: [{x, stroke, text}],
//           labelsBelow: the marks' labels under their dots, where the curve leaves room }
// A scatter line is drawn as points alone (in mode 2 uPlot draws no points on a line).
function curveChart(target, spec) {
  const marks = spec.marks || [], rules = spec.rules || [];
  const scale = (range) => (range ? { auto: false, range } : { auto: true });
  const options = {
    mode: 2,
    width: Math.max(280, target.clientWidth),
    height: 240,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, ...scale(spec.x.range) }, y: scale(spec.y.range) },
    axes: [
      { label: spec.x.label, labelSize: 18, size: 34, labelFont: "12px system-ui", font: "11px system-ui" },
      { label: spec.y.label, labelSize: 18, size: 58, labelFont: "12px system-ui", font: "11px system-ui" },
    ],
    series: [{}, ...spec.lines.map((line) => ({
      label: line.label,
      stroke: line.stroke,
      width: line.width || 2,
      dash: line.dash,
      fill: line.scatter ? `${line.stroke}55` : undefined,
      paths: line.scatter ? uPlot.paths.points() : undefined,
      points: { show: false },
    }))],
    hooks: { draw: [(u) => drawMarks(u, marks, rules, spec.labelsBelow)] },
  };
  const chart = new uPlot(options, [null, ...spec.lines.map((line) => [line.xs, line.ys])], target);
  chart.marks = marks;
  chart.rules = rules;
  window.conveyor.charts[spec.id] = chart;
  return chart;
}

function figure(id, caption) {
  const holder = el("div", { class: "chart", id });
  return [el("figure", { class: "curve" }, el("figcaption", {}, caption), holder), holder];
}

const guide = (label, xs, ys) => ({ label, stroke: GUIDE, width: 1, dash: [6, 4], xs, ys });

function rocSpec(entries, prefix) {
  const shown = entries.filter((e) => e.curves.roc);
  if (!shown.length) return null;
  return {
    id: `${prefix}roc`,
    caption: "ROC on the test split: true against false positive rate; the dot is the decision threshold",
    labelsBelow: true,  // a ROC curve rises to the left of its dots: the room is below
    x: { label: "false positive rate", range: [0, 1] },
    y: { label: "true positive rate", range: [0, 1.02] },
    lines: [...shown.map((e) => ({ label: `${e.name} (AUC ${fmt(e.curves.roc.auc)})`, stroke: e.color, xs: e.curves.roc.fpr, ys: e.curves.roc.tpr })),
      guide("chance", [0, 1], [0, 1])],
    marks: shown.map((e) => ({ x: e.curves.roc.threshold.fpr, y: e.curves.roc.threshold.tpr, stroke: e.color, text: `${shown.length > 1 ? e.name + " " : ""}threshold ${fmt(e.curves.roc.threshold.value, 2)}` })),
  };
}

function precisionRecallSpec(entries, prefix) {
  const shown = entries.filter((e) => e.curves.precision_recall);
  if (!shown.length) return null;
  const share = shown[0].curves.precision_recall.positive_share;
  return {
    id: `${prefix}pr`,
    caption: "Precision against recall on the test split; the dot is the decision threshold",
    x: { label: "recall", range: [0, 1] },
    y: { label: "precision", range: [0, 1.02] },
    lines: [...shown.map((e) => ({ label: `${e.name} (AP ${fmt(e.curves.precision_recall.average_precision)})`, stroke: e.color, xs: e.curves.precision_recall.recall, ys: e.curves.precision_recall.precision })),
      guide(`chance (${(100 * share).toFixed(0)}% positive)`, [0, 1], [share, share])],
    marks: shown.map((e) => ({ x: e.curves.precision_recall.threshold.recall, y: e.curves.precision_recall.threshold.precision, stroke: e.color, text: `${shown.length > 1 ? e.name + " " : ""}threshold ${fmt(e.curves.precision_recall.threshold.value, 2)}` })),
  };
}

function calibrationSpec(entries, prefix) {
  const shown = entries.filter((e) => e.curves.calibration);
  if (!shown.length) return null;
  const label = shown[0].curves.calibration.label;
  const topLabel = label === "P(predicted class)";
  return {
    id: `${prefix}calibration`,
    caption: `Reliability on the test split (10 bins): ${topLabel ? "how often the predicted class was right" : "the share of positives"} against the mean predicted probability`,
    x: { label: `mean predicted ${label}`, range: [0, 1] },
    y: { label: topLabel ? "share right" : "share positive", range: [0, 1.02] },
    lines: [...shown.map((e) => ({ label: e.name, stroke: e.color, xs: e.curves.calibration.predicted, ys: e.curves.calibration.observed })),
      guide("perfectly calibrated", [0, 1], [0, 1])],
    // Each bin a dot: a bin of few rows is a point, not a trend.
    marks: shown.flatMap((e) => e.curves.calibration.predicted.map((x, i) => ({ x, y: e.curves.calibration.observed[i], stroke: e.color, r: 3 }))),
  };
}

function learningSpec(entries, prefix) {
  const shown = entries.filter((e) => e.curves.learning);
  if (!shown.length) return null;
  const first = shown[0].curves.learning;
  return {
    id: `${prefix}learning`,
    caption: `Learning curve: ${first.metric} (LightGBM's) on the ${first.source} per boosting round; the dashed line is where early stopping stopped`,
    x: { label: "boosting round" },
    y: { label: METRIC_WORDS[first.metric] || first.metric },
    lines: shown.map((e) => ({ label: e.name, stroke: e.color, xs: e.curves.learning.iterations, ys: e.curves.learning.values })),
    rules: shown.map((e) => ({ x: e.curves.learning.best_iteration, stroke: e.color, text: `${shown.length > 1 ? e.name + " " : ""}early stop: round ${e.curves.learning.best_iteration}` })),
  };
}

function residualSpec(entries, prefix) {
  const shown = entries.filter((e) => e.curves.residuals);
  if (!shown.length) return null;
  const xs = shown.flatMap((e) => e.curves.residuals.predicted);
  const low = Math.min(...xs), high = Math.max(...xs);
  const pad = 0.03 * (high - low || 1);  // the outermost points whole, not cut by the frame
  const sampled = shown.map((e) => `${e.name}: ${e.curves.residuals.predicted.length} of ${e.curves.residuals.rows} test rows`).join(", ");
  return {
    id: `${prefix}residuals`,
    caption: `Residuals against predictions on the test split (${sampled})`,
    x: { label: "predicted", range: [low - pad, high + pad] },
    y: { label: "residual (true − predicted)" },
    lines: [...shown.map((e) => ({ label: e.name, stroke: e.color, scatter: true, xs: e.curves.residuals.predicted, ys: e.curves.residuals.residual })),
      guide("zero", [low, high], [0, 0])],
  };
}

function perClassTable(entries) {
  const shown = entries.filter((e) => e.curves.per_class);
  if (!shown.length) return null;
  const labels = [...new Set(shown.flatMap((e) => e.curves.per_class.map((c) => c.label)))];
  const several = shown.length > 1;
  const head = el("tr", {}, el("th", {}, "class"), ...shown.flatMap((e) => ["precision", "recall", "F1"].map((m) =>
    el("th", { class: "num" }, several ? `${e.name} ${m}` : m))), el("th", { class: "num" }, "test rows"));
  const rows = labels.map((label) => {
    const cells = shown.flatMap((e) => {
      const c = e.curves.per_class.find((item) => item.label === label);
      return [c?.precision, c?.recall, c?.f1].map((v) => el("td", { class: "num" }, fmt(v)));
    });
    const support = shown[0].curves.per_class.find((item) => item.label === label)?.support;
    return el("tr", {}, el("td", {}, label), ...cells, el("td", { class: "num" }, support == null ? "—" : String(support)));
  });
  return el("div", { class: "per-class" }, el("h3", {}, "Per class on the test split"),
    el("table", { class: "grid", id: "per-class" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// ``entries``: [{ name: "v3", curves: {...} | null }]; colours follow their order.
function drawCurves(box, entries, prefix = "curve-") {
  const coloured = entries.map((e, i) => ({ ...e, color: PALETTE[i % PALETTE.length] }));
  const recorded = coloured.filter((e) => e.curves);
  const missing = coloured.filter((e) => !e.curves);
  const notes = missing.map((e) => el("p", { class: "empty curves-missing" },
    `No curves for ${e.name}: it was trained before conveyor kept them; a new run of its data records them.`));
  if (!recorded.length) { box.replaceChildren(...notes); return; }
  const specs = [rocSpec, precisionRecallSpec, calibrationSpec, learningSpec, residualSpec]
    .map((make) => make(recorded, prefix)).filter(Boolean);
  const grid = el("div", { class: "charts curves" });
  const table = perClassTable(recorded);
  box.replaceChildren(...notes, grid, ...(table ? [table] : []));
  for (const spec of specs) {
    const [fig, holder] = figure(spec.id, spec.caption);
    grid.append(fig);
    curveChart(holder, spec);
  }
}
