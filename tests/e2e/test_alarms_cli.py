"""`conveyor alarms` as a user types it: defaults listed, an alarm edited, added, evaluated
against recorded requests, deleted; bad input refused with the field named."""

from __future__ import annotations

from datetime import timedelta

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.types import utcnow
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of


def test_alarms_list_put_evaluate_history_and_delete(cli: Cli) -> None:
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    listed = cli("alarms", "list", "churn")
    assert listed.returncode == 0, listed.stderr
    for name in ("latency-p99", "error-rate", "drift", "no-traffic"):
        assert name in listed.stdout
    assert "INSUFFICIENT_DATA" in listed.stdout

    edited = json_of(cli("alarms", "put", "churn", "latency-p99", "--threshold", "800", "--json"))
    assert edited["threshold"] == 800.0 and edited["evaluation_periods"] == 3
    added = json_of(
        cli(
            "alarms", "put", "churn", "bad-input", "--metric", "client_error_rate",
            "--threshold", "0.5", "--period", "60", "--evaluation-periods", "1", "--json",
        )
    )  # fmt: skip
    assert (added["comparison"], added["datapoints_to_alarm"]) == (">", 1)

    now = utcnow()
    home = cli.home  # type: ignore[attr-defined]
    table = build_ports(Settings(home=home)).table
    table.put_many(
        InferenceRecord(
            "churn", now - timedelta(seconds=i), f"r{i}", 1, 3.0, None, None, 422, "bad"
        ).to_item()
        for i in range(1, 11)
    )
    changes = json_of(cli("alarms", "evaluate", "churn", "--json"))
    fired = {c["alarm"]: c for c in changes}
    assert fired["bad-input"]["new_state"] == "ALARM"
    assert fired["bad-input"]["datapoints"] == [1.0]
    assert fired["error-rate"]["new_state"] == "OK"  # a 4xx is not the server's error

    states = {a["name"]: a["state"] for a in json_of(cli("alarms", "list", "churn", "--json"))}
    assert states["bad-input"] == "ALARM"
    history = json_of(cli("alarms", "history", "churn", "--alarm", "bad-input", "--json"))
    assert [h["new_state"] for h in history] == ["ALARM"]
    assert history[0]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")

    deleted = cli("alarms", "delete", "churn", "bad-input")
    assert deleted.returncode == 0, deleted.stderr
    names = {a["name"] for a in json_of(cli("alarms", "list", "churn", "--json"))}
    assert "bad-input" not in names


def test_bad_alarm_input_is_refused_naming_the_problem(cli: Cli) -> None:
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    unknown = cli("alarms", "put", "churn", "x", "--metric", "cpu", "--threshold", "1")
    assert unknown.returncode == 2
    assert "unknown alarm metric 'cpu'" in unknown.stderr
    incomplete = cli("alarms", "put", "churn", "x", "--metric", "error_rate")
    assert incomplete.returncode == 2 and "--threshold" in incomplete.stderr
    n_over_m = cli("alarms", "put", "churn", "error-rate", "--datapoints", "5")
    assert n_over_m.returncode == 2 and "datapoints_to_alarm" in n_over_m.stderr
    missing = cli("alarms", "delete", "churn", "nope")
    assert missing.returncode == 4 and "no alarm 'nope'" in missing.stderr
    no_project = cli("alarms", "list", "nosuch")
    assert no_project.returncode == 4
