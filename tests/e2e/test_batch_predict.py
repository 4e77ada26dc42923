"""Batch predict through the CLI: every input row comes back with its prediction."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.e2e.conftest import Cli, json_of


def test_batch_predict_scores_every_row_in_chunks(
    deployed_cli: Cli, churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    scored_csv = tmp_path / "scored.csv"
    summary = json_of(
        cli(
            "predict",
            "churn",
            "--input",
            str(churn_csv),
            "--output",
            str(scored_csv),
            "--chunk-rows",
            "400",
            "--json",
        )
    )
    source = pl.read_csv(churn_csv, infer_schema=False)
    scored = pl.read_csv(scored_csv, infer_schema=False)
    assert summary["rows"] == source.height == scored.height
    assert summary["version"] == 1
    assert scored.columns == [*source.columns, "prediction", "proba_no", "proba_yes"]
    assert scored.select(source.columns).equals(source)  # input columns untouched, in order
    assert set(scored["prediction"].unique()) <= {"no", "yes"}
    total = scored["proba_no"].cast(pl.Float64) + scored["proba_yes"].cast(pl.Float64)
    assert ((total - 1).abs() < 1e-9).all()

    scored_parquet = tmp_path / "scored.parquet"
    json_of(cli("predict", "churn", "-i", str(churn_csv), "-o", str(scored_parquet), "--json"))
    from_parquet = pl.read_parquet(scored_parquet)
    assert from_parquet["prediction"].to_list() == scored["prediction"].to_list()

    # JSON as its suffix says, across chunks: one array, or one object a line.
    for name, read in (("scored.json", pl.read_json), ("scored.jsonl", pl.read_ndjson)):
        out = tmp_path / name
        json_of(
            cli(
                "predict",
                "churn",
                "-i",
                str(churn_csv),
                "-o",
                str(out),
                "--chunk-rows",
                "400",
                "--json",
            )
        )
        assert read(out)["prediction"].to_list() == scored["prediction"].to_list()

    refused = cli("predict", "churn", "-i", str(churn_csv), "-o", str(tmp_path / "x.xlsx"))
    assert refused.returncode == 2 and ".jsonl (one object a line)" in refused.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_batch_predict_names_the_bad_row(
    deployed_cli: Cli, churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    rows = pl.read_csv(churn_csv, infer_schema=False)
    bad = rows.with_columns(
        age=pl.when(pl.int_range(pl.len()) == 700).then(pl.lit("old")).otherwise(pl.col("age"))
    )
    bad_csv = tmp_path / "bad.csv"
    bad.write_csv(bad_csv)
    result = cli(
        "predict",
        "churn",
        "-i",
        str(bad_csv),
        "-o",
        str(tmp_path / "out.csv"),
        "--chunk-rows",
        "500",
    )
    assert result.returncode == 2
    assert "'age' expects a number, got 'old' (row 201)" in result.stderr
    assert "from row 501" in result.stderr


def test_batch_predict_without_a_deployed_version_says_what_to_do(
    cli: Cli, churn_csv: Path
) -> None:
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    result = cli("predict", "churn", "-i", str(churn_csv), "-o", "/tmp/never.csv")
    assert result.returncode == 4
    assert "models deploy churn" in result.stderr
