"""The images built in the account, checked offline (no Docker engine here): the ECR
repositories and the CodeBuild project of template.yaml, the buildspec they run, the
Dockerfiles and the lock files those install from, and the settings the functions get from
the image and network parameters, read as conveyor reads them."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conveyor.config import AwsSettings
from tests.integration.aws.iam_policies import expanded_template
from tests.integration.aws.test_template import template  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[3]
BUILDSPEC = ROOT / "containers" / "buildspec.yml"
REPOSITORIES = {"TrainingRepository": "training", "InferenceRepository": "inference"}
# What the template's parameters are set to in these tests.
ACCOUNT_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
_REPOSITORY_URIS = {name: f"{ACCOUNT_URI}/acme/{image}" for name, image in REPOSITORIES.items()}
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_each_image_has_a_scanned_encrypted_repository_with_immutable_tags(
    template: dict[str, Any],  # noqa: F811
) -> None:
    resources = template["Resources"]
    for name, image in REPOSITORIES.items():
        props = resources[name]["Properties"]
        assert props["RepositoryName"] == {"Fn::Sub": f"${{ProjectName}}/{image}"}
        assert props["ImageTagMutability"] == "IMMUTABLE"
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert props["EncryptionConfiguration"]["EncryptionType"] in {"KMS", "AES256"}
        rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        selections = [rule["selection"] for rule in rules]
        assert {"untagged", "any"} == {s["tagStatus"] for s in selections}, name
        assert all(rule["action"] == {"type": "expire"} for rule in rules)


def test_the_build_project_runs_the_buildspec_and_pushes_to_those_repositories_only(
    template: dict[str, Any],  # noqa: F811
) -> None:
    resources = template["Resources"]
    project = resources["ImageBuildProject"]["Properties"]
    assert (ROOT / project["Source"]["BuildSpec"]) == BUILDSPEC
    environment = project["Environment"]
    assert environment["PrivilegedMode"] is True  # docker build needs the daemon
    set_by_project = {variable["Name"] for variable in environment["EnvironmentVariables"]}
    assert set_by_project == {"TRAINING_REPOSITORY_URI", "INFERENCE_REPOSITORY_URI", "IMAGE_TAG"}
    # Every variable the buildspec reads is the project's, its own or CodeBuild's.
    spec = yaml.safe_load(BUILDSPEC.read_text())
    commands = " ".join(c for phase in spec["phases"].values() for c in phase["commands"])
    read = set(re.findall(r"\$\{?([A-Z_]+)", commands))
    codebuild = {"AWS_REGION", "CODEBUILD_BUILD_SUCCEEDING"}
    assert read <= set_by_project | set(spec["env"]["variables"]) | codebuild, read

    role = resources[project["ServiceRole"]["Fn::GetAtt"][0]]["Properties"]
    (policy,) = role["Policies"]
    push = next(s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "PushImages")
    assert "ecr:PutImage" in push["Action"]
    assert push["Resource"] == [{"Fn::GetAtt": [name, "Arn"]} for name in REPOSITORIES]


def test_the_buildspec_builds_every_dockerfile_from_files_in_the_repository() -> None:
    spec = yaml.safe_load(BUILDSPEC.read_text())
    assert spec["version"] == 0.2
    assert set(spec["phases"]) == {"pre_build", "build", "post_build"}
    dockerfiles = [
        ROOT / words[words.index("-f") + 1]
        for command in spec["phases"]["build"]["commands"]
        if (words := shlex.split(command))[:2] == ["docker", "build"]
    ]
    assert {path.parent.name for path in dockerfiles} == {"training", "inference"}
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        kept = _kept_by_dockerignore(dockerfile.with_name("Dockerfile.dockerignore"))
        copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE)
        assert copied, dockerfile
        for sources in copied:
            for source in sources.split():
                assert (ROOT / source).exists(), (dockerfile, source)
                assert source.rstrip("/") in kept, (dockerfile, source, "ignored by BuildKit")
        # Every package comes from the lock file, each checked against its hash.
        for install in re.findall(r"pip (?:install|wheel) [^\n&]+", text):
            install = install.strip()
            assert (
                "--require-hashes" in install
                or "--no-index" in install
                or install.endswith("--no-deps .")
            ), install


def _kept_by_dockerignore(path: Path) -> set[str]:
    """The paths a ``*``-then-``!path`` dockerignore lets into the build context."""
    lines = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "*", path
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [
        (
            "containers/inference/requirements.lock",
            tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"],
        ),
        (
            "containers/training/requirements.lock",
            [
                *(ROOT / "conveyor/jobs/requirements-sagemaker.txt").read_text().splitlines(),
                *(ROOT / "containers/training/requirements.in").read_text().splitlines(),
            ],
        ),
    ],
)
def test_every_requirement_is_pinned_in_the_image_s_lock_file_with_hashes(
    lock: str, wanted: list[str]
) -> None:
    """A dependency added without `make lock-images` fails here, not in CodeBuild."""
    text = (ROOT / lock).read_text()
    pins = {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, re.MULTILINE)
    }
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)
    for line in wanted:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(
            {"sys_platform": "linux", "python_version": "3.11"}
        ):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in {lock}: run make lock-images"
        assert requirement.specifier.contains(pins[name], prereleases=True), (line, pins[name])


def _resolve(value: Any, parameters: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The few intrinsics the functions' variables use, with ``parameters`` given."""
    if not isinstance(value, dict):
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return parameters.get(argument, f"<{argument}>")
    if function == "Fn::If":
        name, then, otherwise = argument
        return _resolve(then if conditions[name] else otherwise, parameters, conditions)
    if function == "Fn::Join":
        separator, items = argument
        return separator.join(_resolve(items, parameters, conditions))
    if function == "Fn::Sub":
        known = {**parameters, **{f"{n}.RepositoryUri": uri for n, uri in _REPOSITORY_URIS.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(known[m.group(1)]), argument)
    if function == "Fn::GetAtt":
        return f"<{'.'.join(argument)}>"
    raise AssertionError(f"unexpected intrinsic {function}")


def _settings(template: dict[str, Any], **parameters: Any) -> AwsSettings:  # noqa: F811
    """The AWS settings a function reads from the template's variables with ``parameters``."""
    defaults = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
    values = {**defaults, **parameters}
    for name, parameter in template["Parameters"].items():
        if parameter["Type"] == "CommaDelimitedList" and isinstance(values[name], str):
            values[name] = values[name].split(",")
    conditions = {
        "HasImageTag": bool(values["ImageTag"]),
        "HasVpc": bool("".join(values["VpcSubnetIds"])),
    }
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    read = {
        name.removeprefix("CONVEYOR_AWS_").lower(): _resolve(value, values, conditions)
        for name, value in variables.items()
        if name.startswith("CONVEYOR_AWS_")
    }
    fields = set(AwsSettings.model_fields)
    return AwsSettings(**{name: value for name, value in read.items() if name in fields})


def test_with_an_image_tag_jobs_and_endpoints_run_the_stack_s_images_and_install_nothing(
    template: dict[str, Any],  # noqa: F811
) -> None:
    settings = _settings(template, ImageTag="3f2a9c1")
    assert settings.training_image == f"{ACCOUNT_URI}/acme/training:3f2a9c1"
    assert settings.inference_image_uri() == f"{ACCOUNT_URI}/acme/inference:3f2a9c1"
    assert settings.training_image_has_dependencies is True


def test_without_one_the_image_parameters_are_used_and_jobs_install_at_start(
    template: dict[str, Any],  # noqa: F811
) -> None:
    settings = _settings(template, InferenceImage=f"{ACCOUNT_URI}/mine:1")
    assert settings.training_image == template["Parameters"]["TrainingImage"]["Default"]
    assert settings.inference_image_uri() == f"{ACCOUNT_URI}/mine:1"
    assert settings.training_image_has_dependencies is False


def test_network_and_key_parameters_reach_the_settings_and_default_to_none(
    template: dict[str, Any],  # noqa: F811
) -> None:
    unset = _settings(template)
    assert unset.vpc_config() is None
    assert unset.model_network_options() == {}
    assert (unset.output_kms_key_id, unset.volume_kms_key_id) == ("", "")

    settings = _settings(
        template,
        VpcSubnetIds="subnet-1,subnet-2",
        VpcSecurityGroupIds="sg-1",
        NetworkIsolation="true",
        OutputKmsKeyArn=KEY,
        VolumeKmsKeyArn=KEY,
    )
    assert settings.model_network_options() == {
        "VpcConfig": {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]},
        "EnableNetworkIsolation": True,
    }
    assert (settings.output_kms_key_id, settings.volume_kms_key_id) == (KEY, KEY)


def test_the_vpc_and_key_policies_attach_to_roles_sam_makes() -> None:
    """Their ``Roles`` name SAM's implicit function roles: those must exist once expanded."""
    resources = expanded_template()["Resources"]
    for name in ("SageMakerVpcPolicy", "SageMakerKmsPolicy"):
        for role in resources[name]["Properties"]["Roles"]:
            assert resources[role["Ref"]]["Type"] == "AWS::IAM::Role", (name, role)
