"""``/projects/{project}/datasets/{dataset_id}``: the data view — each column's inferred schema
and its profile on the training split, with a distribution to plot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from conveyor.api.deps import ApiContext, api_context
from conveyor.pipeline.data_view import dataset_view
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses

router = APIRouter(tags=["datasets"])
Context = Annotated[ApiContext, Depends(api_context)]


class DataColumn(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    role: str = Field(description="feature, target or dropped.")
    kind: str = Field(
        description="numeric, categorical, boolean, datetime, text; dropped for a column the "
        "model does not read."
    )
    rule: str | None = Field(description="How the cells were parsed, e.g. `date %Y-%m-%d`.")
    missing_tokens: list[str] = Field(description="The column's own spellings of missing.")
    parsed_share: float | None = Field(description="Share of the non-missing cells parsed, 0-1.")
    reason: str | None = Field(description="Why the column was dropped, or 'set by you'.")
    missing_share: float | None = Field(
        description="Share of the training split's rows with no value, 0-1 (null: dropped)."
    )
    summary: dict[str, Any] | None = Field(
        description="min, median, max (dates as dates), mean and std; or distinct values."
    )
    distribution: dict[str, Any] | None = Field(
        description='{"type": "histogram", "edges", "counts", "shares", "of", "unit"} over the '
        'profile\'s reference sample, or {"type": "top_values", "values": [{value, count, '
        'share}], "other": {values, count, share}, "of"}; shares are of non-missing values.'
    )


class DataView(BaseModel):
    """One data set as preprocessing read it and profiled it (its training split)."""

    model_config = ConfigDict(extra="allow")

    project: str
    dataset_id: str
    file: dict[str, Any] | None = Field(description="The reader's facts about the file.")
    rows: dict[str, int | None] = Field(description="read, kept, train, validation, test.")
    profiled_rows: int | None = Field(description="The rows profiled: the training split.")
    profiled_at: str | None
    notes: list[str]
    columns: list[DataColumn]


@router.get(
    "/projects/{project}/datasets/{dataset_id}",
    response_model=DataView,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def show_dataset(project: str, dataset_id: str, api: Context) -> dict[str, Any]:
    """A data set's columns: kind, parse rule, missing share and distribution (a histogram of
    numbers and dates, the top values of the rest), from what preprocessing wrote."""
    get_project(api.ports.table, project)
    return dataset_view(api.ports.store, project, dataset_id)
