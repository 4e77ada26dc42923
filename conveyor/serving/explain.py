"""``?explain=true`` on ``/predict`` and ``/invocations``: each row's contributions per
column (``conveyor.model.explain``) added to the answer as ``explanation``.

Asked for per request, so a request without it costs nothing: the fast path reads a query
string only when one came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from conveyor.errors import InvalidInput

if TYPE_CHECKING:  # the AWS proxy reads the flag without numpy or a model
    from conveyor.model.loading import LoadedModel

# SageMaker's InvokeEndpoint passes no query string: its per-request options come in this
# header (``CustomAttributes``), as "explain=true".
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
_VALUES = {"true": True, "1": True, "false": False, "0": False}

EXPLAIN_PARAMETER: dict[str, Any] = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": (
        "true: the answer adds `explanation`, each row's contributions per column to its raw "
        "score (TreeSHAP for LightGBM, CatBoost and HistGradientBoosting, the linear model's "
        "terms; an ensemble of classifiers' in its blended probability), which sum with the "
        "base value to the score (`explanation.space` says what it is); a model that has none "
        "exactly (HistGradientBoosting with categorical columns) is a 400 naming why."
    ),
}


def explain_flag(query: bytes | str) -> bool:
    """Whether a query string (or SageMaker's custom attributes) asks for explanations;
    other parameters are left alone, as they were before ``explain`` existed.

    Raises:
        InvalidInput: ``explain`` is not true, false, 1 or 0.
    """
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    flag = False
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name != "explain":
            continue
        if value.lower() not in _VALUES:
            raise InvalidInput(f"explain must be true or false, not {value!r}", field="explain")
        flag = _VALUES[value.lower()]
    return flag


def check_explainable(model: LoadedModel) -> None:
    """Refuse, before anything is predicted or recorded, a model that cannot be explained.

    Raises:
        InvalidInput: its family has no exact contributions; the message says why.
    """
    refused = model.predictor.explain_refusal()
    if refused is not None:
        raise refused


def add_explanation(
    answer: dict[str, Any], model: LoadedModel, instances: list[dict[str, Any]]
) -> dict[str, Any]:
    """``answer`` with the rows' ``explanation``, from the model that predicted them."""
    answer["explanation"] = model.predictor.explain_records(instances)
    return answer
