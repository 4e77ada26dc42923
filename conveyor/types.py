"""Shared value types: the dataclasses and enums every port and stage speaks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

JsonDict = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Task(StrEnum):
    AUTO = "auto"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        return self in (Task.BINARY, Task.MULTICLASS)


class Algorithm(StrEnum):
    LIGHTGBM = "lightgbm"
    SKLEARN = "sklearn"
    LINEAR = "linear"  # ridge / L2 logistic regression (conveyor.model.linear)
    CATBOOST = "catboost"  # conveyor.model.catboost_model
    KNN = "knn"  # k-nearest neighbours (conveyor.model.knn)
    FOREST = "forest"  # extremely randomised trees, served as LightGBM (conveyor.model.forest)


class Preset(StrEnum):
    """How hard a training job looks for its model (conveyor.model.search): ``fast`` fits the
    project's algorithm once; ``balanced`` and ``best`` search model families and LightGBM's
    hyperparameters within a time budget (``best`` with a larger one)."""

    FAST = "fast"
    BALANCED = "balanced"
    BEST = "best"


class ColumnKind(StrEnum):
    """What a person may say a column is, overriding what inference would choose."""

    CATEGORICAL = "categorical"
    NUMERIC = "numeric"
    DATE = "date"
    TEXT = "text"
    IGNORE = "ignore"


class RunState(StrEnum):
    QUEUED = "QUEUED"
    PREPROCESSING = "PREPROCESSING"
    TRAINING = "TRAINING"
    EVALUATING = "EVALUATING"
    REGISTERED = "REGISTERED"
    DEPLOYED = "DEPLOYED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.REGISTERED, RunState.DEPLOYED, RunState.REJECTED, RunState.FAILED)


class ApprovalStatus(StrEnum):
    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class JobStatus(StrEnum):
    """SageMaker's TrainingJobStatus values."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def is_terminal(self) -> bool:
        return self is not JobStatus.IN_PROGRESS


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives: the same bucket + key on every backend."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"{self.bucket}/{self.key}"

    def to_dict(self) -> JsonDict:
        return {"bucket": self.bucket, "key": self.key}

    @classmethod
    def from_dict(cls, data: JsonDict) -> ObjectRef:
        return cls(bucket=data["bucket"], key=data["key"])


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.bucket, self.key)


@dataclass
class Project:
    name: str
    target: str
    task: Task = Task.AUTO
    metric: str | None = None
    algorithm: Algorithm = Algorithm.LIGHTGBM
    hyperparameters: JsonDict = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    # Promotion policy (MLflow MetricThreshold semantics) and whether approval deploys.
    metric_floor: float | None = None
    min_absolute_change: float = 0.0
    min_relative_change: float = 0.0
    manual_deploy: bool = False
    # Column name -> a ColumnKind value set by a person; preprocessing follows it.
    column_kinds: dict[str, str] = field(default_factory=dict)
    # The share of a file's rows that may be set aside for a wrong field count before its
    # run fails (DuckDB's store_rejects, with a ceiling).
    max_reject_share: float = 0.10
    # The training job's search: its preset, and its budget in seconds (None: the default
    # for the data's size, conveyor.model.search.default_budget).
    preset: Preset = Preset.FAST
    time_budget: float | None = None

    def to_dict(self) -> JsonDict:
        return {
            "preset": self.preset.value,
            "time_budget": self.time_budget,
            "column_kinds": dict(self.column_kinds),
            "max_reject_share": self.max_reject_share,
            "metric_floor": self.metric_floor,
            "min_absolute_change": self.min_absolute_change,
            "min_relative_change": self.min_relative_change,
            "manual_deploy": self.manual_deploy,
            "name": self.name,
            "target": self.target,
            "task": self.task.value,
            "metric": self.metric,
            "algorithm": self.algorithm.value,
            "hyperparameters": self.hyperparameters,
            "created_at": to_iso(self.created_at),
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> Project:
        return cls(
            name=data["name"],
            target=data["target"],
            task=Task(data["task"]),
            metric=data.get("metric"),
            algorithm=Algorithm(data["algorithm"]),
            hyperparameters=dict(data.get("hyperparameters") or {}),
            created_at=from_iso(data["created_at"]),
            metric_floor=data.get("metric_floor"),
            min_absolute_change=float(data.get("min_absolute_change", 0.0)),
            min_relative_change=float(data.get("min_relative_change", 0.0)),
            manual_deploy=bool(data.get("manual_deploy", False)),
            column_kinds=dict(data.get("column_kinds") or {}),
            max_reject_share=float(data.get("max_reject_share", 0.10)),
            preset=Preset(data.get("preset") or Preset.FAST.value),
            time_budget=data.get("time_budget"),
        )


@dataclass
class StageTiming:
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> JsonDict:
        return {
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at) if self.finished_at else None,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> StageTiming:
        finished = data.get("finished_at")
        return cls(from_iso(data["started_at"]), from_iso(finished) if finished else None)


@dataclass
class Run:
    """One pipeline run: a raw object on its way to a registered version."""

    run_id: str
    project: str
    raw: ObjectRef
    dataset_id: str
    state: RunState = RunState.QUEUED
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    stages: dict[str, StageTiming] = field(default_factory=dict)
    failure_reason: str | None = None
    job_name: str | None = None
    model_version: int | None = None
    report: JsonDict = field(default_factory=dict)

    def to_dict(self) -> JsonDict:
        data = dataclasses.asdict(self)
        data.update(
            raw=self.raw.to_dict(),
            state=self.state.value,
            created_at=to_iso(self.created_at),
            updated_at=to_iso(self.updated_at),
            stages={name: timing.to_dict() for name, timing in self.stages.items()},
        )
        return data

    @classmethod
    def from_dict(cls, data: JsonDict) -> Run:
        return cls(
            run_id=data["run_id"],
            project=data["project"],
            raw=ObjectRef.from_dict(data["raw"]),
            dataset_id=data["dataset_id"],
            state=RunState(data["state"]),
            created_at=from_iso(data["created_at"]),
            updated_at=from_iso(data["updated_at"]),
            stages={k: StageTiming.from_dict(v) for k, v in (data.get("stages") or {}).items()},
            failure_reason=data.get("failure_reason"),
            job_name=data.get("job_name"),
            model_version=data.get("model_version"),
            report=dict(data.get("report") or {}),
        )


@dataclass
class ModelVersion:
    """A registry version: what was trained, from what, how well, and whether it may serve."""

    project: str
    version: int
    run_id: str
    artifact: ObjectRef
    sha256: str
    dataset_id: str
    raw: ObjectRef
    task: Task
    algorithm: str  # the family that serves (an Algorithm's value) or "ensemble"
    primary_metric: str
    metrics: dict[str, dict[str, float]]  # split ("validation", "test", "baseline") -> metrics
    hyperparameters: JsonDict
    input_schema: JsonDict
    package_version: str
    git_commit: str | None
    approval_status: ApprovalStatus = ApprovalStatus.PENDING
    status_reason: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    tags: dict[str, str] = field(default_factory=dict)
    gate: JsonDict | None = None  # the promotion decision and its numbers

    def to_dict(self) -> JsonDict:
        data = dataclasses.asdict(self)
        data.update(
            artifact=self.artifact.to_dict(),
            raw=self.raw.to_dict(),
            task=self.task.value,
            algorithm=self.algorithm,
            approval_status=self.approval_status.value,
            created_at=to_iso(self.created_at),
            updated_at=to_iso(self.updated_at),
        )
        return data

    @classmethod
    def from_dict(cls, data: JsonDict) -> ModelVersion:
        return cls(
            project=data["project"],
            version=int(data["version"]),
            run_id=data["run_id"],
            artifact=ObjectRef.from_dict(data["artifact"]),
            sha256=data["sha256"],
            dataset_id=data["dataset_id"],
            raw=ObjectRef.from_dict(data["raw"]),
            task=Task(data["task"]),
            algorithm=str(data["algorithm"]),
            primary_metric=data["primary_metric"],
            metrics=data["metrics"],
            hyperparameters=data["hyperparameters"],
            input_schema=data["input_schema"],
            package_version=data["package_version"],
            git_commit=data.get("git_commit"),
            approval_status=ApprovalStatus(data["approval_status"]),
            status_reason=data.get("status_reason"),
            created_at=from_iso(data["created_at"]),
            updated_at=from_iso(data["updated_at"]),
            tags=dict(data.get("tags") or {}),
            gate=data.get("gate"),
        )
