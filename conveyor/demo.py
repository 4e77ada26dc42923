"""``make demo``: the whole flow on the bundled sample, as a user would type it.

Runs in its own home (``.conveyor/demo``, emptied first) so it can be run again and again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from conveyor.samples import CHURN_CSV

DEMO_HOME = Path(".conveyor/demo")


def _conveyor(*args: str, env: dict[str, str]) -> None:
    shown = " ".join(shlex.quote(a) for a in ("conveyor", *args))
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "conveyor.cli.main", *args], env=env, check=False
    )
    if result.returncode != 0:
        print(f"demo: `{shown}` exited {result.returncode}", file=sys.stderr)
        sys.exit(result.returncode)


def main() -> None:
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    DEMO_HOME.mkdir(parents=True)
    sample = DEMO_HOME / "churn.csv"
    shutil.copyfile(CHURN_CSV, sample)
    env = {**os.environ, "CONVEYOR_HOME": str(DEMO_HOME.absolute())}
    print(
        f"conveyor demo: CONVEYOR_HOME={DEMO_HOME}, sample {sample} "
        "(5,000 customers; string categoricals, missing values, a date, an id column)"
    )
    _conveyor("upload", str(sample), "--project", "churn", "--target", "churned", "--wait", env=env)
    _conveyor("runs", "list", "--project", "churn", env=env)
    _conveyor("models", "list", "churn", env=env)
    _conveyor("models", "show", "churn", "1", env=env)
    _conveyor("upload", str(sample), "--project", "churn", env=env)
    print(f"\nexplore further with: CONVEYOR_HOME={DEMO_HOME} .venv/bin/conveyor --help")


if __name__ == "__main__":
    main()
