"""Every operation of /openapi.json fuzzed by schemathesis against the real app and home.

Each operation gets valid (positive) and invalid (negative) requests, once with its path
parameters free and once pinned to what the home holds (project 'churn', its version 1 and
its run), so the routes run their real code and not only their 404. Every response must be
no 5xx, with a documented status code, content type and body. The server requires an API
key, which every fuzzed request carries. The examples are derandomized: a failure here is
repeatable, and its curl command is in the failure message.

Run with ``-rP`` (or ``-s``) to see the examples per operation and the 5xx count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.schemas import APIOperation

from conveyor.config import Settings
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.serving.app import create_app

KEY = "fuzz-key-0123456789"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation, per generation mode and per way of choosing the path parameters: at most
# 4 x 10 requests an operation (fewer when its inputs run out sooner).
EXAMPLES = 10
SCORING = {"POST /predict/{project}", "POST /invocations"}
# Open without a key (conveyor.serving.auth.OPEN_PATHS): probes and Prometheus.
OPEN = {"GET /health", "GET /ping", "GET /metrics"}

ASGIApp = Callable[..., Any]


@dataclass
class Tally:
    """Requests per operation, and every distinct failure (not only the first)."""

    examples: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    server_errors: int = 0
    # (operation, what failed) → schemathesis's account: the answer and a curl command.
    failures: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.examples.values())

    def report(self) -> str:
        width = max(len(label) for label in self.examples)
        lines = [
            f"{label:<{width}}  {count:>3} examples  {self.seconds[label]:4.1f} s  "
            + " ".join(f"{code}:{n}" for code, n in sorted(self.statuses[label].items()))
            for label, count in self.examples.items()
        ]
        lines.append(
            f"fuzzed {len(self.examples)} operations with {self.total} examples in "
            f"{sum(self.seconds.values()):.1f} s; 5xx found: {self.server_errors}; "
            f"other failures: {len(self.failures)}"
        )
        return "\n".join(lines)


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app as schemathesis sees it: the test client runs the lifespan (recorder, model
    holder) and stops it when the test ends, which schemathesis's own client would not."""

    async def served(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("the lifespan runs in the test's own client")
        await app(scope, receive, send)

    return served


@dataclass
class Fuzzed:
    client: TestClient
    app: ASGIApp
    document: dict[str, Any]
    known: dict[str, Any]  # path parameters naming what the home holds
    rows: st.SearchStrategy[list[dict[str, Any]]]  # rows with the model's own columns


def model_rows(ports: Ports, data: Path) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows of the training file with the model's own columns, up to two of their values
    replaced by any JSON scalar: rows the model scores, and rows whose values it must refuse
    by name."""
    features = ports.registry.get_version("churn", 1).input_schema["features"]
    columns = [feature["name"] for feature in features]
    sample = pl.read_csv(data, n_rows=50).select(columns).to_dicts()
    anything = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    )
    changes = st.dictionaries(st.sampled_from(columns), anything, max_size=2)
    row = st.tuples(st.sampled_from(sample), changes).map(lambda pair: {**pair[0], **pair[1]})
    return st.lists(row, min_size=1, max_size=4)


@pytest.fixture
def fuzzed(home: Path, ports: Ports) -> Iterator[Fuzzed]:
    app = create_app(ports, Settings(home=home, api_key=KEY), poll_seconds=0.05)
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        run = RunStore(ports.table).list_runs("churn", limit=1)[0]
        known = {"project": "churn", "version": 1, "run_id": run.run_id}
        rows = model_rows(ports, home / "churn.csv")
        yield Fuzzed(client, without_lifespan(app), document, known, rows)


def can_be_invalid(definition: dict[str, Any]) -> bool:
    """Whether schemathesis can make an invalid request: a body or a parameter with
    constraints (any text is a valid string path parameter, so there is nothing to break)."""
    constrained = [
        p for p in definition.get("parameters", []) if p["schema"].get("type") != "string"
    ]
    return "requestBody" in definition or bool(constrained)


def strategies(
    operation: APIOperation, fuzzed: Fuzzed
) -> list[tuple[GenerationMode, st.SearchStrategy[Any]]]:
    method, path = operation.label.split(" ", 1)
    definition = fuzzed.document["paths"][path][method.lower()]
    names = {p["name"] for p in definition.get("parameters", []) if p["in"] == "path"}
    pinned = {name: value for name, value in fuzzed.known.items() if name in names}
    # The real project with the rest free (e.g. any version of 'churn'), then all real.
    choices = [{}, {"project": "churn"}, pinned] if len(pinned) > 1 else [{}, pinned]
    modes = [GenerationMode.POSITIVE]
    if can_be_invalid(definition):
        modes.append(GenerationMode.NEGATIVE)
    chosen = [
        (mode, operation.as_strategy(generation_mode=mode, path_parameters=parameters or None))
        for mode in modes
        for parameters in (choices if pinned else [{}])
    ]
    if operation.label in SCORING:  # the model itself, not only the parsing in front of it
        chosen.append(
            (
                GenerationMode.POSITIVE,
                fuzzed.rows.map(
                    lambda rows: operation.Case(
                        path_parameters=pinned,
                        body={"instances": rows},
                        media_type="application/json",
                    )
                ),
            )
        )
    return chosen


def run_examples(
    strategy: st.SearchStrategy[Any], label: str, tally: Tally, headers: dict[str, str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def one(case: Any) -> None:
        tally.examples[label] += 1
        try:
            response = case.call(headers=headers)
            tally.statuses[label][response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as error:
            found = list(error.exceptions) if isinstance(error, FailureGroup) else [error]
            tally.server_errors += any(isinstance(f, ServerError) for f in found)
            for failure in found:
                kind = f"{failure.title}: {failure.message}".splitlines()[0]
                tally.failures.setdefault((label, kind), str(error))
        except Exception as error:  # the app raised: its 500 reaches the client as this
            tally.server_errors += 1
            kind = f"Server error: {type(error).__name__}: {error}"
            tally.failures.setdefault((label, kind), case.as_curl_command())

    one()


def test_every_operation_answers_as_documented_and_never_5xx(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        tally.examples[label] = 0
        tally.statuses[label] = Counter()
        started = time.perf_counter()
        for mode, strategy in strategies(operation, fuzzed):
            try:
                run_examples(strategy, label, tally, {"x-api-key": KEY})
            except Unsatisfiable:
                # e.g. a body whose every invalid form is unsendable as JSON: nothing to break.
                assert mode is GenerationMode.NEGATIVE, label
        tally.seconds[label] = time.perf_counter() - started

    print(tally.report())
    assert len(tally.examples) >= 24, sorted(tally.examples)
    for label in SCORING:  # the fuzzing reached the model, not only the refusals
        assert tally.statuses[label][200] > 0, tally.statuses[label]
    assert tally.server_errors == 0 and not tally.failures, "\n\n".join(
        f"{label} — {kind}\n{account}" for (label, kind), account in tally.failures.items()
    )


def test_without_the_key_every_guarded_operation_answers_a_documented_401(
    fuzzed: Fuzzed,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    answered: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=1, deadline=None, derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def keyless(case: Any) -> None:
            response = case.call_and_validate(checks=CHECKS)
            answered[case.operation.label] = response.status_code

        keyless()
    guarded = {label: status for label, status in answered.items() if label not in OPEN}
    assert len(guarded) >= 21, answered
    assert set(guarded.values()) == {401}, guarded
    assert all(answered[label] != 401 for label in OPEN), answered


# The dashboard's pages are outside /openapi.json (HTML for people): fuzzed for no 5xx only.
PAGES = (
    "/ui/projects/{}",
    "/ui/runs/{}",
    "/ui/projects/churn/versions/{}",
    "/ui/projects/{}/versions/1",
    "/ui/static/{}",
)


def test_dashboard_pages_never_answer_5xx(fuzzed: Fuzzed) -> None:
    segments = st.one_of(
        st.sampled_from([str(value) for value in fuzzed.known.values()]),
        st.text(min_size=1, max_size=300),
        st.integers().map(str),
    )
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES * len(PAGES),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(page=st.sampled_from(PAGES), segment=segments)
    def visit(page: str, segment: str) -> None:
        url = page.format(quote(segment, safe=""))
        response = fuzzed.client.get(url, headers={"x-api-key": KEY}, follow_redirects=False)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (url, response.text[:500])

    visit()
    print(
        f"dashboard pages: {statuses.total()} examples, statuses {dict(sorted(statuses.items()))}"
    )
    assert statuses[200] > 0 and statuses[404] > 0, statuses
