"""The search's sentence above its leaderboard says how an ensemble's score was obtained."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline.registration import search_summary


def _search(*names: str) -> dict[str, Any]:
    board = [{"name": name, "status": "ok", "score": 0.3} for name in names]
    return {
        "preset": "balanced",
        "time_budget_seconds": 20.0,
        "budget_source": "set",
        "leaderboard": board,
        "seconds": 12.5,
        "selected_on": "validation",
        "winner": names[-1],
        "metric": "log_loss",
    }


def test_a_leaderboard_with_an_ensemble_says_its_score_is_cross_fitted() -> None:
    said = search_summary(_search("lightgbm", "linear", "ensemble"))

    assert said is not None
    assert said.startswith("Preset balanced: 3 candidates (0 pruned) in 12.5 s of a 20 s budget")
    assert "ensemble won on log_loss." in said
    assert "The ensemble's score is cross-fitted" in said


def test_a_leaderboard_without_one_says_nothing_of_it() -> None:
    said = search_summary(_search("lightgbm", "linear"))

    assert said is not None and "cross-fitted" not in said


def test_a_classifier_search_says_its_scores_are_of_calibrated_probabilities() -> None:
    from conveyor.pipeline.registration import candidate_settings

    said = search_summary({**_search("lightgbm", "catboost"), "calibrated": True})

    assert said is not None and "probabilities calibrated as they would serve" in said
    row = {"hyperparameters": {"depth": 6}, "rounds": None, "calibration": "sigmoid"}
    assert candidate_settings(row) == "depth=6 calibrated=sigmoid"
