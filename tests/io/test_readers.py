"""Files as tables: encodings detected, XLSX read, and every file that is not a table refused
with a message that says why."""

import codecs
import datetime as dt

import pandas as pd
import pytest

from clm.io import readers
from clm.io.readers import FileProblem, open_table

ROWS = [["客户编号", "客户名称", "城市"], ["A1", "华为技术有限公司", "深圳"], ["A2", "Acme", "上海"]]


def read_all(path):
    table = open_table(path)
    frames = [chunk.frame for chunk in table.chunks(1000)]
    return table, frames[0] if frames else None


@pytest.mark.parametrize(("encoding", "detected"), [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")])
def test_it_detects_utf8_bom_and_gbk(files, encoding, detected):
    table, frame = read_all(files.csv("accounts.csv", ROWS, encoding=encoding))
    assert table.encoding == detected
    assert table.header == ["客户编号", "客户名称", "城市"]
    assert frame.loc[2].tolist() == ["A1", "华为技术有限公司", "深圳"]


def test_a_bom_does_not_end_up_in_the_first_column_name(files):
    table, _ = read_all(files.csv("bom.csv", ROWS, encoding="utf-8-sig"))
    assert table.header[0] == "客户编号"


def test_non_ascii_far_into_a_file_still_decides_the_encoding(files):
    rows = [["id", "name"]] + [[str(i), "plain ascii"] for i in range(20_000)] + [["x", "客户"]]
    table, _ = read_all(files.csv("late.csv", rows, encoding="gbk"))
    assert table.encoding == "gb18030"


def test_excel_unicode_text_is_read_as_utf16_tab_separated(files):
    path = files.raw("unicode.txt", codecs.BOM_UTF16_LE + "客户编号\t客户名称\nA1\t华为\n".encode("utf-16-le"))
    table, frame = read_all(path)
    assert table.delimiter == "\t" and frame.loc[2].tolist() == ["A1", "华为"]


def test_semicolon_separated_files_from_european_excel(files):
    table, frame = read_all(files.csv("eu.csv", [["id", "amount"], ["1", "1.234,50"]], delimiter=";"))
    assert table.delimiter == ";" and frame.loc[2].tolist() == ["1", "1.234,50"]


def test_rows_are_numbered_as_in_the_file_with_the_header_as_row_1(files):
    path = files.csv("rows.csv", [["a", "b"], ["1", "x"], ["", ""], ["3", "multi\nline"], ["4", "y"]])
    table = open_table(path)
    frames = [chunk.frame for chunk in table.chunks(2)]
    assert [list(f.index) for f in frames] == [[2, 3], [4, 5]]


@pytest.fixture(params=["calamine", "streamed"])
def xlsx_reader(request, monkeypatch):
    """Both XLSX readers: calamine (whole sheet in memory) and, for large workbooks, streamed."""
    if request.param == "streamed":
        monkeypatch.setattr(readers, "XLSX_STREAM_BYTES", 0)
    return request.param


def test_xlsx_cells_become_the_text_a_csv_would_hold(files, xlsx_reader):
    path = files.xlsx("a.xlsx", [
        ["客户编号", "金额", "日期", "时间", "是否"],
        ["A1", 1234.5, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 10, 5), True],
        [13800138000, 3, 45352, None, False],
    ])
    table, frame = read_all(path)
    assert table.format == "xlsx" and table.header == ["客户编号", "金额", "日期", "时间", "是否"]
    assert frame.loc[2].tolist() == ["A1", "1234.5", "2024-03-01", "2024-03-01 10:05:00", "true"]
    assert frame.loc[3].tolist() == ["13800138000", "3", "45352", "", "false"]


def test_xlsx_header_below_empty_rows_keeps_excel_row_numbers(files, xlsx_reader):
    path = files.xlsx("gap.xlsx", [[], [], ["id", "name"], ["A1", "x"]])
    table, frame = read_all(path)
    assert table.header == ["id", "name"] and list(frame.index) == [4]


def problem(path) -> str:
    with pytest.raises(FileProblem) as caught:
        table = open_table(path)
        for _ in table.chunks(1000):
            pass
    return str(caught.value)


def test_a_truncated_xlsx_is_refused(files, xlsx_reader):
    good = files.xlsx("full.xlsx", ROWS).read_bytes()
    message = problem(files.raw("cut.xlsx", good[: len(good) // 2]))
    assert message.startswith("cut.xlsx is not a readable XLSX workbook (is it truncated or damaged?)")


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused(files):
    assert problem(files.raw("fake.xlsx", b"id,name\n1,x\n")) == "fake.xlsx is not a valid XLSX workbook (is it truncated or damaged?)"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("blank.csv", b"\n \n", "blank.csv is empty"),
        ("report.pdf", b"%PDF-1.7 ...", "report.pdf is neither a CSV nor an XLSX file: it is a PDF document"),
        ("logo.csv", b"\x89PNG\r\n\x1a\n....", "logo.csv is neither a CSV nor an XLSX file: it is a PNG image"),
        ("blob.csv", b"id\x00\x01\x02name", "blob.csv is neither a CSV nor an XLSX file: it holds binary data"),
        ("data.json", b'{"id": 1}', "data.json is neither a CSV nor an XLSX file: expected a .csv or .xlsx file, not .json"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls is an old-style Excel .xls workbook"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_the_reason(files, name, data, message):
    assert problem(files.raw(name, data)).startswith(message)


def test_text_in_neither_utf8_nor_gbk_is_refused(files):
    message = problem(files.raw("latin.csv", b"id,name\n1," + bytes([0x80, 0xFF, 0xFF]) + b"\n"))
    assert message.startswith("latin.csv is not text in UTF-8 or GBK/GB18030")


def test_a_row_with_more_values_than_the_header_is_reported(files):
    message = problem(files.raw("bad.csv", b"a,b\n1,2\n1,2,3\n"))
    assert message.startswith("bad.csv is not a well-formed CSV file: Expected 2 fields in line 3, saw 3")


def test_a_large_workbook_is_streamed_in_chunks_with_the_same_rows(files, monkeypatch):
    rows = [["id", "n", "when"]] + [[f"A{i}", i * 1.5, dt.datetime(2024, 1, 1 + i % 28, i % 24)] for i in range(2500)]
    path = files.xlsx("big.xlsx", rows)
    whole = open_table(path)
    expected = pd.concat([c.frame for c in whole.chunks(1000)])
    monkeypatch.setattr(readers, "XLSX_STREAM_BYTES", path.stat().st_size - 1)
    table = open_table(path)
    assert table.streamed and table.header == whole.header and table.total == 2500
    chunks = list(table.chunks(1000))
    assert [len(c.frame) for c in chunks] == [1000, 1000, 500] and chunks[-1].done == 2500
    streamed = pd.concat([c.frame for c in chunks])
    assert streamed.index.tolist() == expected.index.tolist() == list(range(2, 2502))
    assert streamed.to_numpy().tolist() == expected.to_numpy().tolist()
