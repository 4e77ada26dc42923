"""Serving benchmark: single-row /predict at 1, 8 and 32 connections on 127.0.0.1, conveyor
(recording on) against the floor (a bare ASGI app calling the same booster), side by side.

``make bench`` runs it; results go to bench/results/serve-latest.json and stdout (markdown).
The load generator is wrk (Debian package ``wrk``), installed here if missing.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sklearn.datasets import load_breast_cancer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONVEYOR = Path(sys.executable).parent / "conveyor"
CONNECTIONS = (1, 8, 32)
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def trained_model(home: Path) -> tuple[Path, dict[str, float]]:
    """breast_cancer (30 features) trained and deployed by the real pipeline."""
    data = load_breast_cancer()
    frame = pl.DataFrame(data.data, schema=list(data.feature_names), orient="row")
    csv = home / "breast_cancer.csv"
    frame.with_columns(target=pl.Series(data.target)).write_csv(csv)
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    params = json.dumps({"num_boost_round": 100, "early_stopping_rounds": 100000})
    run = subprocess.run(
        [
            str(CONVEYOR),
            "upload",
            str(csv),
            "-p",
            "cancer",
            "--target",
            "target",
            "--params",
            params,
            "--wait",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(run.stdout)["state"] == "DEPLOYED", run.stdout
    model_dir = next(
        p for p in (home / "serving-cache").iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    row = {name: float(frame[name][0]) for name in frame.columns}
    return model_dir, row


def wait_until_up(url: str, body: bytes) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                url, data=body, headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not come up")


def run_wrk(wrk: str, url: str, script: Path, connections: int) -> dict[str, float]:
    threads = min(connections, 2)
    result = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{DURATION}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def percentile(p: str) -> float:
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "requests": total,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def main() -> None:
    wrk = ensure_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    model_dir, row = trained_model(home)
    body = json.dumps({"instances": [row]}).encode()
    script = home / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
    )
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    conveyor_port, floor_port = free_port(), free_port()
    unrecorded_port = free_port()
    servers = {
        "conveyor": subprocess.Popen(
            [str(CONVEYOR), "serve", "--port", str(conveyor_port)],
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        "conveyor-unrecorded": subprocess.Popen(
            [str(CONVEYOR), "serve", "--port", str(unrecorded_port)],
            env={**env, "CONVEYOR_RECORD_INFERENCES": "false"},
            stdout=subprocess.DEVNULL,
        ),
        "floor": subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "floor_app.py"), str(model_dir), str(floor_port)],
            env=env,
        ),
    }
    urls = {
        "conveyor": f"http://127.0.0.1:{conveyor_port}/predict/cancer",
        "conveyor-unrecorded": f"http://127.0.0.1:{unrecorded_port}/predict/cancer",
        "floor": f"http://127.0.0.1:{floor_port}/predict",
    }
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in urls}
    try:
        for url in urls.values():
            wait_until_up(url, body)
        for connections in CONNECTIONS:  # side by side, so both see the same machine
            for name in urls:
                results[name][str(connections)] = run_wrk(wrk, urls[name], script, connections)
                print(name, connections, results[name][str(connections)], flush=True)
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    records = subprocess.run(
        [str(CONVEYOR), "inferences", "cancer", "--limit", "10000000", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    recorded = len(json.loads(records.stdout))
    sent = sum(r["requests"] for r in results["conveyor"].values()) + 1  # + the warm-up call
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "duration_seconds": DURATION,
        "results": results,
        "ratio_at_32": results["conveyor"]["32"]["rps"] / results["floor"]["32"]["rps"],
        "recording_on_off_at_32": results["conveyor"]["32"]["rps"]
        / results["conveyor-unrecorded"]["32"]["rps"],
        "records": {"written": recorded, "completed_requests_counted_by_wrk": sent},
    }
    (RESULTS / "serve-latest.json").write_text(json.dumps(report, indent=2))
    print("\n| target | connections | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|---|")
    for name in urls:
        for connections, r in results[name].items():
            print(
                f"| {name} | {connections} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['non_2xx']} |"
            )
    print(f"\nconveyor / floor throughput at 32 connections: {report['ratio_at_32']:.2f}")
    print(f"recording on / off at 32 connections: {report['recording_on_off_at_32']:.2f}")
    print(f"inference records written: {recorded} (wrk counted {sent} completed requests)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
