"""Sample data that ships with conveyor, so the demo and tests need no download."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).parent
CHURN_CSV = SAMPLES / "churn.csv"
