from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.samples.generate import write_churn_csv
from tests.rows import CHURN_ROW

CONVEYOR = Path(sys.executable).parent / "conveyor"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(
    home: Path, *args: str, timeout: float = 180, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVEYOR_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [str(CONVEYOR), *args],
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_for(home: Path) -> Cli:
    """The conveyor CLI run against ``home`` (kept as the callable's ``home``)."""

    def call(
        *args: str, timeout: float = 180, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(home, *args, timeout=timeout, input_text=input_text)

    call.home = home  # type: ignore[attr-defined]
    return call


def cli_on_a_copy(home: Path, tmp_path: Path) -> Cli:
    """The CLI on a private copy of ``home``: a test may change it without touching the
    others that start from the same trained home."""
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return cli_for(copy)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return cli_for(tmp_path / "home")


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_churn_csv(tmp_path_factory.mktemp("data") / "churn.csv", rows=1500, seed=3)


ROW = CHURN_ROW


def upload_churn(cli: Cli, csv: Path) -> dict[str, Any]:
    """Upload the churn sample as project churn and wait for its run (deployed as v1)."""
    run: dict[str, Any] = json_of(
        cli("upload", str(csv), "-p", "churn", "--target", "churned", "--wait", "--json")
    )
    return run


@pytest.fixture(scope="session")
def churn_home(
    tmp_path_factory: pytest.TempPathFactory, churn_csv: Path
) -> tuple[Path, dict[str, Any]]:
    """A home where ``churn_csv`` was uploaded as project churn and deployed as v1, trained
    once per test process, and the run that did it."""
    folder = tmp_path_factory.mktemp("churn-home")
    run = upload_churn(cli_for(folder / "home"), churn_csv)
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    return folder / "home", run


@pytest.fixture(scope="session")
def updated_home(
    churn_home: tuple[Path, dict[str, Any]],
    churn_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A copy of ``churn_home`` whose project was updated (sklearn, max_iter 60, a margin of
    0.5 no version can beat) and ``churn_csv`` uploaded again: v2, registered, v1 serving.
    The home, ``project update --json``'s answer and the second run's."""
    cli = cli_on_a_copy(churn_home[0], tmp_path_factory.mktemp("updated-home"))
    update = ["project", "update", "churn", "--algorithm", "sklearn"]
    update += ["--params", '{"max_iter": 60}', "--min-improvement", "0.5", "--json"]
    updated = json_of(cli(*update))
    again = ["upload", str(churn_csv), "-p", "churn", "--force", "--wait", "--json"]
    second = json_of(cli(*again, timeout=300))
    return cli.home, updated, second  # type: ignore[attr-defined]


@pytest.fixture
def deployed_cli(churn_home: tuple[Path, dict[str, Any]], tmp_path: Path) -> Cli:
    """The CLI on a private copy of ``churn_home``: churn v1 serves."""
    return cli_on_a_copy(churn_home[0], tmp_path)


@pytest.fixture
def first_run(churn_home: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    """The run that trained ``churn_home``'s v1, as ``upload --wait --json`` printed it."""
    return churn_home[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(port: int, path: str, payload: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )
    return _answer(request)


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    return _answer(urllib.request.Request(f"http://127.0.0.1:{port}{path}"))


def _answer(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of ``request``, an HTTP error's included."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def peak_rss_mb(
    home: Path, *args: str, timeout: float = 1200
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI in a wrapper whose only child it is: the wrapper's RUSAGE_CHILDREN peak is
    the CLI's (and its children's) peak resident memory, in MiB."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, str(CONVEYOR), *args],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return result, peak_kib / 1024
