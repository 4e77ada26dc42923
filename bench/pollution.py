"""Pollock-style scores of CSV loaders on polluted variants of real tables (tests/pollution.py).

Every kind of pollution is applied to every clean table of the corpus (scikit-learn's bundled
CSVs and conveyor's churn sample); each loader reads each variant and is scored as Pollock
scores (success + header, record and cell precision/recall/F1: 0 to 10 a file). Printed: the
simple mean over files and the mean weighted by how common each kind is in real files
(``WEIGHTS``), per loader, side by side, and the per-kind scores.

Loaders:
- ``conveyor``: this checkout's ``read_table`` (its own consistency sniffer);
- ``conveyor+clevercsv`` / ``conveyor+duckdb``: the same reader with the dialect from
  CleverCSV's detector or DuckDB's ``sniff_csv`` instead (to choose the sniffer);
- ``main``: the reader of the checkout at ``--main`` (default /work/main), in its own venv;
- ``duckdb``: plain DuckDB ``read_csv`` with auto-detection (``all_varchar``: values as
  loaded, not typed).

``python bench/pollution.py [--rows N] [--main PATH] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pollution import FAILED, WEIGHTS, Score, Table, corpus, score, variants  # noqa: E402

Loaded = tuple[list[str], list[list[Any]]]

# Run by the other checkout's interpreter: reads each file with its read_raw, prints JSON.
_MAIN_SCRIPT = r"""
import json, sys
from pathlib import Path
from conveyor.tabular.read import read_raw
out = {}
for name in json.load(open(sys.argv[1])):
    try:
        frame = read_raw(Path(name))
        out[name] = [list(frame.columns), [list(r) for r in frame.rows()]]
    except Exception as exc:
        out[name] = str(exc)[:200]
json.dump(out, open(sys.argv[2], "w"), default=str)
"""


def _conveyor(path: Path) -> Loaded:
    from conveyor.tabular.read import read_table

    frame, _ = read_table(path)
    return list(frame.columns), [list(r) for r in frame.rows()]


def _with_sniffer(sniffer: Callable[[str], Any]) -> Callable[[Path], Loaded]:
    def load(path: Path) -> Loaded:
        import conveyor.tabular.read as read

        original = read.sniff
        read.sniff = sniffer
        try:
            return _conveyor(path)
        finally:
            read.sniff = original

    return load


def _clevercsv_sniff(sample: str) -> Any:
    import clevercsv

    from conveyor.tabular.dialect import Dialect, decimal_mark, line_ending

    found = clevercsv.Detector().detect(sample)
    if found is None:
        return Dialect()
    dialect = Dialect(found.delimiter or ",", found.quotechar or '"', found.escapechar or None)
    return Dialect(
        dialect.delimiter,
        dialect.quote,
        dialect.escape,
        line_ending(sample),
        decimal_mark(dialect.parse(sample), dialect.delimiter),
    )


def _duckdb_sniff(sample: str) -> Any:
    import duckdb

    from conveyor.tabular.dialect import Dialect, line_ending

    with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8", newline="") as f:
        f.write(sample)
        f.flush()
        rows = duckdb.sql(f"select Delimiter, Quote, Escape from sniff_csv('{f.name}')")
        delimiter, quote, escape = rows.fetchall()[0]
    quote = quote if quote and len(quote) == 1 else '"'
    escape = escape if escape and len(escape) == 1 and escape != quote else None
    return Dialect(delimiter if len(delimiter) == 1 else ",", quote, escape, line_ending(sample))


def _duckdb(path: Path) -> Loaded:
    import duckdb

    # Every column as text: the values as loaded, not DuckDB's typing of yes/no and dates.
    relation = duckdb.read_csv(str(path), all_varchar=True)
    return list(relation.columns), [list(r) for r in relation.fetchall()]


def _run_main(main: Path, files: list[Path]) -> dict[str, Any]:
    python = main / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory() as tmp:
        names, out = Path(tmp) / "files.json", Path(tmp) / "out.json"
        names.write_text(json.dumps([str(f) for f in files]))
        subprocess.run(
            [str(python), "-c", _MAIN_SCRIPT, str(names), str(out)], cwd=main, check=True
        )
        return dict(json.loads(out.read_text()))


def _score(expected: Table, loaded: Loaded | str) -> Score:
    if isinstance(loaded, str):
        return FAILED
    header, rows = loaded
    return score(expected, header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows of each clean table")
    parser.add_argument("--main", type=Path, default=Path("/work/main"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    loaders: dict[str, Callable[[Path], Loaded]] = {
        "conveyor": _conveyor,
        "conveyor+clevercsv": _with_sniffer(_clevercsv_sniff),
        "conveyor+duckdb": _with_sniffer(_duckdb_sniff),
        "duckdb": _duckdb,
    }
    results: dict[str, list[tuple[str, float]]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for table in corpus(args.rows):
            for variant in variants(table):
                path = Path(tmp) / f"{table.name}-{variant.kind}{variant.suffix}"
                path.write_bytes(variant.content)
                cases.append((path, variant))
        for name, load in loaders.items():
            for path, variant in cases:
                start = time.perf_counter()
                try:
                    loaded: Loaded | str = load(path)
                except Exception as exc:
                    loaded = str(exc)
                seconds[name] += time.perf_counter() - start
                results[name].append((variant.kind, _score(variant.expected, loaded).total))
        if args.main.exists():
            start = time.perf_counter()
            out = _run_main(args.main, [p for p, _ in cases])
            seconds["main"] = time.perf_counter() - start
            for path, variant in cases:
                results["main"].append(
                    (variant.kind, _score(variant.expected, out[str(path)]).total)
                )
    report = _summarise(results, seconds, len(cases))
    print(_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _summarise(
    results: dict[str, list[tuple[str, float]]], seconds: dict[str, float], files: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"files": files, "loaders": {}}
    for name, scored in results.items():
        by_kind: dict[str, list[float]] = defaultdict(list)
        for kind, total in scored:
            by_kind[kind].append(total)
        simple = sum(t for _, t in scored) / len(scored)
        # Each kind's weight is shared among its files, so a kind weighs the same whatever the
        # number of tables it applied to.
        weight = sum(WEIGHTS[k] for k in by_kind)
        weighted = sum(WEIGHTS[k] * sum(v) / len(v) for k, v in by_kind.items()) / weight
        out["loaders"][name] = {
            "simple": round(simple, 3),
            "weighted": round(weighted, 3),
            "seconds": round(seconds.get(name, 0.0), 2),
            "kinds": {k: round(sum(v) / len(v), 2) for k, v in by_kind.items()},
        }
    return out


def _table(report: dict[str, Any]) -> str:
    loaders = report["loaders"]
    names = list(loaders)
    lines = [
        f"Pollock-style scores over {report['files']} polluted files (0-10)",
        "loader".ljust(20) + "simple".rjust(8) + "weighted".rjust(10) + "seconds".rjust(9),
    ]
    for name in names:
        row = loaders[name]
        lines.append(
            name.ljust(20) + f"{row['simple']:8.3f}{row['weighted']:10.3f}{row['seconds']:9.2f}"
        )
    kinds = list(next(iter(loaders.values()))["kinds"])
    lines += ["", "kind".ljust(22) + "".join(n[:12].rjust(13) for n in names)]
    for kind in kinds:
        lines.append(
            kind.ljust(22) + "".join(f"{loaders[n]['kinds'].get(kind, 0.0):13.2f}" for n in names)
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
