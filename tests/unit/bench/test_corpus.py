"""The real-file corpus's registry and its record splitter (bench/corpus), without the bench
extra: nothing here reads a package's data or imports pandas."""

from __future__ import annotations

import gzip

from bench.corpus import TASKS, datasets
from bench.corpus.records import Format, read_table, write_subset
from conveyor.projects import validate_name


def test_registry_names_each_data_set_once_with_a_target_task_and_traits() -> None:
    entries = datasets()
    assert len(entries) >= 30
    assert len({d.name for d in entries}) == len(entries)
    assert len({d.filename for d in entries}) == len(entries)
    for d in entries:
        assert validate_name(d.project) == d.project
        assert d.task in TASKS and d.target and d.traits and d.source


def test_registry_covers_the_issue_s_spreadsheet_variants() -> None:
    formats = {d.name: d.fmt for d in datasets()}
    assert formats["diamonds_semicolon"].delimiter == ";"
    assert formats["diamonds_bom_crlf"].encoding == "utf-8-sig"
    assert formats["senators_cp1252"].encoding == "cp1252"
    assert formats["diamonds_xlsx"].excel
    assert formats["diamonds_gzip"].compression == "gzip"
    assert formats["diamonds_title"].preamble == 1


def test_a_subset_keeps_the_file_s_bom_line_ends_quoting_and_title_line() -> None:
    shipped = 'Sales 2024;;\r\nname;"note";price\r\na;"two\r\nlines";1,5\r\nb;x;2\r\nc;"y";3\r\n'
    fmt = Format(encoding="utf-8-sig", delimiter=";", preamble=1)
    table = read_table(shipped.encode("utf-8-sig"), fmt)
    assert table.header == ["name", "note", "price"]
    assert table.rows([0]) == [{"name": "a", "note": "two\r\nlines", "price": "1,5"}]
    kept = write_subset(table, [0, 2], fmt)
    expected = 'Sales 2024;;\r\nname;"note";price\r\na;"two\r\nlines";1,5\r\nc;"y";3\r\n'
    assert kept == expected.encode("utf-8-sig")


def test_a_gzip_file_s_subset_is_gzip_again_and_r_row_names_have_no_key() -> None:
    shipped = b'"","x","y"\n"1",1,"a"\n"2",2,"b"\n"3",3,"c"'
    fmt = Format(compression="gzip")
    table = read_table(gzip.compress(shipped), fmt)
    assert table.rows([2]) == [{"x": "3", "y": "c"}]
    kept = gzip.decompress(write_subset(table, [0, 2], fmt))
    assert kept == b'"","x","y"\n"1",1,"a"\n"3",3,"c"\n'
