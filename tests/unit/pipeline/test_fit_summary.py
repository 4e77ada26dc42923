"""How a run says which model serves and which one its test metrics are of."""

from __future__ import annotations

from conveyor.pipeline.registration import fit_summary

RECORD = {"rows_train": 700, "rows_validation": 150, "best_iteration": 80}


def test_a_full_fit_says_the_test_metrics_are_of_a_model_that_never_saw_the_test_rows() -> None:
    said = fit_summary({**RECORD, "refit": {"rows": 1000, "rounds": 114, "test": True}})
    assert said is not None
    assert "fitted on all 1000 rows (train, validation and test; 114 rounds)" in said
    assert "early-stopped at 80 rounds on the 150 validation rows" in said
    assert "never saw the test rows" in said


def test_a_refit_on_train_and_validation_is_what_the_test_split_scored() -> None:
    said = fit_summary({**RECORD, "refit": {"rows": 850, "rounds": 97, "test": False}})
    assert said is not None
    assert "train and validation (850 rows, 97 rounds)" in said
    assert said.endswith("the test split scored it.")


def test_an_early_stopped_model_serves_as_it_was_scored() -> None:
    said = fit_summary({**RECORD, "refit": None})
    assert said == (
        "The model that serves was fitted on the 700 train rows, early-stopped at 80 rounds "
        "on the 150 validation rows; the test split scored it."
    )
    assert fit_summary({"best_iteration": 3}) is None


def test_cross_validated_rounds_are_said_with_the_folds_spread() -> None:
    said = fit_summary(
        {
            **RECORD,
            "refit": {"rows": 1000, "rounds": 118, "test": True},
            "cross_validation": {"folds": 5, "rounds": 80, "spread": {"rmse": 0.1234}},
        }
    )
    assert said is not None
    assert "fitted on the 850 train and validation rows, with the 80 rounds 5-fold" in said
    assert "out of fold" in said
    assert "rmse ±0.123" in said


def test_a_searched_linear_winner_is_said_as_fitted_not_early_stopped() -> None:
    said = fit_summary(
        {
            **RECORD,
            "algorithm": "linear",
            "best_iteration": 0,
            "cross_validation": {
                "folds": 5,
                "rounds": None,
                "metrics": {},
                "spread": {"rmse": 0.1},
            },
        }
    )
    assert said is not None
    assert "a linear model fitted on the 850 train and validation rows" in said
    assert "rounds" not in said and "rmse ±0.1" in said
