"""/api/v1 runs: the project's runs with stages, one run, its logs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports


def test_runs_of_a_project_with_their_stages(client: TestClient, ports: Ports) -> None:
    response = client.get("/api/v1/projects/churn/runs")
    assert response.status_code == 200
    (run,) = response.json()
    assert run["state"] == "DEPLOYED" and run["model_version"] == 1
    stages = run["stages"]
    assert [s["stage"] for s in stages] == ["preprocess", "train", "evaluate"]
    assert all(s["outcome"] == "succeeded" and s["seconds"] > 0 for s in stages)


def test_runs_newest_first_and_limited(client: TestClient, ports: Ports) -> None:
    store = RunStore(ports.table)
    (first,) = store.list_runs("churn")
    second, _ = store.create("churn", first.raw, "other-bytes")
    failed = store.fail(second, "the CSV has no column 'churned'")
    listed = client.get("/api/v1/projects/churn/runs").json()
    assert [r["run_id"] for r in listed] == [failed.run_id, first.run_id]
    assert listed[0]["state"] == "FAILED" and listed[0]["stages"] == []
    limited = client.get("/api/v1/projects/churn/runs", params={"limit": 1}).json()
    assert [r["run_id"] for r in limited] == [failed.run_id]
    shown = client.get(f"/api/v1/runs/{failed.run_id}").json()
    assert shown["failure_reason"] == "the CSV has no column 'churned'"
    logs = client.get(f"/api/v1/runs/{failed.run_id}/logs").json()
    assert logs == {"run_log": "", "training_log": None}


def test_a_failed_stage_is_marked_failed(client: TestClient, ports: Ports) -> None:
    store = RunStore(ports.table)
    (first,) = store.list_runs("churn")
    run, _ = store.create("churn", first.raw, "more-bytes")
    from conveyor.types import RunState

    run = store.advance(run, RunState.PREPROCESSING)
    running = client.get(f"/api/v1/runs/{run.run_id}").json()
    assert [(s["stage"], s["outcome"]) for s in running["stages"]] == [("preprocess", "running")]
    store.fail(run, "bad rows")
    failed = client.get(f"/api/v1/runs/{run.run_id}").json()
    assert [(s["stage"], s["outcome"]) for s in failed["stages"]] == [("preprocess", "failed")]


def test_run_logs_hold_the_run_log_and_the_training_log(client: TestClient, ports: Ports) -> None:
    (run,) = RunStore(ports.table).list_runs("churn")
    logs = client.get(f"/api/v1/runs/{run.run_id}/logs")
    assert logs.status_code == 200
    body = logs.json()
    assert run.run_id in body["run_log"]  # JSON lines stamped with the run id
    assert body["training_log"]  # the training job's output


def test_unknown_run_and_project_are_404s(client: TestClient) -> None:
    for path in ("/api/v1/runs/r-nosuch", "/api/v1/runs/r-nosuch/logs"):
        response = client.get(path)
        assert response.status_code == 404
        assert "'r-nosuch'" in response.json()["message"] and response.json()["field"] == "run"
    response = client.get("/api/v1/projects/nosuch/runs")
    assert response.status_code == 404 and response.json()["field"] == "project"
    response = client.get("/api/v1/projects/churn/runs", params={"limit": 0})
    assert response.status_code == 422 and response.json()["field"] == "query.limit"


def test_a_runs_file_report_new_and_old(client: TestClient, ports: Ports) -> None:
    from tests.unit.pipeline.test_file_report import NEW_REPORT

    store = RunStore(ports.table)
    (trained,) = store.list_runs("churn")
    old = client.get(f"/api/v1/runs/{trained.run_id}/file").json()
    kinds = {c["name"]: c["kind"] for c in old["columns"]}
    assert kinds["signup date"] == "datetime" and kinds["customer id"] == "dropped"
    run, _ = store.create("churn", trained.raw, "new-bytes")
    store.update_report(run, **NEW_REPORT)
    new = client.get(f"/api/v1/runs/{run.run_id}/file").json()
    assert new == {"file": NEW_REPORT["file"], "columns": new["columns"]}
    assert new["columns"][0]["rule"] == "currency `$`, thousands `,`"
    assert client.get("/api/v1/runs/r-missing/file").status_code == 404
