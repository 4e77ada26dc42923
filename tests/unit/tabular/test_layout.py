"""Where the table is in the text: preamble, header rows or none, footer, second table."""

from __future__ import annotations

from conveyor.tabular.dialect import Dialect
from conveyor.tabular.layout import clean_names, find_layout

DATA = "1,2.5,x\n2,3.5,y\n3,4.5,z\n4,5.5,w\n"


def _layout(text: str):  # type: ignore[no-untyped-def]
    return find_layout(text, Dialect(), whole=True)


def test_a_preamble_of_titles_blank_lines_and_a_padded_title_is_skipped() -> None:
    text = "Quarterly report\nSource: shop\n\nExported 2024,,\nid,price,code\n" + DATA
    layout = _layout(text)
    assert (layout.header_line, layout.preamble_lines, layout.raw_names) == (
        5,
        4,
        ["id", "price", "code"],
    )
    assert text.encode()[layout.data_start :].startswith(b"1,2.5,x")


def test_a_first_row_that_reads_as_data_is_no_header() -> None:
    layout = _layout(DATA)
    assert not layout.has_header and layout.header_line is None and layout.data_start == 0


def test_r_row_names_over_text_columns_do_not_hide_the_header() -> None:
    # R's write.csv of a table of words: the only numeric column is the unnamed row names.
    text = '"","class","sex","survived"\n' + "".join(
        f'"{i}","{("1st", "2nd", "crew")[i % 3]} class","{("man", "woman")[i % 2]}","yes"\n'
        for i in range(1, 30)
    )
    layout = _layout(text)
    assert layout.has_header and layout.raw_names == ["", "class", "sex", "survived"]
    headless = "".join(f'"{i}","{("a", "b")[i % 2]}","{i % 2}"\n' for i in range(1, 30))
    assert not _layout(headless).has_header  # a number where the numbers go: data


def test_a_header_over_two_rows_is_joined() -> None:
    layout = _layout("unit,price,code\nid,in euro,\n" + DATA)
    assert layout.header_rows == 2 and layout.raw_names == ["unit id", "price in euro", "code"]


def test_footers_and_a_second_table_are_left_out() -> None:
    text = "id,price,code\n" + DATA + "\nsummary,value\nrows,4\n"
    layout = _layout(text)
    assert text.encode()[: layout.data_end].rstrip().endswith(b"4,5.5,w")
    assert layout.footer_lines == 2 and layout.footer_first_line == 7
    text = "id,price,code\n" + DATA + "Total: 4 rows\n"
    assert _layout(text).footer_lines == 1


def test_a_short_last_row_of_data_is_no_footer() -> None:
    assert _layout("id,price,code\n" + DATA + "5,6.5\n").data_end is None


def test_names_are_stripped_unquoted_and_made_unique() -> None:
    names, renamed = clean_names(["\ufeffid", " 'price' ", "", "id"], 4)
    assert names == ["id", "price", "column_3", "id_2"]
    assert renamed == {
        "\ufeffid": "id",
        " 'price' ": "price",
        "<column 3>": "column_3",
        "id": "id_2",
    }
    assert clean_names([], 2) == (["column_1", "column_2"], {})


def test_a_header_one_field_off_the_data_is_fitted() -> None:
    assert _layout(",id,price,code\n" + DATA).raw_names == ["id", "price", "code"]
    short = _layout("id,price\n" + DATA)
    assert short.has_header and short.raw_names == ["id", "price", ""]


def test_a_header_repeated_over_three_rows_is_joined() -> None:
    layout = _layout("id,price,code\n" * 3 + DATA * 5)
    assert layout.header_rows == 3 and layout.raw_names[0] == "id id id"


def test_a_second_table_without_a_blank_line_is_left_out() -> None:
    for second in ("id,price,code\n9,9.5,q\n", "k,v\n1,2\n3,4\n"):
        text = "id,price,code\n" + DATA + second
        layout = _layout(text)
        assert text.encode()[: layout.data_end].endswith(b"4,5.5,w\n"), second


def test_a_stray_quote_in_the_header_does_not_swallow_the_table() -> None:
    layout = _layout('"id,price,code\n' + DATA)
    assert layout.raw_names == ['"id', "price", "code"] and layout.data_line == 2
    assert clean_names(layout.raw_names, 3)[0] == ["id", "price", "code"]
