"""The deployment guardrail on a real SQLite Table: a deploy that errors during baking is
rolled back once and recorded; a healthy one is baked; rollbacks are never baked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.config import Settings
from conveyor.metrics.alarm_store import alarm_history
from conveyor.monitoring.alarms.defaults import ensure_default_alarms
from conveyor.pipeline.guardrail import GuardrailPolicy, guard_deployment, guardrail_items
from conveyor.pipeline.lifecycle import rollback
from conveyor.pipeline.monitor import Monitor
from conveyor.ports import Ports
from tests.integration.monitoring.conftest import WriteRecords, deploy, register_version

POLICY = GuardrailPolicy(baking_seconds=60, period_seconds=5)


def served(ports: Ports) -> int:
    deployment = ports.endpoint.describe_endpoint("churn")
    assert deployment is not None
    return deployment.version


def two_versions(ports: Ports) -> Any:
    deploy(ports, register_version(ports, 1))
    deploy(ports, register_version(ports, 2))
    ensure_default_alarms(ports, "churn")
    deployment = ports.endpoint.describe_endpoint("churn")
    assert deployment is not None and deployment.version == 2
    return deployment.deployed_at


def test_a_deploy_that_errors_while_baking_is_rolled_back_once_with_its_cause(
    ports: Ports, write_records: WriteRecords
) -> None:
    deployed_at = two_versions(ports)
    # v1 erred before the deploy: not v2's doing, and not counted against it
    write_records(deployed_at - timedelta(seconds=15), 15, 30, status=500, version=1)
    write_records(deployed_at, 15, 60, version=2)
    write_records(deployed_at, 15, 30, status=500, version=2)  # a third of v2's requests fail

    early = guard_deployment(ports, "churn", now=deployed_at + timedelta(seconds=6), policy=POLICY)
    assert early is not None and early["state"] == "BAKING"  # one bad period is not 3 of 3
    assert served(ports) == 2

    item = guard_deployment(ports, "churn", now=deployed_at + timedelta(seconds=15), policy=POLICY)
    assert item is not None and item["state"] == "ROLLED_BACK"
    assert served(ports) == 1
    assert ports.registry.get_aliases("churn")["champion"] == 1
    assert item["alarm"] == "error-rate" and item["rolled_back_to_version"] == 1
    assert item["datapoints"] == [1 / 3, 1 / 3, 1 / 3]
    assert "error-rate: Threshold Crossed: 3 out of the last 3 datapoints" in item["cause"]
    history = alarm_history(ports.table, "churn")
    assert history[0].kind == "GuardrailRollback"
    assert history[0].reason.startswith("rolled back churn v2 -> v1 during baking: error-rate")
    assert "rolled back at" in ports.registry.get_version("churn", 2).tags["guardrail"]

    # the rollback itself is not baked, and nothing rolls back again
    later = deployed_at + timedelta(seconds=40)
    again = guard_deployment(ports, "churn", now=later, policy=POLICY)
    assert again is not None and again["state"] == "ROLLBACK"
    assert served(ports) == 1
    states = [i["state"] for i in guardrail_items(ports, "churn")]
    assert states == ["ROLLBACK", "ROLLED_BACK"]


def test_a_healthy_deploy_is_baked_after_the_baking_period(
    ports: Ports, write_records: WriteRecords
) -> None:
    deployed_at = two_versions(ports)
    write_records(deployed_at, 60, 240, version=2, latency_ms=12.0)
    write_records(deployed_at, 60, 2, version=2, status=422)  # bad input is the caller's
    during = guard_deployment(
        ports, "churn", now=deployed_at + timedelta(seconds=30), policy=POLICY
    )
    assert during is not None and during["state"] == "BAKING"
    after = guard_deployment(ports, "churn", now=deployed_at + timedelta(seconds=61), policy=POLICY)
    assert after is not None and after["state"] == "BAKED"
    assert after["reason"] == "baked: 242 requests in 60s, no guarded alarm"
    assert served(ports) == 2


def test_slow_requests_roll_back_too(ports: Ports, write_records: WriteRecords) -> None:
    deployed_at = two_versions(ports)
    write_records(deployed_at, 15, 45, version=2, latency_ms=900.0)
    item = guard_deployment(ports, "churn", now=deployed_at + timedelta(seconds=15), policy=POLICY)
    assert item is not None and item["alarm"] == "latency-p99"
    assert served(ports) == 1


def test_a_rollback_by_hand_is_not_baked(ports: Ports, write_records: WriteRecords) -> None:
    deployed_at = two_versions(ports)
    first = guard_deployment(ports, "churn", now=deployed_at, policy=POLICY)
    assert first is not None and first["state"] == "BAKING"
    rolled = rollback(ports, "churn")
    write_records(rolled.deployed_at, 15, 30, version=1, status=500)
    item = guard_deployment(
        ports, "churn", now=rolled.deployed_at + timedelta(seconds=15), policy=POLICY
    )
    assert item is not None and item["state"] == "ROLLBACK"
    assert served(ports) == 1
    replaced = guardrail_items(ports, "churn")[1]
    assert (replaced["version"], replaced["state"]) == (2, "SUPERSEDED")


def test_a_rollback_claimed_by_a_monitor_that_died_is_taken_up_again(
    ports: Ports, write_records: WriteRecords
) -> None:
    deployed_at = two_versions(ports)
    policy = GuardrailPolicy(baking_seconds=300, period_seconds=5)
    item = guard_deployment(ports, "churn", now=deployed_at, policy=policy)
    assert item is not None
    ports.table.put({**item, "state": "ROLLING_BACK"})  # claimed, then the process died
    write_records(deployed_at, 15, 30, status=500, version=2)
    soon = guard_deployment(ports, "churn", now=deployed_at + timedelta(seconds=15), policy=policy)
    assert soon is not None and soon["state"] == "ROLLING_BACK"  # the claim may still finish
    assert served(ports) == 2
    late = deployed_at + timedelta(seconds=75)
    write_records(late - timedelta(seconds=15), 15, 30, status=500, version=2)
    taken = guard_deployment(ports, "churn", now=late, policy=policy)
    assert taken is not None and taken["state"] == "ROLLED_BACK"
    assert served(ports) == 1


def test_the_monitor_step_guards_and_evaluates_every_deployed_project(
    ports: Ports, write_records: WriteRecords, tmp_path: Any
) -> None:
    deployed_at = two_versions(ports)
    write_records(deployed_at, 15, 30, status=500, version=2)
    settings = Settings(home=tmp_path / "home", baking_seconds=60, guardrail_period_seconds=5)
    seen: list[str] = []

    def failing_task(ports: Ports, project: str, now: Any) -> None:
        seen.append(project)
        raise RuntimeError("a broken extra check must not stop the monitor")

    monitor = Monitor(ports, settings, extra_tasks=[failing_task])
    changes = monitor.step(deployed_at + timedelta(seconds=15))
    assert served(ports) == 1
    assert seen == ["churn"]
    # the alarms were evaluated too, after the failing task
    assert ("latency-p99", "OK") in {(c.alarm, c.new_state) for c in changes}
