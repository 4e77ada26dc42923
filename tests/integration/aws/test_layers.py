"""Imports go down the layers: no module of conveyor imports one of a higher layer.

The layers, lowest first (shared DESIGN.md's "Where things live"); a module imports only from
its own layer or below:

0. leaves: ``errors``, ``types``, ``hashing``, ``logs``, ``config`` (every setting, the AWS
   ones nested), the one boto3 factory (``aws.clients``) and botocore error translator
   (``aws.errors``), the private helpers (``_memory``,
   ``_process``, ``_sqlite``, ``_schemes``), ``samples``.
1. ports and their adapters: ``storage``, ``tables``, ``events``, ``jobs``, ``registry``,
   ``endpoint``, ``metrics`` (Prometheus, CloudWatch EMF and alarms), ``ports`` and
   ``wiring`` (they name the ports; the adapters ``wiring`` builds are imported by name, at
   run time), and the AWS plumbing the adapters share (``aws.sagemaker_common``,
   ``aws.events``: the payload shapes of AWS's events).
2. data and models: ``tabular``, ``model``, ``inference`` (the record and capture shapes
   serving writes and monitoring reads), ``projects``, ``aws.s3_hash`` (an artifact's
   content digest, as SageMaker's model step computes it).
3. analysis: ``monitoring`` (drift, alarms' rules and store, live quality, integrity): it
   computes and stores, it never acts.
4. actions: ``pipeline`` (stages, runs, release, and the loops that act: worker, monitor,
   alarm actions, guardrail, retrain, schedules).
5. entry points: ``serving``, ``api``, ``ui``, ``cli``, ``aws`` (the Lambda handlers and
   SageMaker jobs), ``demo``, ``jobs.entrypoint`` (the training job's program) and
   ``loaded`` (``conveyor.load_model``, the Python API).

Every import counts: at module top, inside a function (a lazy import is still a dependency)
and under ``TYPE_CHECKING``. The walk reads the sources with ``ast``; nothing is imported.
``python -m tests.integration.aws.test_layers`` prints the upward imports that remain.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import conveyor

PACKAGE = Path(conveyor.__file__).parent

LAYERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "conveyor",
            "conveyor.errors",
            "conveyor.types",
            "conveyor.hashing",
            "conveyor.logs",
            "conveyor.config",
            "conveyor.aws.clients",
            "conveyor.aws.errors",
            "conveyor._memory",
            "conveyor._process",
            "conveyor._sqlite",
            "conveyor._schemes",
            "conveyor.samples",
        ),
        0,
    ),
    **dict.fromkeys(
        (
            "conveyor.storage",
            "conveyor.tables",
            "conveyor.events",
            "conveyor.jobs",
            "conveyor.registry",
            "conveyor.endpoint",
            "conveyor.metrics",
            "conveyor.ports",
            "conveyor.wiring",
            "conveyor.aws.sagemaker_common",
            "conveyor.aws.events",
        ),
        1,
    ),
    **dict.fromkeys(
        (
            "conveyor.tabular",
            "conveyor.model",
            "conveyor.inference",
            "conveyor.projects",
            "conveyor.aws.s3_hash",
        ),
        2,
    ),
    "conveyor.monitoring": 3,
    "conveyor.pipeline": 4,
    **dict.fromkeys(
        (
            "conveyor.serving",
            "conveyor.api",
            "conveyor.ui",
            "conveyor.cli",
            "conveyor.aws",
            "conveyor.demo",
            "conveyor.jobs.entrypoint",
            "conveyor.loaded",  # conveyor.load_model: the Python API's entry point
        ),
        5,
    ),
}

# Upward imports that stand today, each with why; the test fails on any other, and on an
# entry here that no longer happens (delete it then).
ALLOWED: dict[tuple[str, str], str] = {
    # ``conveyor.load_model``, the Python API users reach first, imports its module only when
    # called: ``import conveyor`` stays a leaf that every layer may name.
    ("conveyor", "conveyor.loaded"): "the package's load_model, imported when called",
    # The SageMaker endpoint checks the artifact's sha256 once more as it creates the model
    # (the object may change after the caller's check) and raises the same integrity alarm
    # as every other refusal, into the alarm history. Raising a plain IntegrityError here
    # and recording the alarm in the release step is a behaviour change of its own.
    (
        "conveyor.endpoint.sagemaker",
        "conveyor.monitoring.integrity",
    ): "the endpoint's own artifact check raises the integrity alarm",
    # SageMaker's CreateModel wants the archive's content digest; ``model.content_digest``
    # (what ``aws.s3_hash`` reads) is pure hashing that belongs beside ``hashing`` (model/
    # is another branch's).
    (
        "conveyor.endpoint.sagemaker",
        "conveyor.aws.s3_hash",
    ): "the endpoint needs the archive's content digest, computed in model/",
}


def layer_of(module: str) -> int | None:
    """The layer of ``module``: its longest listed prefix's; None when it has none."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = LAYERS.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The conveyor modules ``node`` imports (``from a import b`` names ``a.b`` when ``b``
    is a module, else ``a``: the longest prefix with a layer decides either way)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    return [f"{base}.{alias.name}" for alias in node.names]


@cache
def module_imports() -> dict[str, set[str]]:
    """Every conveyor module and the conveyor modules it imports, wherever in the file."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        names = found.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = _imported(node, module, path.name == "__init__.py")
                names.update(t for t in targets if t == "conveyor" or t.startswith("conveyor."))
    return found


def upward_imports() -> dict[tuple[str, str], tuple[int, int]]:
    """(importer, imported module) -> (their layers), for every import going up."""
    upward = {}
    for module, targets in module_imports().items():
        low = layer_of(module)
        for target in targets:
            high = layer_of(target)
            if low is not None and high is not None and high > low:
                # ``from a import b``: report the module that carries the layer
                upward[(module, _layer_owner(target))] = (low, high)
    return upward


def _layer_owner(target: str) -> str:
    """``target`` itself when it is a module of conveyor, else its parent (a name in it)."""
    path = PACKAGE.parent.joinpath(*target.split("."))
    return target if path.with_suffix(".py").exists() or path.is_dir() else target.rsplit(".", 1)[0]


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in module_imports() if layer_of(m) is None)
    assert unplaced == [], f"give these modules a layer in LAYERS: {unplaced}"


def test_no_module_imports_from_a_higher_layer() -> None:
    new = {pair: layers for pair, layers in sorted(upward_imports().items()) if pair not in ALLOWED}
    assert new == {}, (
        "upward imports (importer, imported): (layer, layer); move the code down or the "
        f"import up, as this module's docstring orders the layers: {new}"
    )


def test_every_allowed_upward_import_still_happens() -> None:
    stale = sorted(set(ALLOWED) - set(upward_imports()))
    assert stale == [], f"these no longer import upward; delete them from ALLOWED: {stale}"


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("conveyor.logs", 0),
        ("conveyor.metrics.cloudwatch", 1),
        ("conveyor.inference.records", 2),
        ("conveyor.monitoring.drift.store", 3),
        ("conveyor.pipeline.guardrail", 4),
        ("conveyor.jobs.entrypoint", 5),
        ("conveyor.aws.handlers", 5),
    ],
    ids=lambda value: str(value),
)
def test_a_module_takes_its_longest_prefix_layer(module: str, layer: int) -> None:
    assert layer_of(module) == layer


if __name__ == "__main__":
    remaining = upward_imports()
    for (importer, imported), (low, high) in sorted(remaining.items()):
        print(f"{importer} ({low}) -> {imported} ({high})")
    print(f"{len(remaining)} upward imports, {len(ALLOWED)} allowed")
