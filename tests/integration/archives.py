"""Small model.tar.gz archives for tests whose models nothing loads: real gzipped tars, so an
adapter that reads what it deploys (SageMaker's endpoint) finds one; the same bytes every time."""

from __future__ import annotations

import gzip
import io
import tarfile


def model_tarball(text: str) -> bytes:
    """A gzipped tar holding ``model.txt`` with ``text``, without timestamps."""
    data = text.encode()
    member = tarfile.TarInfo("model.txt")
    member.size = len(data)
    out = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w") as archive,
    ):
        archive.addfile(member, io.BytesIO(data))
    return out.getvalue()
