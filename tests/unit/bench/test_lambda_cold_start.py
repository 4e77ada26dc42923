"""The Lambda cold-start benchmark's reading of the template and its section of
BENCHMARKS.md (without running it)."""

from __future__ import annotations

import json

from bench.lambda_cold_start import ROOT, handler_functions, section


def test_every_function_of_the_template_is_measured() -> None:
    from tests.integration.aws.iam_policies import function_handlers

    assert handler_functions() == function_handlers()  # as SAM's own translator reads them


def test_the_section_shows_the_cold_start_and_the_package_against_lambdas_limit() -> None:
    figures = json.loads((ROOT / "bench" / "results" / "lambda_cold_start.json").read_text())
    text = "\n".join(section(figures))
    total = round(figures["import_ms"] + figures["first_ports_ms"], 1)
    assert f"| cold start before the first event | {total} |" in text
    assert f"{len(figures['functions'])}: " in text
    size = (figures["package"]["function_bytes"] + figures["package"]["layer_bytes"]) / 1e6
    assert f"{size:.2f}" in text


def test_every_function_of_the_template_has_a_build_rule() -> None:
    # sam build runs `make build-<LogicalId>`: a function missing from aws/Makefile fails it.
    makefile = (ROOT / "aws" / "Makefile").read_text()
    listed = makefile.split("FUNCTIONS :=", 1)[1].split("\n\n", 1)[0].replace("\\", " ").split()
    assert set(listed) == set(handler_functions())
