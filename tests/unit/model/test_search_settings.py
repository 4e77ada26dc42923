"""The search's settings: a time budget as people write it, its default, and a project's
preset as runs and uploads see it."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidInput
from conveyor.model.budget import default_budget, parse_budget
from conveyor.projects import changed_settings, check_upload_flags
from conveyor.types import Preset, Project


def test_budgets_read_as_people_write_them() -> None:
    assert [parse_budget(t) for t in ("90", "30s", "5m", "1.5h", 12)] == [90, 30, 300, 5400, 12]
    for bad in ("soon", "0", "-5m", "5 minutes"):
        with pytest.raises(InvalidInput, match="time-budget"):
            parse_budget(bad)
    small, large = (
        default_budget(Preset.BALANCED, 500, 5),
        default_budget(Preset.BALANCED, 10**6, 50),
    )
    assert small == 20.0 and small < large <= 300
    assert default_budget(Preset.BEST, 500, 5) > small


def test_a_run_recorded_before_presets_trained_as_fast() -> None:
    before = {"algorithm": "lightgbm"}
    assert changed_settings(before, {"algorithm": "lightgbm", "preset": "fast"}) == {}
    assert changed_settings(before, {"preset": "balanced", "time_budget": None}) == {
        "preset": {"from": "fast", "to": "balanced"}
    }


def test_an_upload_with_another_preset_says_how_to_change_the_project() -> None:
    project = Project(name="houses", target="price", preset=Preset.BALANCED, time_budget=60.0)
    check_upload_flags(project, {"preset": Preset.BALANCED, "time_budget": 60.0})
    with pytest.raises(InvalidInput, match="conveyor project update houses --preset fast"):
        check_upload_flags(project, {"preset": Preset.FAST})
    with pytest.raises(InvalidInput, match="--time-budget"):
        check_upload_flags(project, {"time_budget": 30.0})
