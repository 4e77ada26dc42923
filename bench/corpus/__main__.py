"""``python -m bench.corpus [DEST]``: write the corpus (default bench/.corpus/)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.corpus import CORPUS, build

if __name__ == "__main__":
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    for name, path in build(dest).items():
        print(f"{name:24s} {path.stat().st_size:>10,d}  {path}")
