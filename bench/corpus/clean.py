"""Hand-cleaning: what a careful analyst does to a corpus file before fitting a plain model.

Each data set's cleaning is written out in the registry as a ``cleaner(...)`` call naming its
decisions (which columns are ids or free text to drop, which tokens mean missing, which columns
hold dates in which format, money, decimal commas); this module carries them out with pandas on
the file's records as strings. pandas is imported when a cleaner runs, so the registry loads
without the bench extra.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    Cleaner = Callable[[pd.DataFrame], pd.DataFrame]
else:
    Cleaner = Callable[[Any], Any]

NA_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "None")
# The currency, thousands and percent marks an analyst strips from a money or rate column.
_MONEY = re.compile(r"[$€£%\s]|,(?=\d{3}\b)")


def cleaner(
    *,
    target: str,
    task: str,
    drop: Iterable[str] = (),
    na: Iterable[str] = (),
    dates: Mapping[str, str | None] | None = None,
    money: Iterable[str] = (),
    categorical: Iterable[str] = (),
    decimal_comma: bool = False,
    extra: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Cleaner:
    """A hand-cleaning function for one data set.

    Args:
        target: The target column as named in the file.
        task: ``binary``, ``multiclass`` or ``regression``.
        drop: Columns a person would drop: ids, names, urls, free text.
        na: Missing-value tokens besides ``NA_TOKENS`` (``.``, ``?``, ``unknown``).
        dates: Date columns and their strptime formats (None: let pandas infer); each becomes
            year, month, day of month, day of week, hour and days since 1970.
        money: Columns with currency signs, thousands separators or percent signs.
        categorical: Number-coded columns that are categories.
        decimal_comma: Numbers are written ``1.234,5``.
        extra: A last step of the data set's own.

    Returns:
        A function from the file's records (a frame of strings, the file's column names) to a
        typed frame: numbers as float, categories as ``category``, the target kept (classes as
        strings, a numeric target as float).
    """
    missing = {*NA_TOKENS, *na}
    date_formats = dict(dates or {})
    money_columns, categories = set(money), set(categorical)

    def clean(raw: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        frame = raw.drop(columns=[c for c in raw.columns if c == "" or c in set(drop)])
        columns: dict[str, pd.Series] = {}
        for name in frame.columns:
            cells = frame[name].map(lambda v: None if v is None else str(v).strip())
            cells = cells.where(~cells.isin(missing), None)
            if name == target:
                columns[name] = _target(cells, task, decimal_comma, name in money_columns)
            elif name in date_formats:
                columns.update(_date_parts(name, cells, date_formats[name]))
            elif name in categories:
                columns[name] = cells.astype("category")
            else:
                columns[name] = _number_or_category(
                    cells, decimal_comma=decimal_comma, money=name in money_columns
                )
        out = pd.DataFrame(columns, index=frame.index)
        return extra(out) if extra else out

    return clean


def label(value: object) -> str:
    """A class label as text, so ``1``, ``1.0`` and ``"1"`` are the same class."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _target(cells: pd.Series, task: str, decimal_comma: bool, money: bool) -> pd.Series:
    if task == "regression":
        return _numbers(cells, decimal_comma=decimal_comma, money=money)
    return cells.map(lambda v: None if v is None else label(v))


def _numbers(cells: pd.Series, *, decimal_comma: bool, money: bool) -> pd.Series:
    import pandas as pd

    text = cells.astype("string")
    if decimal_comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    if money:
        text = text.str.replace(_MONEY, "", regex=True)
        # Accounting negatives: (12.50) is -12.50.
        text = text.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _number_or_category(cells: pd.Series, *, decimal_comma: bool, money: bool) -> pd.Series:
    numbers = _numbers(cells, decimal_comma=decimal_comma, money=money)
    present = cells.notna()
    if present.sum() and numbers[present].notna().all():
        return numbers
    return cells.astype("category")


def _date_parts(name: str, cells: pd.Series, fmt: str | None) -> dict[str, pd.Series]:
    import pandas as pd

    if fmt is None:
        when = pd.to_datetime(cells, errors="coerce", format="mixed")
    else:
        when = pd.to_datetime(cells, errors="coerce", format=fmt)
    epoch = pd.Timestamp("1970-01-01")
    return {
        f"{name}_year": when.dt.year.astype("float64"),
        f"{name}_month": when.dt.month.astype("float64"),
        f"{name}_day": when.dt.day.astype("float64"),
        f"{name}_weekday": when.dt.dayofweek.astype("float64"),
        f"{name}_hour": when.dt.hour.astype("float64"),
        f"{name}_days": ((when - epoch).dt.total_seconds() / 86400).astype("float64"),
    }
