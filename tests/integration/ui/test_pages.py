"""The dashboard's pages as the server draws them, from a home the real pipeline trained: each
shows its project's data, an unknown name gets a page that says so, user text is escaped, and
the package's scripts are served (nothing outside the static folder is)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.types import ObjectRef
from conveyor.wiring import build_ports


@pytest.fixture
def ports(trained_home: Path, tmp_path: Path) -> Ports:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return build_ports(Settings(home=home))


@pytest.fixture
def client(ports: Ports, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ports, Settings(home=tmp_path / "home"), poll_seconds=0.05, record=False)
    with TestClient(app) as test_client:
        yield test_client


def test_each_page_shows_its_projects_data(client: TestClient, ports: Ports) -> None:
    version = ports.registry.get_version("churn", 1)
    run = RunStore(ports.table).get(version.run_id)

    overview = client.get("/ui")
    assert overview.status_code == 200
    assert overview.headers["content-type"].startswith("text/html")
    assert 'href="/ui/projects/churn"' in overview.text
    assert f"{version.primary_metric} {version.metrics['test'][version.primary_metric]:.4g}" in (
        overview.text
    )

    project = client.get("/ui/projects/churn").text
    assert 'v<span id="deployed-version">1</span>' in project
    assert f'data-run="{run.run_id}"' in project
    assert 'data-action="approve" data-version="1"' in project
    assert all(stage in project for stage in run.stages)

    page = client.get("/ui/projects/churn/versions/1").text
    assert "trivial baseline" in page
    assert version.raw.key in page and version.dataset_id in page
    assert f"conveyor {version.package_version}" in page
    # How it labels a row: the churn model's class 1 above its threshold.
    assert '<p id="decision">Decision: ' in page and "when its probability" in page

    run_page = client.get(f"/ui/runs/{run.run_id}").text
    assert run_page.count('class="stage-row"') == len(run.stages)
    assert 'id="run-log"' in run_page


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/ui/projects/nope", "'nope'"),
        ("/ui/runs/r-missing", "'r-missing'"),
        ("/ui/projects/churn/versions/9", "no version 9"),
        (f"/ui/projects/churn/datasets/{'0' * 64}", "no data set 000000000000"),
        ("/ui/projects/churn/datasets/d1", "'d1' is not a data set id"),
    ],
)
def test_an_unknown_name_gets_a_page_that_names_it(
    client: TestClient, path: str, named: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert named in response.text.replace("&#39;", "'")


def test_text_from_users_is_escaped(client: TestClient, ports: Ports) -> None:
    runs = RunStore(ports.table)
    run, _ = runs.create("churn", ObjectRef("raw", "churn/<script>alert(1)</script>.csv"), "d1")
    runs.fail(run, "<img src=x onerror=alert(2)>")
    page = client.get(f"/ui/runs/{run.run_id}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_the_vendored_chart_library_is_served_and_nothing_beside_the_static_folder(
    client: TestClient,
) -> None:
    script = client.get("/ui/static/vendor/uPlot.iife.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "uPlot" in script.text
    assert client.get("/ui/static/ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/..%2Frouter.py").status_code == 404
    assert client.get("/ui/static/nothing.js").status_code == 404
    # Once 500s (found by fuzzing): a path the file system cannot even look up.
    assert client.get("/ui/static/a%00b.js").status_code == 404
    assert client.get(f"/ui/static/{'a' * 300}.js").status_code == 404


def test_the_run_page_shows_what_conveyor_did_with_the_file(
    client: TestClient, ports: Ports
) -> None:
    from tests.unit.pipeline.test_file_report import NEW_REPORT

    runs = RunStore(ports.table)
    (trained,) = runs.list_runs("churn")
    old = client.get(f"/ui/runs/{trained.run_id}").text
    assert "What conveyor did with your file" in old
    assert "<td>signup date</td><td>datetime</td><td>date `%Y-%m-%d`" in old
    run, _ = runs.create("churn", trained.raw, "new-bytes")
    runs.update_report(run, **NEW_REPORT)
    page = client.get(f"/ui/runs/{run.run_id}").text
    assert "<dt>Encoding</dt><dd>cp1252</dd>" in page
    assert "delimiter &#39;;&#39;" in page
    assert '<td class="num">7</td><td>5 fields, the header has 4</td>' in page
    assert "currency `$`, thousands `,`" in page and '<td class="num">97.5%</td>' in page
    assert "<code>N/A</code>" in page and "set by you" in page

    version = client.get("/ui/projects/churn/versions/1").text
    assert "What conveyor did with your file" in version and "<td>customer id</td>" in version


def test_the_project_page_lists_the_column_kinds_set_by_hand(
    client: TestClient, ports: Ports
) -> None:
    from conveyor.projects import set_column_kinds

    assert 'id="column-kinds"' not in client.get("/ui/projects/churn").text
    set_column_kinds(ports.table, "churn", {"plan": "text", "<b>": "ignore"})
    page = client.get("/ui/projects/churn").text
    assert "<code>plan</code> text" in page and "<code>&lt;b&gt;</code> ignore" in page


def test_deploying_a_pending_version_from_the_page_asks_to_approve_it(
    client: TestClient, ports: Ports
) -> None:
    from dataclasses import replace

    from conveyor.types import ApprovalStatus

    first = ports.registry.get_version("churn", 1)
    ports.registry.create_version(
        replace(first, version=0, run_id="r-second", approval_status=ApprovalStatus.PENDING)
    )

    project = client.get("/ui/projects/churn").text

    pending = project[project.index('<tr data-version="2"') :]
    pending = pending[: pending.index("</tr>")]
    assert 'data-action="deploy" data-approve="true"' in pending
    assert "deploying it approves it. Approve v2 and deploy it to churn?" in pending
    assert ">Approve and deploy</button>" in pending
    served = project[project.index('<tr data-version="1"') :]
    served = served[: served.index("</tr>")]
    assert "data-approve" not in served and 'data-confirm="Deploy v1 to churn?"' in served


def test_the_version_page_shows_the_gates_warnings(client: TestClient, ports: Ports) -> None:
    version = ports.registry.get_version("churn", 1)
    warning = "accuracy 1.000 on the 300 test rows: the model leans on 'account <status>'"
    ports.registry.update_approval_status(
        "churn",
        1,
        version.approval_status,
        version.status_reason,
        gate={**(version.gate or {}), "warnings": [warning]},
    )
    page = client.get("/ui/projects/churn/versions/1").text
    assert '<p class="warning">accuracy 1.000 on the 300 test rows' in page
    assert "account &lt;status&gt;" in page


def test_the_project_page_says_what_auto_and_default_came_to(client: TestClient) -> None:
    page = client.get("/ui/projects/churn").text
    assert "auto (binary in v1)" in page
    assert "metric default (roc_auc in v1)" in page


def test_the_drift_panel_says_what_it_compares_and_how_often(client: TestClient) -> None:
    page = client.get("/ui/projects/churn").text
    assert (
        "the monitor (<code>conveyor up</code> or <code>conveyor worker</code>) checks every"
        in page
    )
    assert "the deployed version's requests of the last hour" in page


def test_the_compare_page_says_what_it_needs_before_it_compares(
    client: TestClient, ports: Ports
) -> None:
    # One version: nothing to compare yet, and no link to a page that could not.
    assert "compare-link" not in client.get("/ui/projects/churn").text
    alone = client.get("/ui/projects/churn/compare")
    assert alone.status_code == 200 and "churn has 1 version: nothing to compare yet" in alone.text
    assert client.get("/ui/projects/nope/compare").status_code == 404

    first = ports.registry.get_version("churn", 1)
    ports.registry.create_version(replace(first, version=0, run_id="r-copy"))
    assert 'id="compare-link"' in client.get("/ui/projects/churn").text
    picked = client.get("/ui/projects/churn/compare").text  # the two newest, checked
    assert picked.count("checked>") == 2 and 'data-versions="1,2"' in picked
    typo = client.get("/ui/projects/churn/compare", params={"versions": "1,x"}).text
    assert "versions must be numbers, e.g. 2,3; got &#39;1,x&#39;" in typo
    assert 'data-versions=""' in typo
