"""The S3 object store's own promises (the shared contract is in tests/integration/contracts):
the bucket mapping, md5 etags through multipart uploads, pickling, error mapping, wiring."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from conveyor import wiring
from conveyor.aws.clients import clear_clients, client
from conveyor.config import Settings
from conveyor.errors import BackendUnavailable, ConfigError
from conveyor.storage import BUCKETS
from conveyor.storage.s3 import S3ObjectStore

_PART = 5 << 20  # S3's (and moto's) smallest part


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def store() -> Iterator[S3ObjectStore]:
    clear_clients()
    with mock_aws():
        made = S3ObjectStore.from_settings("s3://conveyor-unit", Settings(), {})
        for real in made.buckets.values():
            client("s3").create_bucket(Bucket=real)
        made.multipart_threshold = _PART
        yield made
    clear_clients()


def test_the_uri_names_one_real_bucket_per_logical_bucket() -> None:
    store = S3ObjectStore.from_settings("s3://conveyor-prod?models=shared-models", Settings(), {})

    assert store.buckets == {
        **{bucket: f"conveyor-prod-{bucket}" for bucket in BUCKETS},
        "models": "shared-models",
    }


@pytest.mark.parametrize(
    "uri", ["s3://", "s3://a/b", "s3://Upper", "s3://ok?nobucket=x", "s3://x?raw=Bad_Name"]
)
def test_a_bad_uri_is_a_config_error(uri: str) -> None:
    with pytest.raises(ConfigError):
        S3ObjectStore.from_settings(uri, Settings(), {})


def test_wiring_builds_the_s3_store_from_its_uri() -> None:
    store = wiring.build_object_store(Settings(object_store_uri="s3://conveyor-prod"))

    assert isinstance(store, S3ObjectStore)
    assert store.buckets["raw"] == "conveyor-prod-raw"


def test_a_multipart_upload_still_has_the_md5_as_etag(store: S3ObjectStore, tmp_path: Path) -> None:
    body = os.urandom(_PART + 1)
    source = tmp_path / "big.bin"
    source.write_bytes(body)

    from_file = store.put_file("raw", "p/file.bin", source)
    with source.open("rb") as stream:
        from_stream = store.put("raw", "p/stream.bin", stream)

    s3_etag = client("s3").head_object(Bucket="conveyor-unit-raw", Key="p/file.bin")["ETag"]
    assert s3_etag.endswith('-1"')  # really multipart
    assert from_file.etag == from_stream.etag == md5(body)
    assert [info.etag for info in store.list("raw")] == [md5(body), md5(body)]
    assert store.download("raw", "p/file.bin", tmp_path / "out.bin").etag == md5(body)
    assert (tmp_path / "out.bin").read_bytes() == body


def test_an_object_uploaded_by_another_tool_is_an_object(store: S3ObjectStore) -> None:
    client("s3").put_object(Bucket="conveyor-unit-raw", Key="p/outside.csv", Body=b"x,y\n")
    client("s3").put_object(Bucket="conveyor-unit-raw", Key="p/", Body=b"")  # a folder marker

    assert [(i.key, i.etag) for i in store.list("raw")] == [("p/outside.csv", md5(b"x,y\n"))]
    assert store.head("raw", "p/outside.csv").etag == md5(b"x,y\n")


def test_the_store_pickles_without_its_client(store: S3ObjectStore) -> None:
    store.put("raw", "p/f.csv", b"kept")

    again = pickle.loads(pickle.dumps(store))

    assert again.get("raw", "p/f.csv") == b"kept"
    assert again.multipart_threshold == _PART


def test_a_missing_real_bucket_is_backend_unavailable_naming_it(store: S3ObjectStore) -> None:
    client("s3").delete_bucket(Bucket="conveyor-unit-reports")

    with pytest.raises(BackendUnavailable, match="conveyor-unit-reports"):
        store.put("reports", "p/r.json", b"{}")
    with pytest.raises(BackendUnavailable, match="conveyor-unit-reports"):
        store.list("reports")
