"""Build the ports from settings: the only place a backend is chosen."""

from __future__ import annotations

from typing import Any

from conveyor import _schemes
from conveyor.config import Settings
from conveyor.ports import Ports, PortsSoFar
from conveyor.storage import ObjectStore
from conveyor.tables import Table


def build_port(port: str, settings: Settings, ports_so_far: PortsSoFar | None = None) -> Any:
    """The adapter ``settings`` name for ``port`` (a key of ``_schemes.ADAPTERS``).

    Args:
        port: ``"object_store"``, ``"table"``, ``"events"``, ``"job_runner"``, ``"registry"``,
            ``"endpoint"`` or ``"alarms"``.
        settings: the settings whose URI for ``port`` picks the adapter.
        ports_so_far: the ports already built, by ``Ports`` field name (the registry sits on
            ``table`` and ``store``).
    Returns:
        The adapter, made by its class's ``from_settings``.
    Raises:
        ConfigError: an unknown scheme, or a URI the adapter cannot use.
    """
    uri = getattr(settings, _schemes.SETTINGS[port])
    adapter_cls = _schemes.resolve(port, uri)
    return adapter_cls.from_settings(uri, settings, ports_so_far or {})


def build_table(settings: Settings) -> Table:
    """The Table alone (for a process that needs nothing else, such as the record writer)."""
    table: Table = build_port("table", settings)
    return table


def build_object_store(settings: Settings) -> ObjectStore:
    """The object store alone (for the record writer's data capture)."""
    store: ObjectStore = build_port("object_store", settings)
    return store


def build_ports(settings: Settings) -> Ports:
    """Every port, in ``_schemes.ADAPTERS``' order, each from the ones built before it."""
    settings.home.mkdir(parents=True, exist_ok=True)
    built: dict[str, Any] = {}
    for port in _schemes.ADAPTERS:
        built[_schemes.PORT_FIELDS[port]] = build_port(port, settings, built)
    return Ports(**built)
