"""Request and response bodies of /predict, as they appear in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    instances: list[dict[str, Any]] = Field(
        min_length=1,
        description=(
            "Rows to score: column name → value, as the uploaded file had them. A column left "
            "out or null is a missing value; the target and the columns training dropped are "
            "ignored; a column the upload never had is a 400."
        ),
        examples=[[{"age": 42, "plan": "pro", "signup date": "2024-03-01"}]],
    )


class ExplainedRow(BaseModel):
    score: float | dict[str, float] = Field(
        description="The raw score (per class for multiclass): see Explanation.score."
    )
    base_value: float | dict[str, float] = Field(
        description="The score before any column's contribution (per class for multiclass)."
    )
    contributions: dict[str, float] | dict[str, dict[str, float]] = Field(
        description="Column -> its contribution (class -> column -> ... for multiclass); "
        "with base_value they sum to score."
    )


class Explanation(BaseModel):
    method: str = Field(
        description="tree_shap (LightGBM, HistGradientBoosting), catboost_shap, linear_terms, "
        "or an ensemble's sum."
    )
    space: str = Field(
        description="What base_value and the contributions add up to: value (regression), "
        "log_odds (of the second class), class_scores (each class's score before the "
        "softmax), or probability (an ensemble of classifiers: the blended probability of "
        "the second class, or of each class; each member's exact contributions to its raw "
        "score carried to its probability, so they add up exactly, but are not Shapley "
        "values of the blend). A classifier's calibrator, if any, comes after."
    )
    score: str = Field(description="What the score is, in words: see space.")
    rows: list[ExplainedRow]


class PredictResponse(BaseModel):
    predictions: list[Any]
    model_version: int
    request_id: str
    classes: list[Any] | None = None
    probabilities: list[list[float]] | None = None
    ignored_columns: list[str] | None = Field(
        default=None,
        description="Columns of the upload the request carried that the model does not read.",
    )
    explanation: Explanation | None = Field(
        default=None, description="With ?explain=true: each row's contributions per column."
    )


class ErrorBody(BaseModel):
    """Every error answer, whichever route gives it (conveyor.serving.errors makes them)."""

    error: str = Field(description="A stable code: not_found, invalid_input, conflict, ...")
    message: str = Field(description="What went wrong and how to fix it, for a person.")
    field: str | None = Field(description="The input at fault (a parameter, column or header).")


_ERROR_MEANINGS = {
    400: "Bad input: the message names the problem and the field names the input.",
    401: "No API key: send it as `x-api-key` or `Authorization: Bearer` (CONVEYOR_API_KEY).",
    403: "The API key is wrong.",
    404: "No such project, version, run or deployed model.",
    409: "The operation does not fit the current state.",
    413: "The body is larger than the server takes (the message names the setting).",
    415: "The content type is not one this route reads.",
    422: "A parameter or the body does not match this document.",
    503: "A backend could not be reached; retrying may succeed.",
    504: "The request took longer than CONVEYOR_REQUEST_TIMEOUT_SECONDS.",
}
# What every route behind the API key may answer besides its own errors.
KEY_ERRORS = (401, 403)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer these statuses, each with ErrorBody."""
    return {
        status: {"model": ErrorBody, "description": _ERROR_MEANINGS[status]} for status in statuses
    }
