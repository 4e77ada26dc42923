"""The leak warning: raised for a score too good to be plausible, naming the file columns
the model leaned on (a date's parts and a text's terms summed into their column), and
silent for scores a real model reaches."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from conveyor.model.encode import FeatureEncoder
from conveyor.pipeline.leakage import leak_warnings
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task


def _importance(**gains: float) -> list[dict[str, object]]:
    return [{"feature": name, "importance": gain} for name, gain in gains.items()]


def _warnings(task: Task, test: dict[str, float], baseline: dict[str, float], **kw: object):
    arguments: dict[str, object] = {
        "project": "senators",
        "task": task,
        "test": test,
        "baseline": baseline,
        "test_rows": 125,
        "importance": _importance(term__death=90.0, term__retirement=8.0, age=2.0),
        "sources": {"term__death": "term", "term__retirement": "term", "age": "age"},
    }
    arguments.update(kw)
    return leak_warnings(**arguments)  # type: ignore[arg-type]


def test_a_perfect_classifier_against_a_weak_baseline_names_the_column_and_the_fix() -> None:
    (warning,) = _warnings(Task.MULTICLASS, {"accuracy": 1.0}, {"accuracy": 0.59})
    assert "accuracy 1.000 on the 125 test rows against 0.590" in warning
    assert "'term' (98% of its importance)" in warning
    assert "`conveyor project set-column senators 'term' --kind ignore`" in warning


def test_scores_a_real_model_reaches_raise_nothing() -> None:
    assert _warnings(Task.BINARY, {"accuracy": 0.97}, {"accuracy": 0.6}) == []
    # The trivial baseline is already nearly right: a perfect score is not suspicious.
    assert _warnings(Task.BINARY, {"accuracy": 1.0}, {"accuracy": 0.97}) == []
    assert _warnings(Task.REGRESSION, {"r2": 0.98}, {"r2": 0.0}) == []


def test_a_perfect_score_on_few_test_rows_is_not_evidence() -> None:
    assert _warnings(Task.BINARY, {"accuracy": 1.0}, {"accuracy": 0.5}, test_rows=40) == []


def test_a_near_perfect_regression_warns() -> None:
    (warning,) = _warnings(Task.REGRESSION, {"r2": 0.9996}, {"r2": 0.0})
    assert warning.startswith("r2 0.9996 on the 125 test rows")


def test_no_dominant_column_names_the_three_the_model_leaned_on_most() -> None:
    importance = _importance(a=30.0, b=30.0, c=25.0, d=15.0)
    (warning,) = _warnings(
        Task.BINARY, {"accuracy": 1.0}, {"accuracy": 0.5}, importance=importance, sources={}
    )
    assert "leans most on 'a' (30%), 'b' (30%), 'c' (25%)" in warning
    assert "'d'" not in warning


def test_the_encoder_maps_every_model_input_to_its_file_column() -> None:
    frame = pl.DataFrame(
        {
            "signed": [datetime(2020, 5, 17, 9), datetime(2021, 1, 2), datetime(2019, 3, 4)],
            "note": ["died in office", "retired at 75", "resigned in office"],
            "plan__code": ["a", "b", "a"],
            "y": [1, 0, 1],
        }
    ).sample(60, with_replacement=True, seed=1)
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        features=(
            FeatureSpec("signed", FeatureKind.DATETIME),
            FeatureSpec("note", FeatureKind.TEXT),
            FeatureSpec("plan__code", FeatureKind.CATEGORICAL),
        ),
        classes=(0, 1),
    )
    encoder = FeatureEncoder().fit(frame, schema)
    sources = encoder.feature_sources_
    assert list(sources) == encoder.feature_names_out_
    assert {sources[name] for name in encoder.feature_names_out_} == {
        "signed",
        "note",
        "plan__code",
    }
    assert sources["plan__code"] == "plan__code"
    assert [n for n in sources if sources[n] == "signed"][-1] == "signed__epoch_days"
    assert len([n for n in sources if sources[n] == "note"]) > 1  # one input per kept term
