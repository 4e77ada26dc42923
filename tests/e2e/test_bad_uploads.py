"""Bad input: each malformed upload fails its run with a reason a person can act on,
creates no version, and leaves what was already stored untouched."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import json_of, run_cli

GOOD_HEADER = "age,plan,churned\n"

BAD_FILES: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "empty"),
    "header only": (GOOD_HEADER.encode(), "no data rows"),
    "target column missing": (b"age,plan\n" + b"31,pro\n" * 40, "churned"),
    "target all missing": (GOOD_HEADER.encode() + b"31,pro,\n" * 40, "no values"),
    "single class": (GOOD_HEADER.encode() + b"31,pro,yes\n42,basic,yes\n" * 20, "single class"),
    # One row in three of the wrong width: past the share a project sets aside (10%).
    "ragged rows past the share": (
        GOOD_HEADER.encode() + (b"31,pro,yes\n" * 2 + b"42,basic\n") * 10,
        "max_reject_share",
    ),
    "binary file renamed .csv": (b"%PDF-1.7\n" + bytes(range(256)) * 4, "binary"),
    "gzip of no table": (gzip.compress(b"not a table" * 100), "single column"),
}


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's trained churn home, shared by the bad uploads (each checks
    that it leaves the stored files as they were)."""
    home = tmp_path_factory.mktemp("bad-uploads") / "home"
    shutil.copytree(trained_home, home)
    return home


def _stored(home: Path) -> dict[str, str]:
    buckets = home / "buckets"
    return {
        str(p.relative_to(buckets)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(buckets.rglob("*"))
        if p.is_file()
        and "raw" not in p.relative_to(buckets).parts[:1]
        and "reports" not in p.relative_to(buckets).parts[:1]
    }


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_upload_fails_with_a_reason_and_loses_nothing(
    case: str, home: Path, tmp_path: Path
) -> None:
    content, expected = BAD_FILES[case]
    before = _stored(home)
    bad = tmp_path / f"{case.replace(' ', '-')}.csv"
    bad.write_bytes(content)

    result = run_cli(home, "upload", str(bad), "-p", "churn", "--wait", "--json")

    assert result.returncode == 10, result.stderr
    run = json.loads(result.stdout)
    assert run["state"] == "FAILED"
    assert expected.lower() in run["failure_reason"].lower(), run["failure_reason"]
    assert "run failed" in result.stderr
    versions = json_of(run_cli(home, "models", "list", "churn", "--json"))
    assert [v["version"] for v in versions] == [1]
    assert _stored(home) == before  # processed data and models untouched


def test_a_project_may_set_aside_more_rows_of_the_wrong_width(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = "".join(
        f"{20 + i % 40},{('pro', 'basic')[i % 2]},{('yes', 'no')[i % 3 == 0]}\n" for i in range(60)
    )
    data = tmp_path / "ragged.csv"
    data.write_text(GOOD_HEADER + good + "42,basic\n" * 15)  # a fifth of the rows set aside
    created = run_cli(
        home, "project", "create", "lenient", "--target", "churned", "--max-reject-share", "0.3"
    )
    assert created.returncode == 0, created.stderr
    run = json_of(run_cli(home, "upload", str(data), "-p", "lenient", "--wait", "--json"))
    assert run["state"] != "FAILED", run.get("failure_reason")
    assert run["report"]["file"]["rows_rejected"] == 15
    strict = run_cli(home, "upload", str(data), "-p", "churn", "--target", "churned", "--wait")
    assert strict.returncode == 10 and "max_reject_share" in strict.stdout + strict.stderr
