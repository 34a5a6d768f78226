"""INSERT ... ON CONFLICT for the bulk paths (imports, event ingestion): multi-row VALUES on
SQLite, COPY into a staging table on PostgreSQL. SQL is built from model metadata and column names, never from user values."""

import zlib
from collections.abc import Iterable, Sequence
from contextlib import closing
from itertools import chain

from django.db import connection, models, transaction

# SQLite allows 32,766 bound variables per statement (since 3.32).
MAX_VARIABLES = 32000


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    add: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert rows; on a conflict on `conflict` columns, do nothing, or set `update` columns to the
    new values and increase `add` columns by them. Returns the `returning` columns of the rows
    actually inserted or updated (with do-nothing, only the new ones)."""
    return _insert(model, columns, rows, conflict, update, add, returning)[0]


def insert_count(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    add: Sequence[str] = (),
) -> int:
    """As insert, returning only how many rows were inserted or updated (cheaper than RETURNING)."""
    return _insert(model, columns, rows, conflict, update, add, ())[1]


def _insert(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple], int]:
    rows = list(rows)
    if not rows:
        return [], 0
    if connection.vendor == "postgresql":
        return _insert_by_copy(model, columns, rows, conflict, update, add, returning)
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sql = f"INSERT INTO {table(model)} ({', '.join(map(quote, columns))}) VALUES "
    tail = _on_conflict(model, conflict, update, add, returning)
    per_statement = max(1, MAX_VARIABLES // len(columns))
    out: list[tuple] = []
    count = 0
    connection.ensure_connection()
    # The driver's own cursor: Django's wrapper would rewrite every placeholder of every statement.
    with closing(connection.connection.cursor()) as cursor:
        full = None
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            if len(chunk) < per_statement or full is None:
                statement = sql + ", ".join([one] * len(chunk)) + tail
                if len(chunk) == per_statement:
                    full = statement
            else:
                statement = full
            cursor.execute(statement, list(chain.from_iterable(chunk)))
            if returning:
                out.extend(cursor.fetchall())
            else:
                count += cursor.rowcount
    return out, len(out) if returning else count


def _on_conflict(model, conflict, update, add, returning) -> str:
    tail = ""
    if conflict:
        target = ", ".join(map(quote, conflict))
        sets = [f"{quote(c)} = excluded.{quote(c)}" for c in update]
        sets += [f"{quote(c)} = {table(model)}.{quote(c)} + excluded.{quote(c)}" for c in add]
        tail = f" ON CONFLICT ({target}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    if returning:
        tail += " RETURNING " + ", ".join(map(quote, returning))
    return tail


def _insert_by_copy(model, columns, rows, conflict, update, add, returning) -> tuple[list[tuple], int]:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT. Binding tens
    of thousands of parameters client-side costs more than the database's work."""
    names = ", ".join(map(quote, columns))
    # One staging table per column list: a transaction may insert the same model with other columns.
    staging = quote(f"_bulk_{model._meta.db_table}_{zlib.crc32(names.encode()):08x}")
    with transaction.atomic(), closing(connection.connection.cursor()) as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
                       f"SELECT {names} FROM {table(model)} WITH NO DATA")
        cursor.execute(f"TRUNCATE {staging}")
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table(model)} ({names}) SELECT {names} FROM {staging}"
            + _on_conflict(model, conflict, update, add, returning)
        )
        if returning:
            out = cursor.fetchall()
            return out, len(out)
        return [], cursor.rowcount
