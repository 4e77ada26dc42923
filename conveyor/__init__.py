"""conveyor: a raw tabular file in, a trained, versioned, served and monitored model out."""

from __future__ import annotations

__version__ = "0.1.0"
