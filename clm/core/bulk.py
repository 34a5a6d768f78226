"""Multi-row INSERT ... ON CONFLICT for the bulk paths (imports, event ingestion), on SQLite and
PostgreSQL alike. SQL is built from model metadata and column names, never from user values."""

from collections.abc import Iterable, Sequence
from contextlib import closing

from django.db import connection, models

# SQLite allows 32,766 bound variables per statement (since 3.32), PostgreSQL 65,535.
MAX_VARIABLES = 32000


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def placeholder(model: type[models.Model], column: str) -> str:
    """%s, with a cast where PostgreSQL will not take text for the column's type."""
    if connection.vendor == "sqlite":
        return "?"
    if connection.vendor == "postgresql":
        field = next(f for f in model._meta.concrete_fields if f.column == column)
        if isinstance(field, models.JSONField):
            return "CAST(%s AS jsonb)"
    return "%s"


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
    rows = list(rows)
    if not rows:
        return []
    one = "(" + ", ".join(placeholder(model, c) for c in columns) + ")"
    sql = f"INSERT INTO {table(model)} ({', '.join(map(quote, columns))}) VALUES "
    tail = ""
    if conflict:
        target = ", ".join(map(quote, conflict))
        sets = [f"{quote(c)} = excluded.{quote(c)}" for c in update]
        sets += [f"{quote(c)} = {table(model)}.{quote(c)} + excluded.{quote(c)}" for c in add]
        tail = f" ON CONFLICT ({target}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    if returning:
        tail += " RETURNING " + ", ".join(map(quote, returning))
    per_statement = max(1, MAX_VARIABLES // len(columns))
    out: list[tuple] = []
    connection.ensure_connection()
    # The driver's own cursor: Django's wrapper would rewrite every placeholder of every statement.
    with closing(connection.connection.cursor()) as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [value for row in chunk for value in row]
            cursor.execute(sql + ", ".join([one] * len(chunk)) + tail, params)
            if returning:
                out.extend(cursor.fetchall())
    return out
