"""Request and response bodies of /predict, as they appear in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    instances: list[dict[str, Any]] = Field(
        min_length=1,
        description="Rows to score: column name → value (missing → null).",
        examples=[[{"age": 42, "plan": "pro", "signup date": "2024-03-01"}]],
    )


class PredictResponse(BaseModel):
    predictions: list[Any]
    model_version: int
    request_id: str
    classes: list[Any] | None = None
    probabilities: list[list[float]] | None = None
