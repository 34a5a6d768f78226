"""Import files read as tables of text, in chunks: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, and
Excel's UTF-16 text) and XLSX. A file that cannot be read raises FileProblem, whose message is for
the user. Rows are numbered as in the file: the header is row 1."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from django.utils.translation import gettext_noop

from clm.core.text import gettext as _

SNIFF_BYTES = 64 * 1024
# Workbooks larger than this are streamed (openpyxl's read-only mode: bounded memory, slower);
# calamine, fast, loads a whole sheet into memory (tens of bytes a cell).
XLSX_STREAM_BYTES = 16 * 1024 * 1024
DECODE_BLOCK = 1 << 20
TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ""}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
BINARY_MAGIC = {
    b"%PDF": gettext_noop("a PDF document"),
    b"\x89PNG": gettext_noop("a PNG image"),
    b"GIF8": gettext_noop("a GIF image"),
    b"\xff\xd8\xff": gettext_noop("a JPEG image"),
    b"\x1f\x8b": gettext_noop("a gzip archive"),
    b"{\\rtf": gettext_noop("an RTF document"),
    b"7z\xbc\xaf": gettext_noop("a 7-Zip archive"),
    b"Rar!": gettext_noop("a RAR archive"),
}


class FileProblem(Exception):
    """The file cannot be read as a table; the message says why, for the user."""


def unreadable_xlsx(name: str, exc: Exception) -> str:
    return _("%(name)s is not a readable XLSX workbook (is it truncated or damaged?): %(error)s") % {
        "name": name, "error": exc,
    }


@dataclass
class Chunk:
    frame: pd.DataFrame  # text cells ("" when empty); columns 0..n-1; index: row numbers in the file
    done: int  # progress so far, in Table.unit


@dataclass
class Table:
    path: Path
    name: str
    format: str  # "csv" or "xlsx"
    header: list[str]
    total: int  # the size of the work, in `unit`
    unit: str  # "bytes" or "rows"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1
    _workbook: object = field(default=None, repr=False)
    streamed: bool = False  # XLSX read row by row from the file (large workbooks)

    def chunks(self, size: int = 50_000) -> Iterator[Chunk]:
        if self.format == "csv":
            yield from _csv_chunks(self, size)
        elif self.streamed:
            yield from _streamed_xlsx_chunks(self, size)
        else:
            yield from _xlsx_chunks(self, size)


def open_table(path: str | Path, name: str | None = None) -> Table:
    """Recognise the file by its content (and name), detect the encoding and read the header."""
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower()
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise FileProblem(_("%(name)s cannot be opened: %(error)s") % {"name": name, "error": exc.strerror or exc}) from None
    if size == 0 or not head.strip():
        raise FileProblem(_("%(name)s is empty") % {"name": name})
    if head.startswith(b"PK\x03\x04"):
        return _open_streamed_xlsx(path, name) if size > XLSX_STREAM_BYTES else _open_xlsx(path, name)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(_(
            "%(name)s is an old-style Excel .xls workbook (or another legacy Office file): "
            "open it in Excel or WPS and save it as .xlsx or CSV"
        ) % {"name": name})
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise FileProblem(_("%(name)s is neither a CSV nor an XLSX file: it is %(what)s") % {"name": name, "what": _(what)})
    if suffix in XLSX_SUFFIXES:
        raise FileProblem(_("%(name)s is not a valid XLSX workbook (is it truncated or damaged?)") % {"name": name})
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if b"\x00" in head and not utf16:
        raise FileProblem(_("%(name)s is neither a CSV nor an XLSX file: it holds binary data") % {"name": name})
    if suffix not in TEXT_SUFFIXES:
        raise FileProblem(_("%(name)s is neither a CSV nor an XLSX file: expected a .csv or .xlsx file, not %(suffix)s") % {
            "name": name, "suffix": suffix,
        })
    encoding = "utf-16" if utf16 else detect_encoding(path, name)
    return _open_csv(path, name, encoding, size)


def detect_encoding(path: Path, name: str) -> str:
    """utf-8-sig if the whole file decodes strictly as UTF-8, else gb18030 (a superset of GBK, what
    Excel writes on Chinese Windows) if it decodes as that; anything else is refused."""
    failures = []
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        offset = 0
        try:
            with open(path, "rb") as fh:
                while block := fh.read(DECODE_BLOCK):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            failures.append(offset + exc.start)
    raise FileProblem(_(
        "%(name)s is not text in UTF-8 or GBK/GB18030 (undecodable bytes at offset %(offset)s): "
        "save it as CSV UTF-8 or as .xlsx"
    ) % {"name": name, "offset": min(failures)})


def _open_csv(path: Path, name: str, encoding: str, size: int) -> Table:
    with open(path, encoding=encoding, newline="") as fh:
        sample = fh.read(SNIFF_BYTES)
    first_line = sample.split("\n", 1)[0]
    delimiter = max((",", ";", "\t", "|"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    except (StopIteration, csv.Error):
        header = []
    header = [h.strip() for h in header]
    if not any(header):
        raise FileProblem(_("%(name)s is empty: its first row should name the columns") % {"name": name})
    return Table(path, name, "csv", header, size, "bytes", encoding=encoding, delimiter=delimiter)


def _csv_chunks(table: Table, size: int) -> Iterator[Chunk]:
    with open(table.path, "rb") as fh:
        try:
            reader = pd.read_csv(
                fh,
                sep=table.delimiter,
                header=0,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                chunksize=size,
                encoding=table.encoding,
                engine="c",
            )
            row = 2
            for frame in reader:
                frame = frame.set_axis(range(frame.shape[1]), axis=1).set_axis(range(row, row + len(frame)), axis=0)
                row += len(frame)
                yield Chunk(frame, fh.tell())
        except pd.errors.ParserError as exc:
            raise FileProblem(_("%(name)s is not a well-formed CSV file: %(error)s") % {
                "name": table.name, "error": _parser_message(exc),
            }) from None
        except pd.errors.EmptyDataError:
            return


def _parser_message(exc: Exception) -> str:
    text = str(exc)
    return text.split("C error: ", 1)[-1].strip() if "C error" in text else text.strip()


def _open_xlsx(path: Path, name: str) -> Table:
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = [m for m in workbook.sheets_metadata if str(m.visible).endswith("Visible")] or workbook.sheets_metadata
        sheet = None
        for meta in sheets:
            candidate = workbook.get_sheet_by_name(meta.name)
            if candidate.height and candidate.width:
                sheet = candidate
                break
    except PasswordError:
        raise FileProblem(_("%(name)s is password-protected: remove the password and try again") % {"name": name}) from None
    except Exception as exc:  # calamine raises its own zip/XML errors for damaged files
        raise FileProblem(unreadable_xlsx(name, exc)) from None
    if sheet is None:
        raise FileProblem(_("%(name)s is empty: its first sheet has no cells") % {"name": name})
    header_row, header = None, []
    for offset, cells in enumerate(sheet.iter_rows()):  # from the sheet's first row, empty or not
        if any(cell_text(c) for c in cells):
            header_row, header = offset + 1, [cell_text(c) for c in cells]
            break
    if header_row is None:
        raise FileProblem(_("%(name)s is empty: its first sheet has no cells") % {"name": name})
    total = sheet.start[0] + sheet.height - header_row
    return Table(path, name, "xlsx", header, total, "rows", sheet=sheet.name, header_row=header_row, _workbook=workbook)


def _xlsx_chunks(table: Table, size: int) -> Iterator[Chunk]:
    sheet = table._workbook.get_sheet_by_name(table.sheet)
    row = 1
    batch, first, done = [], None, 0
    width = len(table.header)
    for cells in sheet.iter_rows():
        if row > table.header_row:
            if first is None:
                first = row
            batch.append(cells[:width] + [""] * (width - len(cells)))
            if len(batch) == size:
                done += len(batch)
                yield Chunk(_text_frame(batch, first), done)
                batch, first = [], None
        row += 1
    if batch:
        done += len(batch)
        yield Chunk(_text_frame(batch, first), done)


def _open_streamed_xlsx(path: Path, name: str) -> Table:
    """A large workbook, opened without loading its sheets: only the header is read now."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheets = [ws for ws in workbook.worksheets if ws.sheet_state == "visible"] or workbook.worksheets
        found = None
        for sheet in sheets:
            for offset, cells in enumerate(sheet.iter_rows(values_only=True)):
                texts = [cell_text(_calamine_like(c)) for c in cells]
                if any(texts):
                    found = sheet, offset + 1, texts
                    break
            if found:
                break
    except Exception as exc:  # zip, XML and openpyxl's own errors for damaged files
        raise FileProblem(unreadable_xlsx(name, exc)) from None
    if found is None:
        workbook.close()
        raise FileProblem(_("%(name)s is empty: its first sheet has no cells") % {"name": name})
    sheet, header_row, header = found
    total = max((sheet.max_row or 0) - header_row, 0)  # from the sheet's dimension, if it has one
    title = sheet.title
    workbook.close()
    return Table(path, name, "xlsx", header, total, "rows", sheet=title, header_row=header_row, streamed=True)


def _streamed_xlsx_chunks(table: Table, size: int) -> Iterator[Chunk]:
    from openpyxl import load_workbook

    width = len(table.header)
    batch, first, done = [], None, 0
    workbook = None
    try:
        workbook = load_workbook(table.path, read_only=True, data_only=True)
        rows = workbook[table.sheet].iter_rows(min_row=table.header_row + 1, values_only=True)
        for row, cells in enumerate(rows, start=table.header_row + 1):
            if first is None:
                first = row
            cells = [_calamine_like(c) for c in cells[:width]]
            batch.append(cells + [""] * (width - len(cells)))
            if len(batch) == size:
                done += len(batch)
                yield Chunk(_text_frame(batch, first), done)
                batch, first = [], None
    except FileProblem:
        raise
    except Exception as exc:
        raise FileProblem(unreadable_xlsx(table.name, exc)) from None
    finally:
        if workbook is not None:
            workbook.close()
    if batch:
        done += len(batch)
        yield Chunk(_text_frame(batch, first), done)


def _calamine_like(value):
    """openpyxl's value as calamine gives it (a date-time at midnight is a date), so both
    readers give the same text."""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value


def _text_frame(rows: list[list], first: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, index=range(first, first + len(rows)), dtype=object)
    return frame.apply(lambda column: column.map(cell_text))


def cell_text(value) -> str:
    """A spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return format(value.total_seconds(), "g")
    return str(value).strip()
