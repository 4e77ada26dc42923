"""The training job's time budget: parsed from what a person writes, and the default for
the data's size when the project sets none (``conveyor.model.search`` spends it)."""

from __future__ import annotations

import re

from conveyor.errors import InvalidInput
from conveyor.types import Preset

# The default budget: a floor, plus time in proportion to the data's cells (rows x inputs);
# ``best`` gets four times as long. Measured: a trial of 20,000 rows x 10 inputs takes ~1 s.
BUDGET_FLOOR_SECONDS = {Preset.BALANCED: 20.0, Preset.BEST: 80.0}
BUDGET_CEILING_SECONDS = {Preset.BALANCED: 300.0, Preset.BEST: 1800.0}
_SECONDS_PER_MILLION_CELLS = {Preset.BALANCED: 10.0, Preset.BEST: 40.0}


def parse_budget(text: str | float) -> float:
    """A time budget in seconds from ``90``, ``90s``, ``5m`` or ``1h``.

    Raises:
        InvalidInput: not a positive duration; the message shows the forms.
    """
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
        if match is None:
            raise InvalidInput(
                f"--time-budget {text!r} is not a duration: give seconds (90), or 90s, 5m, 1h",
                field="time_budget",
            )
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if not seconds > 0:
        raise InvalidInput(
            f"--time-budget must be more than 0 seconds, got {text!r}", field="time_budget"
        )
    return seconds


def default_budget(preset: Preset, rows: int, inputs: int) -> float:
    """The search's budget in seconds for ``rows`` x ``inputs`` when the project sets none."""
    if preset is Preset.FAST:
        return 0.0
    scaled = BUDGET_FLOOR_SECONDS[preset] + _SECONDS_PER_MILLION_CELLS[preset] * rows * inputs / 1e6
    return round(min(BUDGET_CEILING_SECONDS[preset], scaled), 1)
