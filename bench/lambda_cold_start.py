"""Lambda cold start of conveyor's functions, measured here: what a new Lambda container does
before the first event (import the handler module, then build the ports on the first
invocation), each in a fresh interpreter, median of ``STARTS``; and the size of what
``sam build`` ships (aws/Makefile's rules, run as SAM runs them: each function's folder and the
dependencies layer, unzipped and zipped).

The interpreter is this machine's (the venv's Python, x86_64); Lambda runs Python 3.12 on
arm64, so the figures say where the time goes and how it compares, not Lambda's own init
duration (CloudWatch's ``Init Duration`` reports that once deployed).

``python -m bench.lambda_cold_start`` runs it alone and adds its section to BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STARTS = 7
HANDLERS_MODULE = "conveyor.aws.handlers"
# The functions' environment as template.yaml sets it (names only: nothing is called).
_ENV = {
    "CONVEYOR_HOME": "/tmp/conveyor",
    "CONVEYOR_OBJECT_STORE_URI": "s3://conveyor-123456789012",
    "CONVEYOR_TABLE_URI": "dynamodb://conveyor-table",
    "CONVEYOR_EVENTS_URI": "eventbridge://conveyor-events",
    "CONVEYOR_JOB_RUNNER": "sagemaker",
    "CONVEYOR_REGISTRY": "sagemaker",
    "CONVEYOR_ENDPOINT": "sagemaker",
    "CONVEYOR_AWS_INFERENCE_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/i:1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}
_PROBE = """
import json, time
t0 = time.perf_counter()
import conveyor.aws.handlers
t1 = time.perf_counter()
from conveyor.aws import runtime
runtime.ports()
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "ports_ms": (t2 - t1) * 1000}))
"""


def _fresh(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_ENV}
    return subprocess.run(
        [sys.executable, *flags, "-c", code], env=env, capture_output=True, text=True, check=True
    )


def handler_functions() -> dict[str, str]:
    """Each function of template.yaml -> its handler (``module.function``)."""
    text = (ROOT / "template.yaml").read_text()
    found = re.findall(r"^  (\w+Function):\n(?:    .*\n|\n)*?      Handler: (\S+)", text, re.M)
    return dict(found)


def import_times() -> dict[str, Any]:
    """Median import of the handlers module and first ``ports()`` (timed inside), the
    interpreter's own start (timed around ``python -c pass``), and the heaviest modules'
    cumulative import times (``-X importtime``), over fresh interpreters."""
    runs = [json.loads(_fresh(_PROBE).stdout) for _ in range(STARTS)]
    interpreter = []
    for _ in range(STARTS):
        started = time.perf_counter()
        _fresh("pass")
        interpreter.append((time.perf_counter() - started) * 1000)
    modules: dict[str, list[float]] = {}
    for _ in range(STARTS):
        stderr = _fresh(f"import {HANDLERS_MODULE}", "-X", "importtime").stderr
        for line in stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)$", line.strip())
            if match and match.group(2).startswith(("conveyor.aws.", "boto3", "pydantic")):
                modules.setdefault(match.group(2), []).append(int(match.group(1)) / 1000)
    heaviest = sorted(
        ((name, round(statistics.median(ms), 1)) for name, ms in modules.items()),
        key=lambda item: -item[1],
    )
    return {
        "starts": STARTS,
        "python": sys.version.split()[0],
        "interpreter_ms": round(statistics.median(interpreter), 1),
        "import_ms": round(statistics.median(r["import_ms"] for r in runs), 1),
        "first_ports_ms": round(statistics.median(r["ports_ms"] for r in runs), 1),
        # The fastest start: the closest to a quiet machine's figure on a shared one.
        "fastest_ms": {
            "interpreter": round(min(interpreter), 1),
            "import": round(min(r["import_ms"] for r in runs), 1),
            "first_ports": round(min(r["ports_ms"] for r in runs), 1),
        },
        "modules_ms": dict(heaviest[:12]),
    }


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _zipped_bytes(path: Path, into: Path) -> int:
    return Path(shutil.make_archive(str(into), "zip", path)).stat().st_size


def package_sizes(workdir: Path) -> dict[str, Any]:
    """What ``sam build`` makes, by aws/Makefile's own rules: a function (SAM copies its
    CodeUri, conveyor/, and runs ``make build-<Function>`` there) and the layer (its
    ContentUri, aws/; pip fetches the Lambda platform's wheels, so it needs the package
    index: None without it)."""
    scratch = workdir / "scratch"
    shutil.copytree(ROOT / "conveyor", scratch, ignore=shutil.ignore_patterns("__pycache__"))
    makefile = ROOT / "aws" / "Makefile"
    function = workdir / "function"
    subprocess.run(
        ["make", "-s", "-f", str(makefile), "build-ReconcileFunction", f"ARTIFACTS_DIR={function}"],
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    sizes: dict[str, Any] = {
        "function_bytes": _folder_bytes(function),
        "function_zipped_bytes": _zipped_bytes(function, workdir / "function"),
        "layer_bytes": None,
        "layer_zipped_bytes": None,
        "limit_bytes": 250 * 1024 * 1024,  # Lambda: function and layers, unzipped
    }
    layer = workdir / "layer"
    layer_scratch = workdir / "layer-scratch"  # the layer's ContentUri is aws/
    shutil.copytree(ROOT / "aws", layer_scratch)
    built = subprocess.run(
        ["make", "-s", "-f", str(makefile), "build-DependenciesLayer", f"ARTIFACTS_DIR={layer}"],
        cwd=layer_scratch,
        capture_output=True,
        text=True,
    )
    if built.returncode == 0:
        sizes["layer_bytes"] = _folder_bytes(layer)
        sizes["layer_zipped_bytes"] = _zipped_bytes(layer, workdir / "layer")
    else:
        sizes["layer_error"] = built.stderr.strip().splitlines()[-1:]
    return sizes


def run(workdir: Path) -> dict[str, Any]:
    from datetime import UTC, datetime

    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    times = import_times()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "functions": handler_functions(),
        **times,
        "package": package_sizes(workdir),
    }


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.2f}"


def section(c: dict[str, Any]) -> list[str]:
    """The BENCHMARKS.md section of ``run``'s figures."""
    p = c["package"]
    total = (p["function_bytes"] or 0) + (p["layer_bytes"] or 0)
    modules = ", ".join(f"{name} {ms}" for name, ms in c["modules_ms"].items())
    fast = c["fastest_ms"]
    return [
        "",
        "## Lambda cold start",
        "",
        f"Every function ({len(c['functions'])}: {', '.join(sorted(c['functions']))}) runs a "
        f"handler of `{HANDLERS_MODULE}`, so a new container imports that one module, then "
        "builds the ports on its first invocation (no network call: clients open lazily). "
        f"Each in a fresh interpreter (Python {c['python']} here; Lambda runs 3.12 on arm64), "
        f"median of {c['starts']}; `python -m bench.lambda_cold_start`.",
        "",
        "| step | median ms | fastest ms |",
        "|---|---|---|",
        f"| (the interpreter's own start, for scale) | {c['interpreter_ms']} | "
        f"{fast['interpreter']} |",
        f"| import `{HANDLERS_MODULE}` | {c['import_ms']} | {fast['import']} |",
        f"| first `runtime.ports()` | {c['first_ports_ms']} | {fast['first_ports']} |",
        f"| cold start before the first event | {round(c['import_ms'] + c['first_ports_ms'], 1)} "
        f"| {round(fast['import'] + fast['first_ports'], 1)} |",
        "",
        f"Heaviest imports, cumulative ms (`-X importtime`, which adds its own overhead): "
        f"{modules}.",
        "",
        f"Measured {c['date']}; 1-minute load average {c['load_average'][0]} before, "
        f"{c['load_average'][1]} after (a shared machine: the times move with it).",
        "",
        "What `sam build` ships (aws/Makefile's rules, as SAM runs them), MB:",
        "",
        "| part | unzipped | zipped |",
        "|---|---|---|",
        f"| each function (conveyor's sources) | {_mb(p['function_bytes'])} | "
        f"{_mb(p['function_zipped_bytes'])} |",
        f"| the dependencies layer | {_mb(p['layer_bytes'])} | {_mb(p['layer_zipped_bytes'])} |",
        f"| function + layer (Lambda allows 250 MiB, {p['limit_bytes'] / 1e6:.1f} MB, "
        f"unzipped) | {_mb(total)} | |",
    ]


def main() -> None:
    from bench.common import write_json
    from bench.report import render

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-lambda-"))
    try:
        results = run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_json("lambda_cold_start.json", results)
    (ROOT / "BENCHMARKS.md").write_text(render(lambda_cold_start=results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
