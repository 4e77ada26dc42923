"""BENCHMARKS.md's Explanations section, from bench/explain.py's figures (no imports of the
benchmark itself, so that bench.report loads without the bench extra's packages)."""

from __future__ import annotations

from typing import Any


def section(e: dict[str, Any]) -> list[str]:
    """BENCHMARKS.md's Explanations section."""
    same = e["explain_false_1_row_branch_over_main"]
    one = e["explain_true_over_false_1_row"]
    hundred = e["explain_true_over_false_100_rows_1_connection"]
    inside = e["in_process"]
    hot = e["hot_path"]
    machine = e["machine"]
    return [
        "",
        "## Explanations",
        "",
        "`.venv/bin/python -m bench.explain` (bench/explain.py, run alone: it writes "
        "bench/results/explain.json and this section). The serving model above, served by "
        "`conveyor serve` with recording off, and by a second server running main's code; wrk "
        f"in back-to-back pairs of {e['seconds_per_run']}-second runs ({e['same_pairs']} pairs "
        f"against main, {e['pairs']} for explain's cost), each pair's order the last one's "
        "reversed, each pair's own ratio kept, each side warmed by a run first. An explained "
        "request is scored on a thread, as a large batch is, so the event loop keeps "
        "answering the others.",
        "",
        "| comparison | median of the pairs' ratios: req/s | server CPU per request | "
        "CPU µs per request (first / second) | p50 ms (first / second) |",
        "|---|---|---|---|---|",
        _line(f"explain=false, 1 row, {e['connections']} connections: this code / main's", same),
        _line(f"1 row, {e['connections']} connections: explain=true / false", one),
        _line(
            f"100 rows, 1 connection ({2 * e['seconds_per_run']} s runs): explain=true / false",
            hundred,
        ),
        *_family_lines(e),
        "",
        f"Each pair's ratios, this code / main's: req/s {same['pair_ratios']}; server CPU per "
        f"request {same['cpu_pair_ratios']}.",
        "",
        f"Without sockets (bench/hot_path_child.py): the server's ASGI app called with a one-row "
        f"body in a process of each code, {hot['blocks']} alternating blocks of "
        f"{hot['calls_per_block']:,} requests: CPU per request {hot['branch_us']} µs with this "
        f"code, {hot['main_us']} µs with main's; each block's ratio, this / main, "
        f"{hot['block_ratios']}, their median **{hot['branch_over_main_cpu']}**.",
        "",
        "In the process, without HTTP (median of repeated calls on the same rows), "
        "`predict_records` against `explain_records`. TreeSHAP walks every path of every tree "
        "for each output, where a prediction follows one path per tree; the linear model's "
        "terms are its prediction's own products. An explained request also predicts: its "
        "cost is the two columns' sum. scikit-learn's HistGradientBoosting predicts one row "
        "through OpenMP's threads, which on this shared 2-core machine wait for each other "
        "(why a search does not serve it, conveyor.model.one_row), while shap's TreeSHAP runs "
        "on one thread: its explanation costs less than its prediction. A blend of "
        "classifiers explains each member, then carries each member's values to its "
        "probability (conveyor.model.ensemble_explain): what that adds is the difference "
        "between its row and the sum of its members'.",
        "",
        "| model | explanation | predict, 1 row µs | explain, 1 row µs | ratio | "
        "predict, 100 rows µs | explain, 100 rows µs | ratio |",
        "|---|---|---|---|---|---|---|---|",
        _in_process_line("LightGBM, 100 trees (the serving model above)", "tree_shap", inside),
        *(
            _in_process_line(f"{_NAMES[name]}: {f['data']}", f["method"], f["in_process"])
            for name, f in e.get("families", {}).items()
            if "error" not in f
        ),
        *(
            [
                _in_process_line(
                    "blend of classifiers: the LightGBM model above 0.6 and the linear model "
                    "0.4 (in the process only: no search here deploys one reliably)",
                    "in probability",
                    e["binary_blend_in_process"],
                )
            ]
            if "binary_blend_in_process" in e
            else []
        ),
        "",
        f"Measured {machine['date']} on {machine['machine']}; 1-minute load average "
        f"{e['load_average_1min'][0]} before, {e['load_average_1min'][1]} after (the machine "
        "is shared: the ratios, not the absolute figures, are the result).",
    ]


def _line(label: str, c: dict[str, Any]) -> str:
    unanswered = c.get("pairs_without_answers") or 0
    if unanswered * 2 > len(c["first_rps"]):
        return (
            f"| {label}: not measured, {unanswered} of {len(c['first_rps'])} pairs had a run "
            f"with no answer (req/s, explain=true: {c['first_rps']}; false: "
            f"{c['second_rps']}) | | | | |"
        )
    if unanswered:
        label += f" ({unanswered} pairs with a run that got no answer left out)"
    return (
        f"| {label} | {c['first_over_second_rps']} | {c['first_over_second_cpu_per_request']} | "
        f"{c['first_cpu_us']} / {c['second_cpu_us']} | {c['first_p50_ms']:.2f} / "
        f"{c['second_p50_ms']:.2f} |"
    )


# bench/explain_families.py's families, as the tables name them.
_NAMES = {
    "catboost": "CatBoost",
    "linear": "linear model",
    "sklearn": "HistGradientBoosting",
    "ensemble": "regression ensemble",
}


def _family_lines(e: dict[str, Any]) -> list[str]:
    """The table's rows of bench/explain_families.py's families, two each."""
    lines = []
    for name, f in e.get("families", {}).items():
        if "error" in f:
            lines.append(f"| {_NAMES[name]}: not measured ({f['error']}) | | | | |")
            continue
        lines += [
            _line(
                f"{_NAMES[name]}, 1 row, {e['connections']} connections: explain=true / false",
                f["explain_true_over_false_1_row"],
            ),
            _line(
                f"{_NAMES[name]}, 100 rows, 1 connection: explain=true / false",
                f["explain_true_over_false_100_rows_1_connection"],
            ),
        ]
    return lines


def _in_process_line(label: str, method: str, c: dict[str, Any]) -> str:
    return (
        f"| {label} | {method} | {c['predict_1_us']:,.0f} | {c['explain_1_us']:,.0f} | "
        f"{c['explain_over_predict_1']}x | {c['predict_100_us']:,.0f} | "
        f"{c['explain_100_us']:,.0f} | {c['explain_over_predict_100']}x |"
    )
