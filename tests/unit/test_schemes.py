from __future__ import annotations

import importlib
import inspect

import pytest

from conveyor import _schemes
from conveyor.config import Settings, load_settings
from conveyor.errors import ConfigError


def test_unknown_scheme_names_the_variable_and_the_valid_schemes() -> None:
    with pytest.raises(ConfigError) as info:
        _schemes.resolve("table", "postgres://db/x")
    assert "CONVEYOR_TABLE_URI" in info.value.message
    assert "sqlite" in info.value.message


def test_uris_derive_from_home(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    assert settings.object_store_uri == f"file://{tmp_path}/buckets"
    assert settings.table_uri == f"sqlite:///{tmp_path}/conveyor.db"


def test_invalid_setting_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="CONVEYOR_SEED"):
        load_settings(seed="many")


def test_the_home_s_folders_are_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    assert settings.work_dir == tmp_path / "work"
    assert settings.serving_cache_dir == tmp_path / "serving-cache"
    assert settings.jobs_dir == tmp_path / "jobs"


@pytest.mark.parametrize(
    "target",
    [target for adapters in _schemes.ADAPTERS.values() for target in adapters.values()],
)
def test_every_registered_adapter_is_built_by_from_settings(target: str) -> None:
    module_name, class_name = target.split(":")
    adapter = getattr(importlib.import_module(module_name), class_name)

    parameters = list(inspect.signature(adapter.from_settings).parameters)

    assert parameters == ["uri", "settings", "ports_so_far"]
