"""The release workflow (.github/workflows/release.yml), checked offline: its order (test and
build, staging, smoke test, approval, production), OIDC and nothing stored, that every
command a step runs exists here and takes the arguments given, that the variables it reads
are the ones deploy/github-oidc.yaml's outputs fill and docs/aws.md describes, and shellcheck
on every step's script (make iac-check validates the file against GitHub's schema)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

# CloudFormation's short tags (!Sub, !Ref) read as their long forms.
from tests.integration.aws.test_template import _CloudFormationLoader

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
OIDC_TEMPLATE = ROOT / "deploy" / "github-oidc.yaml"
SHELLCHECK = ROOT / ".venvs-iac" / "workflow-lint" / "bin" / "shellcheck"
DEPLOY_JOBS = ("staging", "production")
# Variables GitHub sets in every job.
GITHUB_SET = {"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_SHA"}


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def _script(step: dict[str, Any]) -> str:
    """A step's ``run`` with each ``${{ expression }}`` as a plain word."""
    return re.sub(r"\$\{\{[^}]*\}\}", "expression", step["run"])


def _commands(script: str) -> list[list[str]]:
    """The commands of a script's lines (continuations joined), as words."""
    joined = script.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


def test_it_tests_then_stages_then_waits_for_approval_then_ships(
    workflow: dict[str, Any],
) -> None:
    jobs = workflow["jobs"]
    assert list(jobs) == ["test", "build", "staging", "production"]
    assert [step.get("run") for step in jobs["test"]["steps"] if "run" in step] == ["make test"]
    assert any(step.get("run") == "make sam-build" for step in jobs["build"]["steps"])
    assert set(jobs["staging"]["needs"]) == {"test", "build"}
    assert jobs["production"]["needs"] == "staging"
    # Required reviewers are a setting of the GitHub environment: the job waits there.
    assert [jobs[name]["environment"]["name"] for name in DEPLOY_JOBS] == list(DEPLOY_JOBS)
    staging_runs = [step.get("run", "") for step in jobs["staging"]["steps"]]
    deploy = next(i for i, run in enumerate(staging_runs) if "scripts/deploy-stack.sh" in run)
    smoke = next(i for i, run in enumerate(staging_runs) if "scripts/smoke_predict.py" in run)
    assert deploy < smoke


def test_aws_credentials_come_from_oidc_only_in_the_deploy_jobs(
    workflow: dict[str, Any],
) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        logins = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        if name not in DEPLOY_JOBS:
            assert not logins and "permissions" not in job, name
            continue
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        (login,) = logins
        assert login["uses"].startswith("aws-actions/configure-aws-credentials@v")
        assert set(login["with"]) == {"role-to-assume", "aws-region"}
    assert "secrets." not in WORKFLOW.read_text()  # no stored keys


def test_every_command_a_step_runs_exists_here(workflow: dict[str, Any]) -> None:
    parser = _load_smoke_script().parser
    for job, step in _steps(workflow):
        if "run" not in step:
            continue
        for words in _commands(_script(step)):
            if words[0] == "make":
                dry = subprocess.run(
                    ["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True
                )
                assert dry.returncode == 0, (job, words, dry.stderr)
            script = next((w for w in words if w.startswith("scripts/")), None)
            if script is None:
                continue
            path = ROOT / script
            assert path.is_file(), (job, script)
            if path.suffix == ".py":
                parser().parse_args(words[words.index(script) + 1 :])
            else:
                assert path.stat().st_mode & 0o111, f"{script} is not executable"
    # ... and the scripts those run.
    for script in ROOT.glob("scripts/*.sh"):
        for called in re.findall(r"scripts/[\w.-]+", script.read_text()):
            assert (ROOT / called).is_file(), (script.name, called)


def test_every_variable_a_script_reads_is_set_by_its_step(workflow: dict[str, Any]) -> None:
    deploy_reads = set(
        re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (ROOT / "scripts/deploy-stack.sh").read_text())
    )
    for job, step in _steps(workflow):
        if "run" not in step:
            continue
        given = set(step.get("env", {})) | set(workflow.get("env", {})) | GITHUB_SET
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", _script(step)))
        assert used <= given, (job, used - given)
        if "scripts/deploy-stack.sh" in step["run"]:
            optional = {"SAM", "SAM_PARAMETER_OVERRIDES", "IMAGE_TAG"}
            assert deploy_reads - optional <= given, (job, deploy_reads - given)


def test_the_variables_it_reads_are_documented_and_the_oidc_stack_fills_them(
    workflow: dict[str, Any],
) -> None:
    read = set(re.findall(r"vars\.([A-Z_]+)", WORKFLOW.read_text()))
    docs = (ROOT / "docs" / "aws.md").read_text()
    for name in read:
        assert f"`{name}`" in docs, f"docs/aws.md does not describe {name}"
    oidc = OIDC_TEMPLATE.read_text()
    for name in ("AWS_DEPLOY_ROLE_ARN", "CLOUDFORMATION_ROLE_ARN", "SAM_ARTIFACTS_BUCKET"):
        assert name in read
        assert f"The environment's {name} variable" in oidc


def test_the_deploy_role_trusts_only_this_repository_s_environments(
    workflow: dict[str, Any],
) -> None:
    template = yaml.load(OIDC_TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    environments = template["Parameters"]["GitHubEnvironment"]["AllowedValues"]
    assert environments == list(DEPLOY_JOBS)
    (trust,) = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    equals = trust["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert equals["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"
    }


def test_every_step_s_script_passes_shellcheck(workflow: dict[str, Any], tmp_path: Path) -> None:
    assert SHELLCHECK.exists(), "make .venvs-iac/workflow-lint/.installed first (make test does)"
    for index, (job, step) in enumerate(_steps(workflow)):
        if "run" not in step:
            continue
        script = tmp_path / f"{job}-{index}.sh"
        # GitHub runs `bash -e {0}`; each ${{ }} is a word there.
        script.write_text("#!/usr/bin/env bash\nset -e\n" + _script(step))
        checked = subprocess.run([str(SHELLCHECK), str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, (job, step.get("name"), checked.stdout)


def _load_smoke_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scripts_smoke", ROOT / "scripts/smoke_predict.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
