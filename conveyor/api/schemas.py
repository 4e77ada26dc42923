"""Request bodies and response models of /api/v1 (what /openapi.json documents).

Response models allow extra keys: a route returns the domain's own ``to_dict()``, whose
every field reaches the client, and the model names the fields clients rely on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from conveyor.api.curve_schemas import Curves
from conveyor.types import Algorithm, ColumnKind, Preset, Task

DEFAULT_DRIFT_WINDOW = 3600.0
MAX_DRIFT_WINDOW = 10 * 366 * 86400.0


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- requests ---


class ProjectCreate(BaseModel):
    """The options of ``conveyor project create``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    target: str
    task: Task = Task.AUTO
    metric: str | None = None
    algorithm: Algorithm = Algorithm.LIGHTGBM
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metric_floor: float | None = None
    min_absolute_change: float = Field(0.0, ge=0)
    min_relative_change: float = Field(0.0, ge=0)
    manual_deploy: bool = False
    max_reject_share: float = Field(0.10, ge=0, le=1)
    preset: Preset = Preset.FAST
    time_budget: float | None = Field(
        None, gt=0, description="The search's budget in seconds; null: scaled to the data."
    )


class ProjectUpdate(BaseModel):
    """The options of ``conveyor project update``: only the fields sent change; the next run
    uses them and records what changed."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(None, description="Only while the project has no versions.")
    task: Task | None = None
    metric: str | None = None
    algorithm: Algorithm | None = None
    hyperparameters: dict[str, Any] | None = Field(
        None, description="Replaces the project's; {} clears them."
    )
    metric_floor: float | None = Field(
        None, description="The primary metric a version must reach; null clears it."
    )
    min_absolute_change: float | None = Field(
        None, ge=0, description="How much a version must beat the champion by."
    )
    min_relative_change: float | None = Field(
        None, ge=0, description="The same margin as a share of the champion's metric."
    )
    manual_deploy: bool | None = Field(
        None, description="True: the gate never deploys; a person approves and deploys."
    )
    max_reject_share: float | None = Field(None, ge=0, le=1)
    preset: Preset | None = None
    time_budget: float | None = Field(
        None, gt=0, description="The search's budget in seconds; null: scaled to the data."
    )


class ProjectDeleted(BaseModel):
    project: str
    served_version: int | None
    versions: int
    runs: int
    records: dict[str, int]
    objects: dict[str, int]


class ColumnKinds(BaseModel):
    """Column (as named in the file) -> what it is; null clears a column's kind."""

    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, ColumnKind | None] = Field(
        description="Column -> categorical | numeric | date | text | ignore, or null to clear."
    )


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


class DriftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # At most ten years: a window reaching before year 1 cannot be a date (it was a 500).
    window: float = Field(
        DEFAULT_DRIFT_WINDOW, gt=0, le=MAX_DRIFT_WINDOW, description="Seconds back from now."
    )


# --- responses ---


class ProjectSummary(BaseModel):
    name: str
    target: str
    task: str
    deployed_version: int | None
    primary_metric: str | None
    metric_value: float | None
    requests_last_hour: int
    alarm_state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"] | None
    drift_status: Literal["OK", "DRIFT", "INSUFFICIENT_DATA"] | None


class ProjectOut(_Open):
    name: str
    target: str
    task: str
    metric: str | None
    algorithm: str
    hyperparameters: dict[str, Any]
    created_at: str
    column_kinds: dict[str, str] = Field(
        default_factory=dict, description="Column -> the kind a person set; runs follow it."
    )
    metric_floor: float | None = None
    min_absolute_change: float = 0.0
    min_relative_change: float = 0.0
    manual_deploy: bool = False
    max_reject_share: float = 0.10
    preset: Preset = Preset.FAST
    time_budget: float | None = None


class DeploymentOut(_Open):
    project: str
    version: int
    deployed_at: str
    history: list[dict[str, Any]]
    revision: int


class ProjectDetail(BaseModel):
    project: ProjectOut
    deployment: DeploymentOut | None
    aliases: dict[str, int]


class Stage(BaseModel):
    stage: str
    started_at: str
    finished_at: str | None
    seconds: float | None
    outcome: Literal["succeeded", "failed", "running"]


class FileColumn(BaseModel):
    name: str
    kind: str = Field(description="numeric, categorical, boolean, datetime, text or dropped.")
    rule: str | None = Field(description="How the cells were parsed, e.g. currency `$`.")
    missing_tokens: list[str]
    parsed_share: float | None = Field(description="Share of the cells parsed, 0-1.")
    reason: str | None = Field(description="Why the column was dropped, or 'set by you'.")


class FileReport(BaseModel):
    """What conveyor did with the uploaded file: the reader's facts (null for runs read before
    they were recorded) and one entry per raw column."""

    file: dict[str, Any] | None
    columns: list[FileColumn]


class RunCauseOut(BaseModel):
    """Why the run exists (``conveyor runs show``'s cause line)."""

    kind: str = Field(description="upload, drift, quality, alarm, manual or schedule.")
    retrain: bool
    short: str = Field(description='For a table cell: "retrain: drift on age, occupation".')
    sentence: str = Field(description='In full: "retrained because drift on age, … at …".')
    at: str | None = Field(description="When the retrain was asked for; null for an upload.")


class RunOut(_Open):
    run_id: str
    project: str
    state: str
    created_at: str
    updated_at: str
    failure_reason: str | None
    model_version: int | None
    stages: list[Stage]
    cause: RunCauseOut


class RunLogs(BaseModel):
    run_log: str = Field(description="The run's structured log, JSON lines.")
    training_log: str | None = Field(description="The training job's log; null without a job.")


class VersionOut(_Open):
    project: str
    version: int
    run_id: str
    approval_status: str
    primary_metric: str
    metrics: dict[str, dict[str, float]]
    aliases: list[str]
    deployed: bool


class ConfusionMatrix(BaseModel):
    labels: list[str]
    matrix: list[list[int]]


class Residuals(BaseModel):
    bins: list[float] = Field(description="Bin edges: one more than counts.")
    counts: list[int]


class FeatureImportance(BaseModel):
    feature: str
    importance: float


class VersionDetails(BaseModel):
    confusion_matrix: ConfusionMatrix | None
    residuals: Residuals | None
    feature_importance: list[FeatureImportance] | None
    baseline: dict[str, float]
    curves: Curves | None = Field(
        default=None, description="On the test split; null for versions trained before curves."
    )


class VersionDetailOut(VersionOut):
    details: VersionDetails | None
    search: dict[str, Any] | None = Field(
        default=None,
        description="The training job's model search: preset, budget, metric, winner and "
        "every candidate tried (the leaderboard: settings, score, fit and predict seconds, "
        "status; a classifier's score is of its probabilities calibrated as they would serve, "
        "by the row's ``calibration``), as the run's report has it; null for runs recorded "
        "before searches were.",
    )


class ApprovedVersion(VersionOut):
    deployment: DeploymentOut | None = Field(
        description="The deployment the action made (approving: the version itself; "
        "rejecting the version that served: the one serving again); null when what serves "
        "did not change."
    )
    message: str = Field(default="", description="What the action did, in one sentence.")


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool = Field(
        default=False, description="Approve it too: a PendingManualApproval version needs it."
    )
    reason: str | None = Field(default=None, description="Why; kept as the approval's reason.")


class UploadAccepted(BaseModel):
    run_id: str | None = Field(
        description="The run these bytes started (or started before); null when no worker "
        "took the upload yet: find it later by dataset_id in the project's runs."
    )
    state: str
    bucket: str
    key: str
    dataset_id: str
    size: int
    started: bool = Field(description="False: these exact bytes already made a run.")
    worker_running: bool


class Traffic(BaseModel):
    start: str
    step: float
    t: list[str]
    requests_per_second: list[float]
    latency_p50_ms: list[float | None]
    latency_p99_ms: list[float | None]
    error_rate: list[float | None] = Field(description="Share of requests answered 5xx.")
    client_error_rate: list[float | None] = Field(
        description="Share of requests answered 4xx (refused: bad rows, unknown project)."
    )


class DriftOut(_Open):
    project: str
    checked_at: str
    model_version: int
    status: str
    features: dict[str, dict[str, Any]]


class AlarmOut(_Open):
    name: str
    state: str
    state_reason: str


class AlarmHistoryOut(_Open):
    alarm: str
    old_state: str
    new_state: str
