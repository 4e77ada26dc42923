"""Exit codes a script can gate on: `conveyor retrain` exits 0 when it starts a run, 6 when
its guard starts none, 4 for a project that does not exist. (`conveyor drift`'s 0 and 3, on
rows posted to a real server, are asserted in test_closed_loop.py, whose server sends them.)"""

from __future__ import annotations

from conveyor.errors import EXIT_NOT_RETRAINED, NotFound
from tests.e2e.conftest import Cli, json_of


def test_retrain_exit_codes(deployed_cli: Cli) -> None:
    cli = deployed_cli  # no worker runs here: a retrain's run stays queued
    started = cli("retrain", "churn", "--json")
    assert started.returncode == 0 and json_of(started)["started"] is True
    refused = cli("retrain", "churn")  # its run is still queued, inside the cooldown too
    assert refused.returncode == EXIT_NOT_RETRAINED == 6, refused.stderr
    assert "not retraining" in refused.stdout
    ghost = cli("retrain", "ghost")
    assert ghost.returncode == NotFound.exit_code == 4 and "no project 'ghost'" in ghost.stderr
