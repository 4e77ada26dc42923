"""Each trait of a real file's columns, as inference reads it (issue 19)."""

from __future__ import annotations

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.infer import infer_schema
from conveyor.tabular.numbers import NumberFormat, guess_number_format
from conveyor.tabular.schema import DatasetSchema, FeatureKind
from conveyor.types import Task

ROWS = 60


def infer(column: list[str | None], **kwargs: object) -> tuple[DatasetSchema, pl.DataFrame]:
    """The schema of a frame of ``column`` (repeated to ROWS rows) beside a binary target, and
    the frame typed with it."""
    values = (column * (ROWS // len(column) + 1))[:ROWS]
    frame = pl.DataFrame({"x": pl.Series(values, dtype=pl.String), "y": ["a", "b"] * (ROWS // 2)})
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO, **kwargs)  # type: ignore[arg-type]
    return schema, coerce_frame(frame, schema, lenient=True)


def report(schema: DatasetSchema, name: str = "x") -> dict[str, object]:
    return next(r for r in schema.column_report() if r["name"] == name)


@pytest.mark.parametrize(
    ("cells", "fmt", "first", "rule"),
    [
        (["$1,200.50", "$28,000.00", "$5"], NumberFormat(".", ",", "$"), 1200.5, "currency `$`"),
        (["1.234,5", "12,25", "7"], NumberFormat(",", "."), 1234.5, "thousands `.`"),
        (["1 234,5", "12,25", "7"], NumberFormat(",", " "), 1234.5, "thousands space"),
        (["79,99", "1,5", "3"], NumberFormat(","), 79.99, "decimal comma"),
        (["18.01%", "5.5%", "0%"], NumberFormat(suffix="%"), 18.01, "percent"),
        (["(12.50)", "3.00", "4.25"], NumberFormat(parens=True), -12.5, "accounting"),
        (["$70/mo", "$45/mo", "$99/mo"], NumberFormat(prefix="$", suffix="/mo"), 70.0, "`/mo`"),
        (["12 kg", "5 kg", "7.5 kg"], NumberFormat(suffix="kg"), 12.0, "unit `kg`"),
        (["€ 3,50", "€ 12,00", "€ 1,25"], NumberFormat(",", "", "€"), 3.5, "currency `€`"),
        (["1,200 EUR", "300 EUR", "45 EUR"], NumberFormat(".", ",", "", "EUR"), 1200, "`EUR`"),
    ],
    ids=["dollars", "eu", "space", "comma", "percent", "parens", "per-month", "kg", "euro", "code"],
)
def test_written_numbers_are_numeric_with_their_rule(
    cells: list[str], fmt: NumberFormat, first: float, rule: str
) -> None:
    schema, typed = infer(cells)
    spec = schema.feature("x")
    assert spec.kind is FeatureKind.NUMERIC
    assert spec.number_format == fmt
    assert typed.get_column("x")[0] == pytest.approx(first)
    assert rule in str(report(schema)["rule"])
    assert report(schema)["parsed_share"] == 1.0


def test_the_files_decimal_comma_settles_only_an_ambiguous_column() -> None:
    ambiguous = ["1,234", "2,500", "3,125"]
    assert infer(ambiguous)[1].get_column("x")[0] == 1234.0
    assert infer(ambiguous, decimal=",")[1].get_column("x")[0] == pytest.approx(1.234)
    # A value that only a decimal comma reads settles it whatever the hint.
    assert infer(["79,99", "1,234"], decimal=".")[1].get_column("x")[0] == pytest.approx(79.99)


def test_the_format_that_reads_the_most_values_wins_however_alike_they_look() -> None:
    # Three values written alike ("1,5" and its kind) against two written two ways: the
    # count is of values, not of the ways they are written.
    assert guess_number_format(["1,5", "2,5", "3,5", "1.25", "2.5"]) == NumberFormat(",")
    assert guess_number_format(["1,5", "1.25", "2.5", "3.75"]) == NumberFormat()


@pytest.mark.parametrize("token", ["unknown", "missing", "not available", ".", "other"])
def test_a_numeric_columns_own_sentinel_is_missing(token: str) -> None:
    schema, typed = infer(["31", "42", token, "50", "17", "23"])
    spec = schema.feature("x")
    assert spec.kind is FeatureKind.NUMERIC
    assert typed.get_column("x").null_count() == ROWS // 6
    if token != ".":  # "." is one of every column's spellings of missing
        assert spec.missing_tokens == (token,)
        assert report(schema)["missing_tokens"] == [token]


def test_horsepower_with_question_marks_is_numeric() -> None:
    schema, typed = infer(["130", "165", "?", "150", "140", "198", "220", "215"])
    assert schema.feature("x").kind is FeatureKind.NUMERIC
    assert typed.get_column("x").null_count() > 0


def test_many_distinct_texts_among_numbers_make_a_category() -> None:
    mostly_text = ["1", "2", "3", *(f"code {c}" for c in "abcdefgh")]
    assert infer(mostly_text)[0].feature("x").kind is FeatureKind.CATEGORICAL
    # Numbers are most cells, but 25 distinct texts on 45% of them: they mean something.
    frame = pl.DataFrame(
        {"x": [str(i % 7) for i in range(33)] + [f"code {i}" for i in range(25)] + ["1", "2"]}
    ).with_columns(y=pl.int_range(60) % 2)
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert schema.feature("x").kind is FeatureKind.CATEGORICAL


def test_stray_typos_in_a_long_numeric_column_are_missing() -> None:
    cells = [str(i) for i in range(2000)] + [f"typo {i}" for i in range(30)]
    frame = pl.DataFrame({"x": cells, "y": [i % 2 for i in range(len(cells))]})
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    spec = schema.feature("x")
    assert spec.kind is FeatureKind.NUMERIC and len(spec.missing_tokens) == 20
    typed = coerce_frame(frame, schema, lenient=True).get_column("x")
    assert typed.null_count() == 30
    assert report(schema)["parsed_share"] == pytest.approx(2000 / 2010)


@pytest.mark.parametrize(
    "cells",
    [
        ["2-10", "11-50", "51-200", ">500", "1"],
        ["5'7\"", "6'1\"", "5'11\"", "5'2\""],
        ["10+", "20+", "5+"],
    ],
    ids=["ranges", "heights", "plus"],
)
def test_ranges_and_heights_are_categories(cells: list[str]) -> None:
    schema, _ = infer(cells)
    assert schema.feature("x").kind is FeatureKind.CATEGORICAL


@pytest.mark.parametrize(
    ("cells", "formats", "first"),
    [
        (["2016-01-01T00:00:00Z", "2016-03-01T05:00:00+02:00"], None, "2016-01-01 00:00:00"),
        (["8/6/20 18:57", "12/31/19 1:05"], ("%m/%d/%y %H:%M",), "2020-08-06 18:57:00"),
        (["25/12/2020", "01/02/2020"], ("%d/%m/%Y",), "2020-12-25 00:00:00"),
        (["Jan 1 2000", "Mar 15 2001"], ("%b %d %Y",), "2000-01-01 00:00:00"),
        (["1 January 2000", "15 March 2001"], ("%d %B %Y",), "2000-01-01 00:00:00"),
        (["Mar-2018", "Apr-2019"], ("%b-%Y",), "2018-03-01 00:00:00"),
        (["2020-01-05", "13/02/2020", "Jan 3 2021"], None, "2020-01-05 00:00:00"),
        (["8/27/93", "12/31/2001", "1/5/1999"], ("%m/%d/%y", "%m/%d/%Y"), "1993-08-27 00:00:00"),
    ],
    ids=[
        "iso-zulu",
        "us-short",
        "eu",
        "month-first",
        "day-month",
        "month-year",
        "several",
        "years",
    ],
)
def test_dates_in_every_common_writing(
    cells: list[str], formats: tuple[str, ...] | None, first: str
) -> None:
    schema, typed = infer(cells)
    spec = schema.feature("x")
    assert spec.kind is FeatureKind.DATETIME
    if formats is not None:
        assert spec.formats == formats
    assert str(typed.get_column("x")[0]) == first
    assert typed.get_column("x").null_count() == 0


def test_day_and_month_order_is_settled_by_the_data_and_recorded() -> None:
    schema, _ = infer(["01/02/2020", "05/06/2020", "13/02/2020"])
    spec = schema.feature("x")
    assert spec.formats == ("%d/%m/%Y",)
    assert spec.date_note is not None and "'13/02/2020'" in spec.date_note
    unsettled, _ = infer(["01/02/2020", "05/06/2020"])
    assert unsettled.feature("x").formats == ("%m/%d/%Y",)
    european, _ = infer(["01/02/2020", "05/06/2020"], decimal=",")
    assert european.feature("x").formats == ("%d/%m/%Y",)
    assert "decimal commas" in str(european.feature("x").date_note)


def test_free_text_is_text_and_ids_and_urls_are_dropped_with_the_reason() -> None:
    words = ["great", "slow", "service", "price", "room", "staff", "clean", "food"]
    reviews = [f"the {words[i % 8]} was {words[(i * 3) % 8]} and {i}" for i in range(ROWS)]
    urls = [f"https://example.org/item/{i}" for i in range(ROWS)]
    frame = pl.DataFrame({"review": reviews, "url": urls, "y": ["a", "b"] * (ROWS // 2)})
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert schema.feature("review").kind is FeatureKind.TEXT
    dropped = {d.name: d.reason for d in schema.dropped}
    assert "high-cardinality" in dropped["url"] and "https://example.org" in dropped["url"]


def test_the_target_reads_with_the_same_rules() -> None:
    frame = pl.DataFrame(
        {
            "x": [str(i) for i in range(ROWS)],
            "price": [f"${1000 + 37 * i:,}" for i in range(ROWS)],
        }
    )
    schema, _ = infer_schema(frame, target="price", task=Task.AUTO)
    assert schema.task is Task.REGRESSION
    assert schema.target_number_format == NumberFormat(".", ",", "$")
    typed = coerce_frame(frame, schema, with_target=True)
    assert typed.get_column("price")[0] == 1000.0
    comma = pl.DataFrame({"x": frame["x"], "y": [f"{i},99" for i in range(ROWS)]})
    schema, _ = infer_schema(comma, target="y", task=Task.REGRESSION)
    assert coerce_frame(comma, schema, with_target=True).get_column("y")[1] == 1.99


def test_overrides_replace_the_kind_keep_the_rule_and_say_so() -> None:
    frame = pl.DataFrame(
        {
            "zip": ["02139", "10001", "94105"] * 20,
            "price": ["$1,200", "$5", "$30"] * 20,
            "note": ["a b c", "d e f", "g h i"] * 20,
            "y": ["a", "b"] * 30,
        }
    )
    overrides = {"zip": "categorical", "price": "numeric", "note": "ignore", "gone": "text"}
    schema, notes = infer_schema(frame, target="y", task=Task.AUTO, overrides=overrides)
    assert schema.feature("zip").kind is FeatureKind.CATEGORICAL
    assert schema.feature("price").number_format == NumberFormat(".", ",", "$")
    assert "note" not in schema.feature_names
    rows = {r["name"]: r for r in schema.column_report()}
    assert rows["zip"]["reason"] == "set by you"
    assert rows["note"]["kind"] == "dropped" and "set by you" in str(rows["note"]["reason"])
    assert any("'gone'" in n for n in notes)
    with pytest.raises(InvalidInput, match="the kinds are categorical, numeric"):
        infer_schema(frame, target="y", task=Task.AUTO, overrides={"zip": "number"})


def test_the_column_report_lists_every_raw_column_in_file_order() -> None:
    frame = pl.DataFrame(
        {
            "y": ["a", "b"] * 30,
            "hp": ["130", "?", "unknown", "150"] * 15,
            "empty": pl.Series([None] * 60, dtype=pl.String),
        }
    )
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    table = schema.column_report()
    assert [r["name"] for r in table] == ["y", "hp", "empty"]
    assert set(table[0]) == {"name", "kind", "rule", "missing_tokens", "parsed_share", "reason"}
    assert table[0]["kind"] == "target"
    assert table[1] == {
        "name": "hp",
        "kind": "numeric",
        "rule": "number",
        "missing_tokens": ["?", "unknown"],
        "parsed_share": 1.0,
        "reason": None,
    }
    assert table[2]["kind"] == "dropped" and table[2]["reason"] == "it has no values"
    assert DatasetSchema.from_dict(schema.to_dict()) == schema


def test_a_large_column_is_inferred_on_every_kth_row_alike() -> None:
    from conveyor.tabular.infer import INFER_ROWS

    rows = INFER_ROWS + 50_000
    frame = pl.select(i=pl.int_range(rows)).select(
        price=pl.format("${}.50", "i"),
        code=pl.format("C{}", "i"),
        plan=pl.lit(pl.Series(["basic", "pro", "?x"] * (rows // 3 + 1)).head(rows)),
        y=pl.col("i") % 2,
    )
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert schema.feature("price").number_format == NumberFormat(prefix="$")
    assert schema.feature("plan").kind is FeatureKind.CATEGORICAL
    assert "code" in {d.name for d in schema.dropped}
