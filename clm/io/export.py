"""Export of every importable kind to CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX, read
in chunks and written as it goes, limited to the records the user may see (clm.core.access).

The columns are the importer's own headers, so an exported file imports back onto the same
records: a record is named by its external id, or "clm:<id>" when it has none (created in CLM),
and a reference by the referenced record's external id when it comes from the same source system
as the row, else by "clm:<id>"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from clm.commerce.models import OrderLine
from clm.core.access import visible_records
from clm.core.parsers import quote_formula
from clm.io.kinds import (
    BOOL,
    CLM_ID_PREFIX,
    DATETIME,
    KEY,
    LIST,
    PIPELINE,
    REF,
    TAGS,
    USER,
    Field,
    Kind,
    get_kind,
)

CHUNK = 20_000


class ExportError(ValueError):
    pass


def exported_fields(kind: Kind) -> list[Field]:
    """The columns: every field but the virtual inputs (first/last name, ARR)."""
    return [f for f in kind.fields if not f.virtual or f.name == "source"]


def header(kind: Kind) -> list[str]:
    return [f.header for f in exported_fields(kind)]


def _lookups(kind: Kind, fields: list[Field], prefix: str = "") -> list[str]:
    out = ["pk"]
    if kind.imported:
        out += [f"{prefix}source", f"{prefix}external_id"]
    elif "source" in kind.by_name:  # usage events: the account's source system
        out += [f"{prefix}account__source"]
    for f in fields:
        if f.name in ("source", "external_id") or f.line or f.type == TAGS:
            continue
        if f.type == REF:
            out += [f"{prefix}{f.name}_id", f"{prefix}{f.name}__source", f"{prefix}{f.name}__external_id"]
        elif f.type == USER:
            out.append(f"{prefix}{f.name}__username")
        elif f.type == PIPELINE:
            out.append(f"{prefix}{f.name}__key")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def _record_key(pk, source, external_id) -> str:
    return external_id if external_id and source else f"{CLM_ID_PREFIX}{pk}"


def _reference(pk, source, external_id, row_source) -> str:
    if pk is None:
        return ""
    return external_id if external_id and source and source == row_source else f"{CLM_ID_PREFIX}{pk}"


def _queryset(kind: Kind, user):
    queryset = kind.model.objects.all() if user is None else visible_records(kind.model, user)
    return queryset.order_by("pk")


def rows(kind: Kind | str, user=None, chunk: int = CHUNK) -> Iterator[list[list]]:
    """Chunks of rows of typed values (dates, Decimals, ...), the header not included. user=None
    exports everything, as an administrator would."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    fields = exported_fields(kind)
    lookups = _lookups(kind, fields)
    if kind.name == "orders":
        lookups += ["amount", "cost"]  # the totals, for orders made in CLM without lines
    queryset = _queryset(kind, user)
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).values_list(*lookups)[:chunk])
        if not batch:
            return
        last = batch[-1][0]
        if kind.name == "orders":
            yield _order_rows(kind, fields, lookups, batch)
        else:
            tags = _tags(kind, [values[0] for values in batch])
            yield [_row(kind, fields, lookups, values, tags=tags) for values in batch]


def _tags(kind: Kind, ids: list[int]) -> dict[int, str]:
    """Each record's tags as "category:value; ..." (one query per chunk)."""
    if not any(f.type == TAGS for f in kind.fields):
        return {}
    m2m = kind.model._meta.get_field("tags")
    through, own = m2m.remote_field.through, m2m.m2m_column_name()
    out: dict[int, list[str]] = {}
    query = through.objects.filter(**{f"{own}__in": ids}).order_by("tag__category__name", "tag__value")
    for pk, category, value in query.values_list(own, "tag__category__name", "tag__value"):
        out.setdefault(pk, []).append(f"{category}:{value}")
    return {pk: "; ".join(names) for pk, names in out.items()}


def _row(kind: Kind, fields: list[Field], lookups: list[str], values: tuple, line: dict | None = None,
         tags: dict[int, str] | None = None) -> list:
    record = dict(zip(lookups, values, strict=True))
    row_source = record.get("source", record.get("account__source", "")) or ""
    out = []
    for f in fields:
        if f.name == "source":
            value = row_source
        elif f.type == KEY:
            value = _record_key(record["pk"], record["source"], record["external_id"])
        elif f.line:
            value = line.get(f.name) if line else None
            if f.type == REF:
                value = _reference(*line["product"], row_source) if line and line["product"][0] else ""
        elif f.type == REF:
            value = _reference(record[f"{f.name}_id"], record[f"{f.name}__source"], record[f"{f.name}__external_id"], row_source)
        elif f.type == USER:
            value = record[f"{f.name}__username"] or ""
        elif f.type == PIPELINE:
            value = record[f"{f.name}__key"] or ""
        elif f.type == TAGS:
            value = (tags or {}).get(record["pk"], "")
        else:
            value = record[f.name]
            if f.type == LIST:
                value = "; ".join(map(str, value or []))
            elif isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            elif f.type == BOOL and value is not None:
                value = "yes" if value else "no"
            elif f.type == DATETIME and value is not None:
                value = timezone.localtime(value).replace(tzinfo=None)
        out.append(value)
    return out


def _order_rows(kind: Kind, fields, lookups, batch) -> list[list]:
    """One row per order line; an order without lines (made in CLM) is one row with its totals."""
    ids = [values[0] for values in batch]
    lines: dict[int, list[dict]] = {}
    query = OrderLine.objects.filter(order_id__in=ids).order_by("order_id", "line_no").values_list(
        "order_id", "line_no", "product_id", "product__source", "product__external_id", "quantity", "amount", "cost"
    )
    for order_id, line_no, pid, psource, pext, quantity, amount, cost in query:
        lines.setdefault(order_id, []).append(
            {"line_no": line_no, "product": (pid, psource, pext), "quantity": quantity, "amount": amount, "cost": cost}
        )
    out = []
    for values in batch:
        order_lines = lines.get(values[0])
        if not order_lines:
            order = dict(zip(lookups, values, strict=True))
            order_lines = [{"line_no": 1, "product": (None, None, None), "quantity": Decimal("1"),
                            "amount": order["amount"], "cost": order["cost"]}]
        out.extend(_row(kind, fields, lookups, values, line) for line in order_lines)
    return out


def text(value) -> str:
    """A value as CSV text the importer reads back unchanged; text that a spreadsheet would run
    as a formula is quoted (numbers, negative ones included, are not)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | Decimal):
        return str(value)
    return quote_formula(str(value))


def cell(value):
    """A value as an XLSX cell: numbers and dates typed, the rest text, quoted as in text()."""
    if isinstance(value, Decimal):
        return float(value)
    if value is None:
        return None
    if isinstance(value, int | float | dt.date):
        return value
    return quote_formula(str(value))


def csv_chunks(kind: Kind | str, user=None) -> Iterator[bytes]:
    """The CSV file in pieces, for streaming over HTTP: a BOM and the header, then chunk by chunk."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(kind))
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for chunk in rows(kind, user):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([text(v) for v in row] for row in chunk)
        yield buffer.getvalue().encode()


def write_xlsx(kind: Kind | str, target, user=None) -> int:
    """Write an XLSX workbook (openpyxl's write-only mode: rows are not kept in memory)."""
    from openpyxl import Workbook

    kind = get_kind(kind) if isinstance(kind, str) else kind
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind.name)
    sheet.append(header(kind))
    count = 0
    for chunk in rows(kind, user):
        for row in chunk:
            sheet.append([cell(v) for v in row])
        count += len(chunk)
    workbook.save(target)
    return count


def export_file(kind: Kind | str, path: str | Path, user=None) -> int:
    """Export to a .csv or .xlsx file (by its extension); returns the number of rows."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return write_xlsx(kind, path, user)
    if suffix != ".csv":
        raise ExportError(f"{path.name}: export to a .csv or .xlsx file")
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header(kind))
        for chunk in rows(kind, user):
            writer.writerows([text(v) for v in row] for row in chunk)
            count += len(chunk)
    return count


def content_type(fmt: str) -> str:
    return {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]



def table_csv(header: list[str], body: list[list]) -> bytes:
    """A small table (a report's numbers) as CSV with a BOM for spreadsheets, cells as text()."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([text(v) for v in line] for line in body)
    return "\ufeff".encode() + buffer.getvalue().encode()


def table_xlsx(header: list[str], body: list[list], sheet_name: str) -> bytes:
    """A small table as an XLSX workbook of one sheet, cells as cell()."""
    import io

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name[:31])
    sheet.append(header)
    for line in body:
        sheet.append([cell(v) for v in line])
    target = io.BytesIO()
    workbook.save(target)
    return target.getvalue()
