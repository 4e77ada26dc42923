"""The models a server holds: one loaded version per project, swapped atomically.

A background thread follows the deployment records (so a deploy made by another process is
picked up), loads and warms a new version aside, and only then replaces the reference: a
request sees the whole old model or the whole new one, and never waits for a load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conveyor.endpoint import Deployment, Endpoint, changes
from conveyor.errors import ConveyorError, IntegrityError
from conveyor.model.artifact import Predictor
from conveyor.model.loading import LoadedModel, load_verified
from conveyor.monitoring.integrity import raise_integrity_alarm
from conveyor.storage import ObjectStore
from conveyor.tables import Table

log = logging.getLogger("conveyor.serving")


class ModelHolder:
    def __init__(
        self,
        *,
        store: ObjectStore,
        endpoint: Endpoint,
        cache_dir: Path,
        poll_seconds: float = 0.2,
        on_load: Callable[[str, int, float], None] | None = None,
        table: Table | None = None,
    ) -> None:
        """``on_load(project, version, seconds)`` is told each load's time (the metrics);
        an artifact refused for its sha256 is an alarm in ``table``'s alarm history."""
        self.store = store
        self.table = table
        self.on_load = on_load
        self.endpoint = endpoint
        self.cache_dir = cache_dir
        self.poll_seconds = poll_seconds
        self._models: dict[str, LoadedModel] = {}
        self._failed: dict[str, str] = {}  # sha256 that would not load -> why
        self._stop = threading.Event()
        # Set by a deploy in this process, and by stop(): the follower does not wait out its
        # poll for either.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, project: str) -> LoadedModel | None:
        return self._models.get(project)

    def served(self) -> dict[str, int]:
        return {name: model.version for name, model in self._models.items()}

    def start(self) -> None:
        self._wake = changes.subscribe()
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="model-holder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        changes.unsubscribe(self._wake)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def refresh(self) -> None:
        """Load every deployment that differs from what is held; keep the old on failure."""
        try:
            deployments = self.endpoint.list_endpoints()
        except ConveyorError:
            log.exception("could not read the deployments; serving what is loaded")
            return
        deployed = {deployment.project for deployment in deployments}
        gone = [project for project in self._models if project not in deployed]
        if gone:  # a deleted project: /predict answers 404 for it from now on
            self._models = {p: m for p, m in self._models.items() if p not in gone}
            log.info("no longer serving %s: its deployment was deleted", ", ".join(gone))
        for deployment in deployments:
            held = self._models.get(deployment.project)
            if held is not None and held.sha256 == deployment.sha256:
                continue
            if deployment.sha256 in self._failed:
                continue
            self._load(deployment)

    def _load(self, deployment: Deployment) -> None:
        started = time.perf_counter()
        try:
            predictor = load_verified(
                self.store,
                deployment.artifact,
                deployment.sha256,
                cache_dir=self.cache_dir,
                version=f"{deployment.project} v{deployment.version}",
            )
            predictor.predict_records([_null_row(predictor)])  # warm up before serving
        except Exception as exc:  # a bad artifact must not take the server down
            self._failed[deployment.sha256] = str(exc)
            if isinstance(exc, IntegrityError):
                where = "the model server"
                raise_integrity_alarm(
                    self.table, deployment.project, deployment.version, exc, where=where
                )
            log.error(
                "not serving %s v%d: %s",
                deployment.project,
                deployment.version,
                exc,
                extra={"project": deployment.project, "version": deployment.version},
            )
            return
        seconds = time.perf_counter() - started
        models = dict(self._models)
        models[deployment.project] = LoadedModel(
            deployment.project, deployment.version, deployment.sha256, predictor
        )
        self._models = models  # one assignment: readers see the old dict or the new one
        if self.on_load is not None:
            self.on_load(deployment.project, deployment.version, seconds)
        log.info(
            "serving %s v%d (loaded in %.3f s)",
            deployment.project,
            deployment.version,
            seconds,
            extra={
                "project": deployment.project,
                "version": deployment.version,
                "load_seconds": round(seconds, 6),
            },
        )

    def _follow(self) -> None:
        while True:
            self._wake.wait(self.poll_seconds)
            if self._stop.is_set():
                return
            self._wake.clear()  # before the refresh: a deploy during it wakes the next one
            self.refresh()


def _null_row(predictor: Predictor) -> dict[str, None]:
    return {name: None for name in predictor.schema.feature_names}
