"""The real-file corpus of issue 19: data sets as their packages ship them, plus the variants
a spreadsheet export makes of a clean one. ``python -m bench.corpus`` writes it under
bench/.corpus/ (git-ignored); nothing is downloaded, every file comes from an installed package
of the ``bench`` extra, and the same packages give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bench.corpus.registry import TASKS, Dataset
from bench.corpus.variants import VARIANTS

CORPUS = Path(__file__).resolve().parent.parent / ".corpus"


def datasets() -> tuple[Dataset, ...]:
    """Every corpus entry: the real data sets, then the format variants."""
    from bench.corpus.registry import REAL

    return (*REAL, *VARIANTS)


def build(dest: Path = CORPUS, only: set[str] | None = None) -> dict[str, Path]:
    """Write each data set's file under ``dest`` and a manifest.json describing them.

    Args:
        dest: The corpus folder.
        only: Names to write (all when None).

    Returns:
        Each written data set's name and file.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written, manifest = {}, []
    for dataset in datasets():
        if only is not None and dataset.name not in only:
            continue
        data = dataset.read()
        path = dest / dataset.filename
        path.write_bytes(data)
        written[dataset.name] = path
        manifest.append(
            {
                "name": dataset.name,
                "file": dataset.filename,
                "source": dataset.source,
                "target": dataset.target,
                "task": dataset.task,
                "traits": list(dataset.traits),
                "note": dataset.note,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return written


__all__ = ["CORPUS", "TASKS", "Dataset", "build", "datasets"]
