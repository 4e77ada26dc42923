"""The Endpoint contract, run on every endpoint adapter (see conftest.py ENDPOINTS)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from conveyor.endpoint import Deployment, Endpoint, ServedVersion
from conveyor.errors import Conflict, NotFound
from conveyor.types import ObjectRef
from tests.integration import archives


def artifact(version: int, project: str = "churn") -> ObjectRef:
    return ObjectRef("models", f"{project}/run-{version}/model.tar.gz")


def model_tarball(version: int) -> bytes:
    return archives.model_tarball(f"version {version}\n")


def sha(version: int) -> str:
    return hashlib.sha256(model_tarball(version)).hexdigest()


def deploy(endpoint: Endpoint, version: int, project: str = "churn") -> Deployment:
    ref = artifact(version, project)
    store = getattr(endpoint, "store", None)
    if store is not None:  # an endpoint that reads the artifact it deploys (SageMaker's)
        store.put(ref.bucket, ref.key, model_tarball(version))
    return endpoint.update_endpoint(project, version, ref, sha(version))


def test_implements_the_protocol(endpoint: Endpoint) -> None:
    assert isinstance(endpoint, Endpoint)


def test_delete_endpoint_stops_serving_that_project_only(
    make_endpoint: Callable[[], Endpoint],
) -> None:
    endpoint = make_endpoint()
    deploy(endpoint, 1)
    deploy(endpoint, 2)
    deploy(endpoint, 7, project="fraud")

    assert endpoint.delete_endpoint("churn") is True
    fresh = make_endpoint()
    assert fresh.describe_endpoint("churn") is None
    assert [d.project for d in fresh.list_endpoints()] == ["fraud"]
    assert fresh.delete_endpoint("churn") is False
    with pytest.raises(NotFound):
        fresh.rollback("churn")
    # Deployed again, it starts afresh: no history from before the delete.
    assert deploy(fresh, 3).history == ()


def test_nothing_is_deployed_at_first(endpoint: Endpoint) -> None:
    assert endpoint.describe_endpoint("churn") is None
    assert endpoint.list_endpoints() == []


def test_the_first_deploy_serves_the_version(endpoint: Endpoint) -> None:
    deployed = deploy(endpoint, 1)
    assert (deployed.version, deployed.artifact, deployed.sha256) == (1, artifact(1), sha(1))
    assert deployed.history == ()
    assert deployed.revision == 0
    assert endpoint.describe_endpoint("churn") == deployed


def test_a_second_deploy_keeps_the_first_on_the_history(endpoint: Endpoint) -> None:
    deploy(endpoint, 1)
    second = deploy(endpoint, 2)
    assert second.version == 2
    assert second.history == (ServedVersion(1, artifact(1), sha(1)),)
    assert second.revision == 1
    assert endpoint.describe_endpoint("churn") == second


def test_deploying_the_served_version_again_changes_nothing(endpoint: Endpoint) -> None:
    deploy(endpoint, 1)
    second = deploy(endpoint, 2)
    again = deploy(endpoint, 2)
    assert again == second
    assert endpoint.describe_endpoint("churn") == second


def test_rollback_serves_the_previous_version(endpoint: Endpoint) -> None:
    deploy(endpoint, 1)
    deploy(endpoint, 2)
    deploy(endpoint, 3)
    rolled = endpoint.rollback("churn")
    assert (rolled.version, rolled.artifact, rolled.sha256) == (2, artifact(2), sha(2))
    assert rolled.history == (ServedVersion(1, artifact(1), sha(1)),)
    assert rolled.revision == 3
    assert endpoint.describe_endpoint("churn") == rolled
    assert endpoint.rollback("churn").version == 1
    with pytest.raises(Conflict, match="no earlier deployment"):
        endpoint.rollback("churn")
    assert endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]


def test_rollback_without_history_is_a_conflict(endpoint: Endpoint) -> None:
    deploy(endpoint, 1)
    with pytest.raises(Conflict, match="no earlier deployment"):
        endpoint.rollback("churn")
    assert endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]


def test_rollback_of_a_project_never_deployed_is_not_found(endpoint: Endpoint) -> None:
    with pytest.raises(NotFound):
        endpoint.rollback("churn")


def test_every_project_has_its_own_deployment(make_endpoint: Callable[[], Endpoint]) -> None:
    deploy(make_endpoint(), 1, project="churn")
    deploy(make_endpoint(), 4, project="fraud")
    other = make_endpoint()  # a new instance sees both
    served = {d.project: d.version for d in other.list_endpoints()}
    assert served == {"churn": 1, "fraud": 4}
    assert other.describe_endpoint("fraud").artifact == artifact(4, "fraud")  # type: ignore[union-attr]
