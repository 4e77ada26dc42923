"""The reader on the published Pollock benchmark's own files (Vitagliano et al., VLDB 2023:
2,290 polluted variants of one real file), scored with Pollock's measures.

The files are not part of this repository: point ``--pollock`` at a checkout of the Pollock
repository (its ``polluted_files/`` and ``pollock_weights.json``). Each loader reads every file
of ``polluted_files/csv/``; what it loaded, as rows of text with its column names first (as
Pollock's harness writes a loader's output; none when the reader found no header, since
``column_1``... are its labels and not the file's), is compared with ``polluted_files/clean/``:
success, and precision, recall and F1 of the header (normalised cells), of the records
(normalised rows) and of the cells (as written); a file scores the sum, 0 to 10. Simple = the
mean over files; weighted = weighted by Pollock's survey weights. The loaders' published
outputs under ``results/<loader>/`` are scored the same way when present, which checks this
re-implementation of the measures against the paper's figures.

``python bench/pollock.py --pollock PATH [--main /work/main] [--stored duckdbauto clevercs]``
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Rows = list[list[str]]

_MAIN_SCRIPT = r"""
import json, sys
from pathlib import Path
from conveyor.tabular.read import read_raw
out = {}
for name in json.load(open(sys.argv[1])):
    try:
        frame = read_raw(Path(name))
        out[name] = [list(frame.columns)] + [
            ["" if v is None else str(v) for v in row] for row in frame.rows()
        ]
    except Exception as exc:
        out[name] = None
json.dump(out, open(sys.argv[2], "w"))
"""


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def load_conveyor(path: Path) -> Rows | None:
    from conveyor.tabular.read import read_table

    try:
        frame, report = read_table(path)
    except Exception:
        return None
    rows = [[_text(v) for v in row] for row in frame.rows()]
    # A file read without a header has none to write: column_1... are the reader's labels.
    return [list(frame.columns), *rows] if report.has_header else rows


def load_duckdb(path: Path) -> Rows | None:
    """As Pollock's ``duckdbauto`` harness calls it, every column as text (the values as
    loaded: the harness's own conversion of typed dates and numbers is not reproduced)."""
    import duckdb

    try:
        relation = duckdb.connect().read_csv(
            str(path), strict_mode=False, ignore_errors=True, null_padding=True, all_varchar=True
        )
        rows = relation.fetchall()
    except Exception:
        return None
    return [list(relation.columns)] + [[_text(v) for v in row] for row in rows]


def load_main(main: Path, files: list[Path]) -> dict[str, Rows | None]:
    with tempfile.TemporaryDirectory() as tmp:
        names, out = Path(tmp) / "files.json", Path(tmp) / "out.json"
        names.write_text(json.dumps([str(f) for f in files]))
        subprocess.run(
            [str(main / ".venv" / "bin" / "python"), "-c", _MAIN_SCRIPT, str(names), str(out)],
            cwd=main,
            check=True,
        )
        return dict(json.loads(out.read_text()))


def load_stored(path: Path) -> Rows | None:
    """A loader's output as the Pollock repository keeps it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("latin-1")
    except FileNotFoundError:
        return None
    if text.splitlines()[:1] == ["Application Error"]:
        return None
    return list(csv.reader(text.splitlines()))


def normalize(cell: str) -> str:
    """Pollock's cell normalisation, for the kinds of value the benchmark file has: integers
    and floats by value, booleans as 0/1, the rest lower-cased."""
    if cell == "":
        return ""
    if cell in ("True", "true", "False", "false"):
        return "1" if cell.lower() == "true" else "0"
    try:
        return str(int(cell))
    except ValueError:
        pass
    try:
        return str(float(cell))
    except ValueError:
        return cell.lower()


def _prf(source: Sequence[str], loaded: Sequence[str]) -> tuple[float, float, float]:
    if not source:
        return (1.0, 1.0, 1.0)
    common = sum((Counter(source) & Counter(loaded)).values())
    if not common:
        return (0.0, 0.0, 0.0)
    precision, recall = common / len(source), common / len(loaded)
    return (precision, recall, 2 * precision * recall / (precision + recall))


def measures(source: Rows, loaded: Rows | None) -> float:
    """Pollock's ten measures of one file, summed (0 to 10)."""
    if loaded is None:
        return 0.0
    if not source:
        return 10.0
    header = (
        _prf([normalize(c) for c in source[0]], [normalize(c) for c in loaded[0]])
        if loaded
        else (0.0, 0.0, 0.0)
    )
    records = _prf(
        ["".join(normalize(c) for c in row) for row in source[1:]],
        ["".join(normalize(c) for c in row) for row in loaded[1:]],
    )
    cells = _prf([c for row in source for c in row], [c for row in loaded for c in row])
    return 1.0 + sum(header) + sum(records) + sum(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollock", type=Path, required=True)
    parser.add_argument("--main", type=Path, default=Path("/work/main"))
    parser.add_argument("--stored", nargs="*", default=["duckdbauto", "clevercs", "pycsv"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--loaders", default="conveyor,duckdb,main")
    args = parser.parse_args()
    chosen = args.loaders.split(",")

    base = args.pollock / "polluted_files"
    files = sorted((base / "csv").glob("*.csv"))
    weights: dict[str, float] = json.loads((args.pollock / "pollock_weights.json").read_text())
    sources = {
        f.name: list(csv.reader((base / "clean" / f.name).read_text("utf-8-sig").splitlines()))
        for f in files
    }
    scores: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for name, load in (("conveyor", load_conveyor), ("duckdb", load_duckdb)):
        if name not in chosen:
            continue
        start = time.perf_counter()
        scores[name] = {f.name: measures(sources[f.name], load(f)) for f in files}
        seconds[name] = time.perf_counter() - start
    if "main" in chosen and args.main.exists():
        start = time.perf_counter()
        loaded = load_main(args.main, files)
        seconds["main"] = time.perf_counter() - start
        scores["main"] = {f.name: measures(sources[f.name], loaded[str(f)]) for f in files}
    for sut in args.stored:
        folder = args.pollock / "results" / sut / "polluted_files" / "loading"
        if folder.exists():
            scores[f"{sut} (published output)"] = {
                f.name: measures(sources[f.name], load_stored(folder / f"{f.name}_converted.csv"))
                for f in files
            }
    report = _summarise(scores, seconds, weights)
    print(_table(report, len(files)))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _summarise(
    scores: dict[str, dict[str, float]], seconds: dict[str, float], weights: dict[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, by_file in scores.items():
        total = sum(weights.get(f, 0.0) for f in by_file)
        out[name] = {
            "simple": round(sum(by_file.values()) / len(by_file), 3),
            "weighted": round(sum(weights.get(f, 0.0) * s for f, s in by_file.items()) / total, 3),
            "seconds": round(seconds.get(name, float("nan")), 1),
            "worst": sorted(by_file.items(), key=lambda item: item[1])[:8],
        }
    return out


def _table(report: dict[str, Any], files: int) -> str:
    lines = [
        f"Pollock benchmark files ({files}), scored 0-10",
        "loader".ljust(34) + "simple".rjust(8) + "weighted".rjust(10) + "seconds".rjust(9),
    ]
    for name, row in report.items():
        lines.append(
            name.ljust(34) + f"{row['simple']:8.3f}{row['weighted']:10.3f}{row['seconds']:9.1f}"
        )
    lines.append("")
    for name, row in report.items():
        worst = ", ".join(f"{f} {s:.1f}" for f, s in row["worst"])
        lines.append(f"{name} lowest: {worst}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
