"""An Excel workbook's sheet as CSV text, so that it is read like any other upload: title rows
above the header are a preamble, cells come as the text the sheet shows. Read with calamine
(the ``fastexcel`` package), which is fast and holds no Python object per cell."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from conveyor.errors import InvalidInput


def sheet_to_csv(path: Path, sheet: str | int | None = None) -> tuple[Path, str]:
    """Write one sheet of the workbook at ``path`` as UTF-8 CSV in a temporary file beside it.

    Args:
        path: an .xlsx workbook.
        sheet: a sheet name or 0-based position (an int, or digits that name no sheet);
            the first sheet when None.

    Returns:
        The CSV file and the sheet's name.

    Raises:
        InvalidInput: the workbook cannot be read, or has no such sheet.
    """
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        names = list(reader.sheet_names)
        chosen = _sheet(names, sheet)
        frame = reader.load_sheet(chosen, header_row=None, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise InvalidInput(f"the Excel workbook cannot be read: {exc}", field="file") from exc
    frame = frame.select(pl.all().fill_null(""))
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=".sheet-", suffix=".csv", delete=False
    ) as out:
        frame.write_csv(out, include_header=False)
    return Path(out.name), chosen


def _sheet(names: list[str], sheet: str | int | None) -> str:
    if not names:
        raise InvalidInput("the Excel workbook has no sheet", field="file")
    if sheet is None:
        return names[0]
    if isinstance(sheet, str) and sheet not in names and sheet.isdigit():
        sheet = int(sheet)  # `--sheet 1` from a command line: a position
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    if sheet in names:
        return str(sheet)
    shown = ", ".join(repr(n) for n in names[:20])
    raise InvalidInput(
        f"the workbook has no sheet {sheet!r}; its sheets are: {shown}", field="sheet"
    )
