"""The Lambda functions get conveyor's sources and aws/lambda-requirements.txt, nothing else
(aws/Makefile builds them so): whatever the handlers module imports must be listed there, or
every invocation of a deployed function fails with ModuleNotFoundError."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[3] / "aws" / "lambda-requirements.txt"
# Lambda's python3.12 runtime has the standard library only (and boto3, pinned here anyway).
_IMPORTED_MODULES = r"""
import json, sys
already = set(sys.modules)  # the interpreter's start-up (site, .pth hooks), not the handlers'
import conveyor.aws.handlers
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - already})))
"""


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pinned() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} in {REQUIREMENTS.name} is not pinned with =="
            pins[_normalized(name)] = version
    return pins


def test_every_package_the_handlers_import_is_in_the_lambda_requirements() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTED_MODULES], capture_output=True, text=True, check=True
    ).stdout
    imported = json.loads(out)
    owners = importlib.metadata.packages_distributions()
    pins = _pinned()
    needed = {
        _normalized(dist)
        for module in imported
        if module not in sys.stdlib_module_names and module != "conveyor"
        for dist in owners.get(module, [])
    }
    assert needed, "expected the handlers to import pydantic at least"
    assert needed <= set(pins), (
        f"imported but not built into the Lambda layer: {needed - set(pins)}"
    )
