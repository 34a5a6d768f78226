"""A staged import applied in chunks on SQLite, all or nothing all the same.

SQLite has one writer at a time: an apply in one transaction keeps every other writer waiting
until it ends. So on SQLite each staged chunk is applied in a transaction of its own, and other
writers get the lock between chunks. While the chunks go in, temporary triggers on this
connection (and only this one: TEMP triggers do not fire for other connections' writes) record
in ApplyJournal, in the same transaction as the change, how to undo each row the import wrote:
the rowid of an inserted row, the old values (as SQL literals, by quote()) of an updated or
deleted one. If a chunk fails, the chunks already committed are undone from the journal in one
transaction, newest first, and the import reports that nothing was written. The journal's first
row (BEGUN) goes with the last chunk: from then on the import is in whole, and the rest of the
journal is deleted in parts.

If the process dies half way (kill -9, power), the journal is still in the database: the next
import (`recover`) undoes every apply whose process is gone. Between chunks other users may see
the rows applied so far; a record they change meanwhile and that the import also changed is put
back to what it was before the import, if the import is undone.

PostgreSQL locks rows, not the database: there the apply stays one transaction."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable

from django.db import connection, transaction

from clm.io.models import ApplyJournal

JOURNAL = ApplyJournal._meta.db_table
BEGUN = "B"  # the journal's first row of an apply, holding its process id


def chunked() -> bool:
    """Whether applies go in chunks here (SQLite); elsewhere they stay one transaction."""
    return connection.vendor == "sqlite"


def _tables(cursor) -> list[tuple[str, list[str]]]:
    """Every table but the journal's own and Django's bookkeeping, with its columns (one query)."""
    cursor.execute(
        "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c"
        " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%%'"
        " AND m.name NOT IN (%s, 'django_migrations', 'django_session') ORDER BY m.name, c.cid",
        [JOURNAL],
    )
    out: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        out.setdefault(table, []).append(column)
    return list(out.items())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Journal:
    """One apply's journal: `begin`, then `chunk` per staged chunk (each its own transaction),
    then `finish`; `undo` on any failure."""

    def __init__(self):
        self.id = uuid.uuid4().hex
        self.triggers: list[str] = []

    def begin(self) -> None:
        with transaction.atomic():
            ApplyJournal.objects.create(apply=self.id, op=BEGUN, rid=os.getpid(), tbl="", old="")
        with connection.cursor() as cursor:
            drop_triggers(cursor)  # of an apply on this connection that ended without its finish or undo
            for table, columns in _tables(cursor):
                old = " || ',' || ".join(f"quote(OLD.{_q(c)})" for c in columns)
                head = f"INSERT INTO {_q(JOURNAL)} (apply, op, tbl, rid, old) VALUES ({_literal(self.id)}"
                for op, event, values in (
                    ("I", "INSERT", "NEW.rowid, ''"),
                    ("U", "UPDATE", f"OLD.rowid, {old}"),
                    ("D", "DELETE", f"OLD.rowid, {old}"),
                ):
                    name = f"clm_journal_{op}_{table}"
                    cursor.execute(
                        f"CREATE TEMP TRIGGER {_q(name)} AFTER {event} ON main.{_q(table)}"
                        f" BEGIN {head}, '{op}', {_literal(table)}, {values}); END"
                    )
                    self.triggers.append(name)

    def chunk(self, apply: Callable[[], None]) -> None:
        """Apply one chunk in its own transaction, journalled."""
        with transaction.atomic():
            apply()

    def finish(self, last: Callable[[], None] | None = None) -> None:
        """The last step (if any) and the end of the journal's first row, in one transaction:
        once this commits, the import is in whole. The rest of the journal, now nobody's, goes
        after, in parts that each hold the lock briefly."""
        with transaction.atomic():
            if last:
                last()
            self._drop_triggers()
            ApplyJournal.objects.filter(apply=self.id, op=BEGUN).delete()
        purge(self.id)

    def undo(self) -> None:
        self._drop_triggers()
        undo(self.id)

    def _drop_triggers(self) -> None:
        with connection.cursor() as cursor:
            for name in self.triggers:
                cursor.execute(f"DROP TRIGGER IF EXISTS temp.{_q(name)}")
        self.triggers = []


def drop_triggers(cursor) -> None:
    cursor.execute("SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND name LIKE 'clm_journal_%%'")
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP TRIGGER temp.{_q(name)}")


def undo(apply: str) -> int:
    """Put back every row one apply changed, newest change first, and forget its journal, in one
    transaction. Returns the rows put back."""
    with transaction.atomic(), connection.cursor() as cursor:
        columns = dict(_tables(cursor))
        cursor.execute(
            f"SELECT op, tbl, rid, old FROM {_q(JOURNAL)} WHERE apply = %s AND op != %s ORDER BY id DESC",
            [apply, BEGUN],
        )
        done = 0
        for op, table, rid, old in cursor.fetchall():
            names = ", ".join(map(_q, columns[table]))
            if op == "I":
                cursor.execute(f"DELETE FROM {_q(table)} WHERE rowid = %s", [rid])
            elif op == "U":  # the old values are quote()'s literals: SQL text SQLite itself wrote
                cursor.execute(f"UPDATE {_q(table)} SET ({names}) = ({old}) WHERE rowid = %s", [rid])
            else:
                cursor.execute(f"INSERT INTO {_q(table)} (rowid, {names}) VALUES (%s, {old})", [rid])
            done += 1
        cursor.execute(f"DELETE FROM {_q(JOURNAL)} WHERE apply = %s", [apply])
    return done


def purge(apply: str, rows: int = 5_000) -> None:
    """Delete a finished apply's journal, `rows` at a time, each its own transaction."""
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_q(JOURNAL)} WHERE id IN (SELECT id FROM {_q(JOURNAL)} WHERE apply = %s LIMIT %s)",
                [apply, rows],
            )
            if cursor.rowcount < rows:
                return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unfinished() -> Iterable[tuple[str, int]]:
    return ApplyJournal.objects.filter(op=BEGUN).values_list("apply", "rid")


def recover() -> int:
    """Undo the applies left half way by a process that is gone, and finish the purge of finished
    ones a process left; returns how many were undone."""
    if not chunked():
        return 0
    begun = dict(unfinished())
    for apply in ApplyJournal.objects.exclude(apply__in=begun).values_list("apply", flat=True).distinct():
        purge(apply)
    gone = [apply for apply, pid in begun.items() if pid != os.getpid() and not _alive(pid)]
    if gone:
        with connection.cursor() as cursor:
            drop_triggers(cursor)
    for apply in gone:
        undo(apply)
    return len(gone)
