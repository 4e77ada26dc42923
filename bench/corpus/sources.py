"""Where the corpus's files come from: data files inside installed packages, read as bytes.

Nothing here downloads. pydataset keeps R's data sets (the Rdatasets CSVs) in one tarball inside
the package and unpacks it into the home folder on first import: the file is read straight from
the tarball instead, without importing the package.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from functools import cache
from importlib.util import find_spec
from pathlib import Path


def package_file(package: str, relative: str) -> bytes:
    """The bytes of a data file shipped inside an installed package.

    Args:
        package: The import name (``palmerpenguins``, ``statsmodels``).
        relative: The file's path inside the package.

    Raises:
        FileNotFoundError: The package is not installed (``make bench`` installs the bench
            extra) or has no such file.
    """
    return (_package_dir(package) / relative).read_bytes()


def rdataset(package: str, item: str) -> bytes:
    """An R data set's CSV as pydataset ships it (Rdatasets' ``write.csv`` output)."""
    return _pydataset_csvs()[f"{package}/{item}"]


def json_records_as_csv(package: str, relative: str) -> bytes:
    """A package's JSON list of records written as a plain CSV (nulls as empty fields).

    For data sets a package ships only as JSON: the CSV is what a user exporting the loaded
    records would get.
    """
    records = json.loads(package_file(package, relative))
    columns = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if record.get(c) is None else record[c] for c in columns])
    return out.getvalue().encode()


def _package_dir(package: str) -> Path:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed: run make bench")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _pydataset_csvs() -> dict[str, bytes]:
    archive = _package_dir("pydataset") / "resources.tar.gz"
    found = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = member.name
            # macOS resource forks (._x.csv) ride along in the tarball: not data.
            if "/csv/" not in name or not name.endswith(".csv") or "/._" in name:
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                key = name.split("/csv/", 1)[1].removesuffix(".csv")
                found[key] = extracted.read()
    return found
