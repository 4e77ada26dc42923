"""One raw column's verdict: its kind, the rule that reads its cells and its row of the
column report, or why it is dropped.

A text column is asked, in order: is it true/false; do most of its cells read as numbers
under one format (``$1,200``, ``79,99``, ``18%``), the few other texts being its own spellings
of missing; the same for dates; is it free text (long, mostly distinct, with spaces); is it
an id or code (mostly distinct, no spaces: dropped); else it is categorical. Rules are found
on a sample of the distinct values; the shares reported are counted on all of them (on
every k-th row past ``INFER_ROWS``).
"""

from __future__ import annotations

import re

import polars as pl

from conveyor.tabular.columnar import parse_dates, parse_numbers
from conveyor.tabular.dates import describe_formats
from conveyor.tabular.infer_dates import guess_date_formats
from conveyor.tabular.missing import sentinels
from conveyor.tabular.numbers import guess_number_format
from conveyor.tabular.schema import ColumnReport, FeatureKind, FeatureSpec

TRUE_TOKENS = frozenset({"true", "yes", "t", "y"})
FALSE_TOKENS = frozenset({"false", "no", "f", "n"})
# The kinds a project may set a column to (``overrides``).
OVERRIDE_KINDS = ("categorical", "numeric", "date", "text", "ignore")
_OVERRIDE = {
    "categorical": FeatureKind.CATEGORICAL,
    "numeric": FeatureKind.NUMERIC,
    "date": FeatureKind.DATETIME,
    "text": FeatureKind.TEXT,
}
SET_BY_YOU = "set by you"
# A boolean column has at most two words, each at most five letters: 2 * 2**5 ways to write
# them in upper and lower case. A column with more distinct values is not boolean.
_MAX_BOOLEAN_SPELLINGS = 2 * 2 ** max(map(len, TRUE_TOKENS | FALSE_TOKENS))
_ID_NAME = re.compile(r"(^id$)|([_ ]id$)|([a-z]Id$)|(^ID$)|(_ID$)", re.IGNORECASE)
# Names of a column of row numbers: the reader's for an unnamed header cell (R's write.csv),
# pandas' "Unnamed: 0", readr's "...1", and the usual index names.
_ROW_NUMBER_NAME = re.compile(
    r"^(column_1|unnamed: ?0|\.\.\.1|index|rownames|row ?(names?|numbers?|no|nr))$",
    re.IGNORECASE,
)
# Rules are found on the most frequent distinct values and a seeded sample of the rest.
_SAMPLE_TOP, _SAMPLE_REST = 1000, 2000
# Text columns of more non-missing cells are inferred on about this many of them.
INFER_ROWS = 200_000
_MANY = 50  # more distinct texts than this (and than half the rows): not a category
_FREE_TEXT_WORDS = 3.0  # mean words of a free-text value
_COUNT = "count"
_LISTED = 64


def sample_values(spellings: pl.Series) -> list[str]:
    """The distinct values a rule is found on: the most frequent first (``spellings`` comes
    sorted by count), then a seeded sample of the rest."""
    head = spellings.head(_SAMPLE_TOP)
    rest = spellings.slice(_SAMPLE_TOP)
    if len(rest) > _SAMPLE_REST:
        rest = rest.sample(_SAMPLE_REST, seed=0)
    return [*head.to_list(), *rest.to_list()]


def _dropped(name: str, reason: str) -> tuple[None, ColumnReport]:
    return None, ColumnReport(name, "dropped", "", reason=reason)


def _kept(
    spec: FeatureSpec, rule: str, share: float = 1.0, set_by_you: bool = False
) -> tuple[FeatureSpec, ColumnReport]:
    report = ColumnReport(
        spec.name,
        spec.kind.value,
        rule,
        missing_tokens=spec.missing_tokens,
        parsed_share=round(share, 6),
        reason=SET_BY_YOU if set_by_you else None,
    )
    return spec, report


def infer_column(
    column: pl.Series, rows: int, decimal: str | None, override: str | None
) -> tuple[FeatureSpec | None, ColumnReport]:
    """A feature's spec and report, or (None, the report saying why it was dropped).

    Args:
        column: the raw column (typed by the reader, or stripped text).
        rows: the frame's rows (the column's nulls included).
        decimal: the file's decimal mark, when its dialect says.
        override: the kind the project set (one of ``OVERRIDE_KINDS``), or None.
    """
    name = column.name
    if override == "ignore":
        return _dropped(name, f"{SET_BY_YOU}: ignore")
    values = column.drop_nulls()
    nullable = column.null_count() > 0
    if len(values) == 0:
        return _dropped(name, "it has no values")
    dtype = column.dtype
    kind = _OVERRIDE.get(override or "")
    if dtype == pl.String or (kind is not None and kind is not _typed_kind(dtype)):
        return _infer_text(values.cast(pl.String), rows, nullable, decimal, kind)
    forced = kind is not None
    if dtype == pl.Boolean:
        spec = FeatureSpec(name, FeatureKind.BOOLEAN, nullable)
        return _constant_or(values, spec, "true/false", forced=forced)
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        spec = FeatureSpec(name, FeatureKind.DATETIME, nullable)
        return _constant_or(values, spec, "date (typed in the file)", forced=forced)
    if dtype.is_numeric():
        return _numeric(name, values.cast(pl.Float64), rows, nullable, forced=forced)
    return _infer_text(values.cast(pl.String), rows, nullable, decimal, kind)


def _typed_kind(dtype: pl.DataType) -> FeatureKind | None:
    if dtype.is_numeric():
        return FeatureKind.NUMERIC
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return FeatureKind.DATETIME
    return None


def _infer_text(
    text: pl.Series, rows: int, nullable: bool, decimal: str | None, kind: FeatureKind | None
) -> tuple[FeatureSpec | None, ColumnReport]:
    name = text.name
    if len(text) > INFER_ROWS:
        # Counting a million distinct texts costs a quarter of a second per column; the
        # kind, its rule and the shares read are as clear from every k-th row (a strided
        # take costs a third of a random sample's, and spans the whole file).
        step = -(-len(text) // INFER_ROWS)
        missing = rows - len(text)
        text = text.gather_every(step)
        rows = len(text) + round(missing / step)
    counts = text.value_counts(sort=True, name=_COUNT)
    spellings = counts.get_column(name)
    distinct = counts.height
    forced = kind is not None
    if kind is None and distinct <= _MAX_BOOLEAN_SPELLINGS:
        boolean = _boolean(name, spellings, nullable)
        if boolean is not None:
            return _constant_or(text, boolean[0], boolean[1], distinct)
    sample = sample_values(spellings)
    if kind in (None, FeatureKind.NUMERIC):
        found = _numbers(counts, sample, nullable, decimal, forced=forced)
        if found is not None:
            spec, rule, share, values = found
            if forced:
                return _kept(spec, rule, share, set_by_you=True)
            return _numeric(name, values, rows, nullable, spec=spec, rule=rule, share=share)
    if kind in (None, FeatureKind.DATETIME):
        found_date = _dates(counts, sample, nullable, decimal, forced=forced)
        if found_date is not None:
            spec, rule, share = found_date
            return _constant_or(text, spec, rule, distinct, share=share, forced=forced)
    note = (
        ""
        if kind is None or kind in (FeatureKind.CATEGORICAL, FeatureKind.TEXT)
        else (f"; set by you as {kind.value}, but no rule reads it as one")
    )
    free = _free_text(sample)
    if kind is FeatureKind.TEXT or (
        kind is None and distinct > _MANY and free and distinct > rows / 10
    ):
        spec = FeatureSpec(name, FeatureKind.TEXT, nullable)
        return _kept(spec, "free text: word TF-IDF terms fitted on the training split", 1.0, forced)
    if kind is None and distinct > _MANY and distinct > rows / 2:
        return _dropped(
            name,
            f"high-cardinality text ({distinct} distinct values in {rows} rows): "
            f"{_looks_like(sample)} (e.g. {spellings[0]!r})",
        )
    spec = FeatureSpec(name, FeatureKind.CATEGORICAL, nullable)
    rule = f"category ({distinct} distinct values){note}"
    return _constant_or(text, spec, rule, distinct, forced=kind is FeatureKind.CATEGORICAL)


def _boolean(name: str, spellings: pl.Series, nullable: bool) -> tuple[FeatureSpec, str] | None:
    lowered = set(spellings.str.to_lowercase().to_list())
    if (
        len(lowered) <= 2
        and lowered <= TRUE_TOKENS | FALSE_TOKENS
        and (not lowered <= TRUE_TOKENS or not lowered <= FALSE_TOKENS)
    ):
        true_values = tuple(sorted(lowered & TRUE_TOKENS))
        false_values = tuple(sorted(lowered & FALSE_TOKENS))
        spec = FeatureSpec(
            name, FeatureKind.BOOLEAN, nullable, true_values=true_values, false_values=false_values
        )
        return spec, f"true/false ({'/'.join(true_values)} is true)"
    return None


def _read_counts(
    counts: pl.DataFrame, read: pl.Series
) -> tuple[int, int, list[tuple[str, int]], int]:
    """(cells read, distinct read, the unread texts with counts, cells unread)."""
    hit = read.is_not_null()
    cells = counts.get_column(_COUNT)
    read_cells = int(cells.filter(hit).sum())
    unread = counts.filter(~hit)
    unread_cells = int(unread.get_column(_COUNT).sum())
    # Past SOME distinct unread texts a column is not numbers with sentinels: listing more
    # would not change the verdict.
    listed = [(str(v), int(n)) for v, n in unread.head(_LISTED).iter_rows()]
    return read_cells, int(hit.sum()), listed, unread_cells


def _numbers(
    counts: pl.DataFrame, sample: list[str], nullable: bool, decimal: str | None, *, forced: bool
) -> tuple[FeatureSpec, str, float, pl.Series] | None:
    """A numeric spec for the text column, its rule, the share of cells read and the numbers
    read (one per distinct value; null for the missing tokens)."""
    fmt = guess_number_format(sample, decimal=decimal)
    spellings = counts.get_column(counts.columns[0])
    sampled = parse_numbers(pl.Series(sample, dtype=pl.String), fmt)
    if not forced and sampled.null_count() > len(sample) / 2:
        return None  # most distinct values are not numbers: no need to read them all
    number_format = None if fmt.is_plain and fmt.decimal == "." else fmt
    parsed = parse_numbers(spellings, number_format)
    found = _missing_tokens(counts, parsed, forced=forced)
    if found is None:
        return None
    tokens, share = found
    spec = FeatureSpec(
        spellings.name,
        FeatureKind.NUMERIC,
        nullable or bool(tokens),
        missing_tokens=tokens,
        number_format=number_format,
    )
    rule = fmt.describe()
    return spec, rule, share, parsed.filter(parsed.is_not_null())


def _missing_tokens(
    counts: pl.DataFrame, parsed: pl.Series, *, forced: bool
) -> tuple[tuple[str, ...], float] | None:
    """The texts a column's rule did not read, as its missing tokens, and the share of the
    other cells it read; None when they are too many for the rule to be the column's (unless
    a person set the kind: then the first 20 are the tokens)."""
    read_cells, read_distinct, unread, unread_cells = _read_counts(counts, parsed)
    tokens = sentinels(unread, read_cells, read_distinct, unread_cells)
    if tokens is None:
        if not forced:
            return None
        tokens = tuple(sorted({t.lower() for t, _ in unread[:20]}))
    missing = sum(n for t, n in unread if t.lower() in tokens)
    return tokens, read_cells / max(read_cells + unread_cells - missing, 1)


def _dates(
    counts: pl.DataFrame, sample: list[str], nullable: bool, decimal: str | None, *, forced: bool
) -> tuple[FeatureSpec, str, float] | None:
    guess = guess_date_formats(pl.Series(sample, dtype=pl.String), decimal=decimal)
    if guess is None:
        return None
    spellings = counts.get_column(counts.columns[0])
    parsed = parse_dates(spellings, guess.formats)
    found = _missing_tokens(counts, parsed, forced=forced)
    if found is None:
        return None
    tokens, share = found
    spec = FeatureSpec(
        spellings.name,
        FeatureKind.DATETIME,
        nullable or bool(tokens),
        date_format=guess.formats[0],
        date_formats=guess.formats if len(guess.formats) > 1 else (),
        date_note=guess.note,
        missing_tokens=tokens,
    )
    rule = describe_formats(guess.formats) + (f"; {guess.note}" if guess.note else "")
    return spec, rule, share


_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_URL = re.compile(r"^(https?|ftp)://|^www\.", re.I)


def _looks_like(sample: list[str]) -> str:
    """What a column of mostly distinct short texts likely holds, for its drop reason."""
    for pattern, what in ((_URL, "urls"), (_UUID, "uuids"), (_EMAIL, "email addresses")):
        if sum(1 for v in sample if pattern.search(v)) > len(sample) / 2:
            return f"likely {what}, one per row"
    if sum(1 for v in sample if " " in v) > len(sample) / 2:
        return "likely names or labels, too short to be free text"
    return "likely an id or a code"


def _free_text(sample: list[str]) -> bool:
    """Most values have spaces and the values average at least ``_FREE_TEXT_WORDS`` words."""
    if not sample:
        return False
    words = [len(v.split()) for v in sample]
    spaced = sum(1 for w in words if w > 1)
    return spaced >= len(sample) / 2 and sum(words) / len(sample) >= _FREE_TEXT_WORDS


def _row_numbers(numbers: pl.Series, rows: int) -> bool:
    return (
        len(numbers) == rows
        and bool(numbers.is_sorted())
        and numbers.n_unique() == rows
        and bool((numbers == numbers.round()).all())
    )


def _numeric(
    name: str,
    numbers: pl.Series,
    rows: int,
    nullable: bool,
    *,
    spec: FeatureSpec | None = None,
    rule: str = "number",
    share: float = 1.0,
    forced: bool = False,
) -> tuple[FeatureSpec | None, ColumnReport]:
    if spec is None:
        spec = FeatureSpec(name, FeatureKind.NUMERIC, nullable)
    if forced:
        return _kept(spec, rule, share, set_by_you=True)
    if (
        _ID_NAME.search(name)
        and numbers.n_unique() == len(numbers) == rows
        and bool((numbers == numbers.round()).all())
    ):
        return _dropped(name, "an id column (every value is a distinct integer)")
    if _ROW_NUMBER_NAME.match(name) and _row_numbers(numbers, rows):
        # A model would learn the file's order from it, and no request can send it.
        return _dropped(
            name,
            "row numbers (distinct integers rising down the file, in a column with no name "
            "of its own, as R's write.csv and pandas' to_csv write their index)",
        )
    if len(numbers) == 0 or numbers.min() == numbers.max():  # cheaper than counting distinct
        example = numbers[0] if len(numbers) else None
        return _dropped(name, f"it is constant (every value is {example!r})")
    return _kept(spec, rule, share)


def _constant_or(
    values: pl.Series,
    spec: FeatureSpec,
    rule: str,
    distinct: int | None = None,
    *,
    share: float = 1.0,
    forced: bool = False,
) -> tuple[FeatureSpec | None, ColumnReport]:
    if not forced and (values.n_unique() if distinct is None else distinct) == 1:
        return _dropped(spec.name, f"it is constant (every value is {values[0]!r})")
    return _kept(spec, rule, share, set_by_you=forced)
