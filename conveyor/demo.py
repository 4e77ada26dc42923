"""``make demo``: the whole flow on the bundled sample, as a user would type it.

Runs in its own home (``.conveyor/demo``, emptied first) so it can be run again and again.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conveyor.samples import CHURN_CSV

DEMO_HOME = Path(".conveyor/demo")


def _conveyor(*args: str, env: dict[str, str]) -> None:
    shown = " ".join(shlex.quote(a) for a in ("conveyor", *args))
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "conveyor.cli.main", *args], env=env, check=False
    )
    if result.returncode != 0:
        print(f"demo: `{shown}` exited {result.returncode}", file=sys.stderr)
        sys.exit(result.returncode)


def main() -> None:
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    DEMO_HOME.mkdir(parents=True)
    sample = DEMO_HOME / "churn.csv"
    shutil.copyfile(CHURN_CSV, sample)
    env = {**os.environ, "CONVEYOR_HOME": str(DEMO_HOME.absolute())}
    print(
        f"conveyor demo: CONVEYOR_HOME={DEMO_HOME}, sample {sample} "
        "(5,000 customers; string categoricals, missing values, a date, an id column)"
    )
    _conveyor("upload", str(sample), "--project", "churn", "--target", "churned", "--wait", env=env)
    _conveyor("runs", "list", "--project", "churn", env=env)
    _conveyor("models", "list", "churn", env=env)
    _conveyor("models", "show", "churn", "1", env=env)
    _conveyor("upload", str(sample), "--project", "churn", env=env)
    _conveyor(
        "predict",
        "churn",
        "--input",
        str(sample),
        "--output",
        str(DEMO_HOME / "scored.csv"),
        env=env,
    )
    _serve_and_predict(env)
    _conveyor("inferences", "churn", "--limit", "5", env=env)
    _conveyor("drift", "churn", "--window", "1h", "--html", str(DEMO_HOME / "drift.html"), env=env)
    _conveyor("alarms", "evaluate", "churn", env=env)
    _conveyor("alarms", "list", "churn", env=env)
    print(f"\nexplore further with: CONVEYOR_HOME={DEMO_HOME} .venv/bin/conveyor --help")
    print(f"or the dashboard: CONVEYOR_HOME={DEMO_HOME} .venv/bin/conveyor up, then /ui")


EXAMPLES: list[dict[str, Any]] = [
    {
        "age": 34,
        "plan": "basic",
        "region": "north",
        "monthly charges": 29.9,
        "tenure months": 2,
        "support calls": 5,
        "has partner": "no",
        "signup date": "2023-12-01",
    },
    {
        "age": 58,
        "plan": "enterprise",
        "region": "west",
        "monthly charges": 81.0,
        "tenure months": 60,
        "support calls": 0,
        "has partner": "yes",
        "signup date": "2019-04-15",
    },
    {
        "age": None,
        "plan": "pro",
        "region": None,
        "monthly charges": 64.5,
        "tenure months": 14,
        "support calls": 2,
        "has partner": "no",
        "signup date": "2021-07-30",
    },
]


def _traffic_with_feedback(base: str, customers: int = 300) -> None:
    """Score some customers one request each, then report what really happened to them
    (POST /feedback), so drift and live quality have something to look at."""
    import polars as pl

    rows = pl.read_csv(CHURN_CSV).drop("customer id").tail(customers).to_dicts()
    print(
        f"\n# {customers} customers scored one by one, then their real outcome sent back:"
        f'\n$ curl -s {base}/feedback/churn -d \'{{"request_id": "…", "actual": "no"}}\''
    )
    for row in rows:
        actual = row.pop("churned")
        status, answer = _post(f"{base}/predict/churn", {"instances": [row]})
        if status != 200 or not isinstance(answer, dict):
            sys.exit(f"demo: /predict answered {status}: {answer}")
        feedback = {"request_id": answer["request_id"], "actual": actual}
        status, stored = _post(f"{base}/feedback/churn", feedback)
        if status != 200:
            sys.exit(f"demo: /feedback answered {status}: {stored}")
    print(f"{customers} predictions and {customers} outcomes stored", flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, payload: object) -> tuple[int, object]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _serve_and_predict(env: dict[str, str]) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"\n$ conveyor serve --port {port} &", flush=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli.main", "serve", "--port", str(port)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("demo: the server did not come up in 60 s")
                time.sleep(0.2)
        for example in EXAMPLES:
            body = {"instances": [example]}
            print(
                f"\n$ curl -s {base}/predict/churn -H 'content-type: application/json' "
                f"-d '{json.dumps(body)}'"
            )
            status, answer = _post(f"{base}/predict/churn", body)
            print(f"HTTP {status} {json.dumps(answer)}", flush=True)
            if status != 200:
                sys.exit(f"demo: /predict answered {status}")
        bad = {"instances": [{**EXAMPLES[0], "age": "forty"}]}
        print(f"\n$ curl -s {base}/predict/churn -d '{json.dumps(bad)}'   # a bad request")
        status, answer = _post(f"{base}/predict/churn", bad)
        print(f"HTTP {status} {json.dumps(answer)}", flush=True)
        _traffic_with_feedback(base)
        print(f"\n$ curl -s {base}/metrics | grep conveyor_requests_total")
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("conveyor_requests_total"):
                    print(line)
        print(f"\n$ curl -s {base}/api/v1/projects   # what the dashboard at {base}/ui shows")
        with urllib.request.urlopen(f"{base}/api/v1/projects", timeout=10) as response:
            print(json.dumps(json.loads(response.read())), flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        print("(server stopped)")


if __name__ == "__main__":
    main()
