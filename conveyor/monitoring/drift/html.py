"""A drift report as one self-contained HTML page: inline CSS and SVG, no script, nothing
fetched, so it opens anywhere (a mail attachment, an air-gapped machine) and looks the same.

A summary on top, then one card per feature, drifted first, with its distribution in
training beside the live one on the same bins.
"""

from __future__ import annotations

from html import escape
from typing import Any

from conveyor.monitoring.drift.check import DriftReport

_MAX_BARS = 24
_WIDTH, _HEIGHT = 560, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 10, 14, 76
_STATUS_COLOURS = {"OK": "#1a7f37", "DRIFT": "#cf222e", "INSUFFICIENT_DATA": "#9a6700"}


def render_html(report: DriftReport) -> str:
    """The report as a complete HTML document."""
    cards = []
    if report.prediction.get("available"):
        cards.append(_card("predictions", report.prediction, prediction=True))
    cards += [_card(name, feature) for name, feature in report.features.items()]
    title = f"Drift: {report.project} v{report.model_version} — {report.status}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style></head>
<body>
{_summary(report)}
<main class="cards">
{"".join(cards)}
</main>
<footer>{escape(_thresholds_text(report))}</footer>
</body></html>
"""


def _summary(report: DriftReport) -> str:
    colour = _STATUS_COLOURS.get(report.status, "#57606a")
    drifted = report.drifted
    total = len(report.features)
    if report.status == "INSUFFICIENT_DATA":
        headline = (
            f"Only {report.rows:,} request rows in the window: at least "
            f"{report.thresholds.get('min_rows', 100)} are needed for a verdict."
        )
    elif drifted:
        names = ", ".join(escape(n) for n in drifted)
        headline = f"{len(drifted)} of {total} features drifted: <b>{names}</b>."
    else:
        headline = f"None of the {total} features drifted."
    prediction = report.prediction
    if prediction.get("available"):
        pred = (
            f"Predictions: <b>{escape(prediction['verdict'])}</b> (PSI {_num(prediction['psi'])})."
        )
    else:
        pred = f"Predictions: not compared ({escape(prediction.get('reason', 'unavailable'))})."
    ev = report.evidently
    evidently = (
        f"Evidently's default rule on the same window flags {len(ev.get('drifted_features', []))} "
        f"of {total} features ({ev.get('share', 0):.0%}); dataset drift: "
        f"{'yes' if ev.get('dataset_drift') else 'no'}."
    )
    window = f"{report.window_start:%Y-%m-%d %H:%M:%S} to {report.window_end:%Y-%m-%d %H:%M:%S} UTC"
    return f"""<header>
<div class="title">
<h1>{escape(report.project)} <span class="version">v{report.model_version}</span></h1>
<span class="status" style="background:{colour}">{escape(report.status)}</span></div>
<p class="headline">{headline}</p>
<p>{pred} {evidently}</p>
<p class="meta">{report.rows:,} request rows from {report.records:,} records, {window};
checked {report.checked_at:%Y-%m-%d %H:%M:%S} UTC.
<span class="key"><i class="swatch base"></i>training <i class="swatch live"></i>live</span></p>
</header>"""


def _card(name: str, feature: dict[str, Any], *, prediction: bool = False) -> str:
    verdict = feature.get("verdict", "ok")
    kind = "prediction" if prediction else feature.get("kind", "")
    chart = _chart(feature.get("plot"), drifted=verdict == "drift")
    facts = _facts(feature, prediction=prediction)
    reasons = "".join(f"<li>{escape(r)}</li>" for r in feature.get("reasons") or [])
    return f"""<section class="card {escape(verdict)}" data-feature="{escape(name)}">
<div class="card-head"><h2>{escape(name)}</h2><span class="kind">{escape(kind)}</span>
<span class="verdict {escape(verdict)}">{escape(verdict)}</span></div>
{chart}
<dl>{facts}</dl>
{f'<ul class="reasons">{reasons}</ul>' if reasons else ""}
</section>"""


def _facts(feature: dict[str, Any], *, prediction: bool) -> str:
    rows = [("PSI", _num(feature.get("psi")))]
    if feature.get("ks"):
        ks = feature["ks"]
        rows.append(("KS", f"{_num(ks['statistic'])} (p {_p(ks['p_value'])})"))
    elif feature.get("test") == "chi-square":
        rows.append(("chi-square p", _p(feature.get("p_value"))))
    missing = feature.get("missing")
    if missing:
        rows.append(("missing", f"{missing['baseline']:.1%} → {missing['live']:.1%}"))
    if feature.get("unseen"):
        examples = ", ".join(feature.get("unseen_values") or [])
        rows.append(("not in training", f"{feature['unseen']:,} ({examples})"))
    evidently = feature.get("evidently") or {}
    if evidently.get("test") and not prediction:
        flag = "drift" if evidently["drift"] else "ok"
        rows.append(("Evidently", f"{evidently['test']} {_num(evidently['score'])}: {flag}"))
    if feature.get("note"):
        rows.append(("note", feature["note"]))
    return "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)


def _chart(plot: dict[str, Any] | None, *, drifted: bool) -> str:
    if not plot or not plot.get("labels"):
        return '<p class="empty">Not enough values to plot.</p>'
    labels, base, live = plot["labels"], plot["baseline"], plot["live"]
    if len(labels) > _MAX_BARS:  # the categories that matter most, in their order
        keep = sorted(range(len(labels)), key=lambda i: -max(base[i], live[i]))[:_MAX_BARS]
        keep.sort()
        labels = [labels[i] for i in keep]
        base, live = [base[i] for i in keep], [live[i] for i in keep]
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    top = _nice_top(max([*base, *live, 0.01]))
    group = plot_w / len(labels)
    bar = max(1.0, group * 0.38)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" width="100%" role="img" '
        f'aria-label="training and live shares per bin">'
    ]
    for step in range(5):
        share = top * step / 4
        y = _TOP + plot_h * (1 - share / top)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}">{share:.0%}</text>'
        )
    live_class = "live drift" if drifted else "live"
    for i, label in enumerate(labels):
        x = _LEFT + i * group + (group - 2 * bar) / 2
        for offset, share, css, who in (
            (0, base[i], "base", "training"),
            (bar, live[i], live_class, "live"),
        ):
            height = plot_h * share / top
            parts.append(
                f'<rect class="{css}" x="{x + offset:.1f}" y="{_TOP + plot_h - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}"><title>{escape(label)}: '
                f"{who} {share:.1%}</title></rect>"
            )
        cx = _LEFT + (i + 0.5) * group
        short = label if len(label) <= 16 else label[:15] + "…"
        parts.append(
            f'<text class="label" transform="translate({cx:.1f},{_TOP + plot_h + 10}) '
            f'rotate(-35)">{escape(short)}<title>{escape(label)}</title></text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" '
        f'y1="{_TOP + plot_h}" y2="{_TOP + plot_h}"/></svg>'
    )
    return "".join(parts)


def _nice_top(value: float) -> float:
    # Tops whose quarters are round percentages.
    for top in (0.04, 0.08, 0.12, 0.16, 0.2, 0.4, 0.6, 0.8, 1.0):
        if value <= top:
            return top
    return 1.0


def _thresholds_text(report: DriftReport) -> str:
    t = report.thresholds
    return (
        f"A feature drifts when PSI >= {t.get('psi')} and its test's p-value is below "
        f"{t.get('alpha')} shared out over every test of the check (Bonferroni), or when its "
        f"missing rate moves by {t.get('missing_change')} or more just as significantly. "
        "Bins: training's deciles (numeric), its categories (categorical). "
        "Generated by conveyor; this page loads nothing from the network."
    )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "< 1e-16" if value < 1e-16 else f"{value:.2g}"


_CSS = """
:root { --base: #8c959f; --live: #0969da; --drift: #cf222e; --ink: #1f2328; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #f6f8fa; }
header { background: #fff; border: 1px solid #d0d7de; border-radius: 10px; padding: 18px 22px;
  margin-bottom: 20px; }
.title { display: flex; align-items: center; gap: 14px; }
h1 { margin: 0; font-size: 24px; } .version { color: var(--muted); font-weight: 400; }
.status { color: #fff; font-weight: 700; padding: 4px 12px; border-radius: 999px;
  letter-spacing: .04em; font-size: 13px; }
.headline { font-size: 17px; margin: 12px 0 6px; }
header p { margin: 4px 0; } .meta { color: var(--muted); font-size: 13px; }
.key { margin-left: 12px; white-space: nowrap; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin: 0 4px 0 10px; vertical-align: -1px; }
.swatch.base { background: var(--base); } .swatch.live { background: var(--live); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 10px; padding: 14px 16px; }
.card.drift { border-color: var(--drift); box-shadow: 0 0 0 1px var(--drift) inset; }
.card-head { display: flex; align-items: baseline; gap: 10px; }
.card-head h2 { margin: 0; font-size: 16px; word-break: break-all; }
.kind { color: var(--muted); font-size: 12px; }
.verdict { margin-left: auto; font-weight: 700; font-size: 12px; padding: 2px 10px;
  border-radius: 999px; text-transform: uppercase; background: #dafbe1; color: #1a7f37; }
.verdict.drift { background: #ffebe9; color: var(--drift); }
.chart { display: block; margin: 8px 0 4px; }
.chart .base { fill: var(--base); } .chart .live { fill: var(--live); }
.chart .live.drift { fill: var(--drift); }
.chart .grid { stroke: #eaeef2; } .chart .axis { stroke: #8c959f; }
.chart .tick { font-size: 11px; fill: var(--muted); text-anchor: end; }
.chart .label { font-size: 11px; fill: var(--ink); text-anchor: end; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0 0;
  font-size: 13px; }
dt { color: var(--muted); } dd { margin: 0; font-variant-numeric: tabular-nums; }
.reasons { margin: 8px 0 0; padding-left: 18px; color: var(--drift); font-size: 13px; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; margin-top: 22px; max-width: 900px; }
"""
