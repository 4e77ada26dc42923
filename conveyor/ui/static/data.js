// The data view's distributions (/ui/projects/<p>/datasets/<id>): one uPlot chart per column,
// from GET /api/v1/projects/<p>/datasets/<id>. A histogram of numbers and dates (bars over
// equal-width bins, x in the column's own unit, y the share of values), the most frequent
// values of the rest (horizontal bars, one per value, the remainder as "other").
// Uses api, fmt, flash and enc from ui.js (loaded first).
"use strict";

const BAR_FILL = "rgba(9,105,218,0.45)";
const BAR_STROKE = "#0969da";
// No legend: the axes say what is drawn, and each bar of top values carries its share.
const STILL = { legend: { show: false }, cursor: { show: false } };

function histogramOptions(name, d, width) {
  const dates = d.unit === "epoch_days";
  const scale = dates ? 86400 : 1;  // uPlot's time axis is in seconds
  const edges = d.edges.map((e) => e * scale);
  const whole = !dates && edges.every((e) => Number.isInteger(e + 0.5)) && edges[1] - edges[0] === 1;
  const options = {
    ...STILL, width, height: 220,
    scales: {
      x: { time: dates, range: () => [edges[0], edges[edges.length - 1]] },
      y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.15] },
    },
    series: [
      { label: name },
      {
        label: "share of values", fill: BAR_FILL, stroke: BAR_STROKE, width: 1,
        paths: uPlot.paths.bars({ size: [0.92, Infinity] }), points: { show: false },
      },
    ],
    axes: [
      { label: dates ? `${name} (date)` : name, labelSize: 20, ...(whole ? { incrs: [1, 2, 5, 10, 20, 50] } : {}) },
      { label: "% of values", labelSize: 20, size: 48, values: (u, splits) => splits.map((v) => `${fmt(v, 2)}%`) },
    ],
  };
  const centers = d.counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  return [options, [centers, d.shares.map((s) => 100 * s)]];
}

function topValuesOptions(name, d, width) {
  const rows = d.values.map((v) => [v.value, v.share, v.count]);
  if (d.other && d.other.count > 0) {
    const many = d.other.values == null ? "other values" : `${d.other.values} other value${d.other.values === 1 ? "" : "s"}`;
    rows.push([many, d.other.share, d.other.count]);
  }
  const labels = rows.map(([label]) => (label.length > 22 ? `${label.slice(0, 21)}…` : label));
  const indices = rows.map((_, i) => i);
  const options = {
    ...STILL, width, height: 70 + 26 * rows.length,
    hooks: { draw: [labelBars] },
    scales: {
      x: { time: false, ori: 1, dir: -1, range: () => [-0.5, rows.length - 0.5] },
      y: { ori: 0, range: (u, min, max) => [0, Math.max(max, 1) * 1.15] },
    },
    series: [
      { label: name },
      {
        label: "share of values", fill: BAR_FILL, stroke: BAR_STROKE, width: 1,
        paths: uPlot.paths.bars({ size: [0.7, Infinity] }), points: { show: false },
      },
    ],
    axes: [
      { side: 3, splits: () => indices, values: (u, splits) => splits.map((i) => labels[i] ?? ""), size: 150, gap: 6, grid: { show: false } },
      { side: 2, label: "% of values", labelSize: 20, space: 60, values: (u, splits) => splits.map((v) => `${fmt(v, 2)}%`) },
    ],
  };
  return [options, [indices, rows.map(([, share]) => 100 * share)]];
}

// Each horizontal bar's share written just past its end.
function labelBars(u) {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = `${Math.round(11 * uPlot.pxRatio)}px system-ui, sans-serif`;
  ctx.fillStyle = "#57606a";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";  // uPlot leaves the last axis's alignment set
  u.data[1].forEach((share, i) => {
    ctx.fillText(`${share.toFixed(1)}%`, u.valToPos(share, "y", true) + 4 * uPlot.pxRatio, u.valToPos(i, "x", true));
  });
  ctx.restore();
}

async function loadDataView(project, dataset) {
  let view;
  try {
    view = await api("GET", `/projects/${enc(project)}/datasets/${enc(dataset)}`);
  } catch (err) {
    flash(err.message);
    return;
  }
  for (const column of view.columns) {
    const d = column.distribution;
    const card = document.querySelector(`.dist-card[data-column="${CSS.escape(column.name)}"]`);
    if (!d || !card) continue;
    const target = card.querySelector(".dist-plot");
    const width = Math.max(280, target.clientWidth);
    const [options, data] = d.type === "histogram"
      ? histogramOptions(column.name, d, width) : topValuesOptions(column.name, d, width);
    target.replaceChildren();
    window.conveyor.charts[card.id] = new uPlot(options, data, target);
  }
  document.body.dataset.drawn = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  const { page, project, dataset } = document.body.dataset;
  if (page === "data") loadDataView(project, dataset);
});
