"""Exit codes a script can gate on: `conveyor drift` exits 0 on in-distribution traffic and 3
on drifted traffic (rows posted to a real server); `conveyor retrain` exits 0 when it starts
a run, 6 when its guard starts none, 4 for a project that does not exist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from conveyor.errors import EXIT_DRIFT, EXIT_NOT_RETRAINED, NotFound
from conveyor.types import to_iso, utcnow
from tests.e2e.conftest import CONVEYOR, Cli, free_port, json_of
from tests.e2e.test_closed_loop import held_out_rows, send, shifted
from tests.e2e.test_guardrail import wait_for

ROWS = 400


def test_drift_and_retrain_exit_codes(deployed_cli: Cli, churn_csv: Path, tmp_path: Path) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    rows = held_out_rows(tmp_path)
    port = free_port()
    server = subprocess.Popen(  # the model server alone: no worker takes a retrain's run
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(port, rows[0], 1, timeout=60)
        calm_since = to_iso(utcnow())
        send(port, rows[:ROWS])
        calm = cli("drift", "churn", "--since", calm_since, "--json")
        shifted_since = to_iso(utcnow())
        send(port, shifted(rows[ROWS : 2 * ROWS]))
        drifted = cli("drift", "churn", "--since", shifted_since, "--json")
        drifted_text = cli("drift", "churn", "--since", shifted_since, "--no-save")
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)

    assert calm.returncode == 0, calm.stderr
    assert json.loads(calm.stdout)["status"] == "OK"
    assert drifted.returncode == EXIT_DRIFT == 3, drifted.stderr
    assert json.loads(drifted.stdout)["status"] == "DRIFT"
    assert drifted_text.returncode == 3 and "DRIFT" in drifted_text.stdout

    started = cli("retrain", "churn", "--json")
    assert started.returncode == 0 and json_of(started)["started"] is True
    refused = cli("retrain", "churn")  # its run is still queued, inside the cooldown too
    assert refused.returncode == EXIT_NOT_RETRAINED == 6, refused.stderr
    assert "not retraining" in refused.stdout
    ghost = cli("retrain", "ghost")
    assert ghost.returncode == NotFound.exit_code == 4 and "no project 'ghost'" in ghost.stderr
