"""The content digest is the same from a model.tar.gz and from the folder it unpacks into,
and changes with anything a loader would read."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from conveyor.model.content_digest import archive_digests, folder_digest


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "model.txt").write_text("tree=0\n")
    (root / "schema.json").write_text('{"features": ["age"]}')
    (root / "sub" / "notes.txt").write_text("nested")
    return root


def _archive(folder: Path, *, dot_prefix: bool = False) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            archive.add(path, arcname=f"./{name}" if dot_prefix else name, recursive=False)
    return out.getvalue()


@pytest.mark.parametrize("dot_prefix", [False, True])
def test_an_archive_and_its_unpacked_folder_give_the_same_digest(
    tmp_path: Path, dot_prefix: bool
) -> None:
    folder = _folder(tmp_path / "model")
    data = _archive(folder, dot_prefix=dot_prefix)
    unpacked = tmp_path / "opt-ml-model"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(unpacked, filter="data")
    sha256, content = archive_digests(io.BytesIO(data))
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert content == folder_digest(unpacked) == folder_digest(folder)


def test_a_changed_file_an_extra_file_or_a_renamed_file_changes_the_digest(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path / "model")
    before = folder_digest(folder)
    (folder / "model.txt").write_text("tree=1\n")
    changed = folder_digest(folder)
    (folder / "extra.json").write_text("{}")
    extra = folder_digest(folder)
    (folder / "extra.json").rename(folder / "other.json")
    renamed = folder_digest(folder)
    assert len({before, changed, extra, renamed}) == 4


def test_a_symbolic_link_counts_as_its_target_name_not_the_file_it_points_at(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path / "model")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(outside, folder / "model.txt.link")
    data = _archive(folder)
    assert archive_digests(io.BytesIO(data))[1] == folder_digest(folder)
    outside.write_text("changed")  # the link's target is not read, on either side
    assert archive_digests(io.BytesIO(data))[1] == folder_digest(folder)
    (folder / "model.txt.link").unlink()
    os.symlink(tmp_path / "elsewhere", folder / "model.txt.link")
    assert archive_digests(io.BytesIO(data))[1] != folder_digest(folder)


def test_bytes_that_are_not_an_archive_have_a_sha256_and_no_content_digest() -> None:
    data = b"not a tarball at all" * 1000
    assert archive_digests(io.BytesIO(data)) == (hashlib.sha256(data).hexdigest(), None)
