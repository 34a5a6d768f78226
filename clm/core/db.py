"""Writes the database refuses for a moment: PostgreSQL picks a deadlock victim or fails a
serializable transaction, SQLite gives up waiting for its one writer. The first two are retried
whole (in one transaction, so a retry starts from nothing written); what still fails is "busy",
which the API and the web answer with 503 and Retry-After, never 500."""

import random
import time
from functools import wraps

import psycopg
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, transaction

RETRYABLE_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure
ATTEMPTS = 4
RETRY_AFTER_SECONDS = 2


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | psycopg.OperationalError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def is_busy(exc: BaseException) -> bool:
    """A write that may succeed if sent again: retryable, or SQLite's writer lock not obtained."""
    if is_retryable(exc):
        return True
    # "is locked": another connection holds the file's write lock (SQLITE_BUSY); "table is
    # locked": the same in a shared-cache database, as the test suite's in-memory one (SQLITE_LOCKED)
    return isinstance(exc, OperationalError) and any(m in str(exc) for m in ("database is locked", "database table is locked"))


def run_retrying(func, *args, attempts: int | None = None, **kwargs):
    """func(*args, **kwargs) in one transaction, run again (up to `attempts` times, after a short
    random pause) when PostgreSQL aborts it as a deadlock victim or serialization failure. func
    must have no side effect outside the database before it returns: domain events and tasks
    are sent on commit, so a rolled-back attempt sends nothing."""
    attempts = attempts or ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except (OperationalError, psycopg.OperationalError) as exc:
            if attempt == attempts or not is_retryable(exc) or connection.in_atomic_block:
                raise
        time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def manages_own_transactions(view) -> bool:
    """Marked with django.db.transaction.non_atomic_requests: the view commits as it goes (an
    import's job row, event batches written in groups), so it is neither wrapped nor retried."""
    return DEFAULT_DB_ALIAS in getattr(view, "_non_atomic_requests", ())


def retrying(view):
    """A request handler that writes, run by run_retrying on PostgreSQL. On SQLite a transaction
    takes the one writer's lock at BEGIN (transaction_mode IMMEDIATE), so writers queue instead
    of deadlocking, and the handler runs as it is."""
    if manages_own_transactions(view):
        return view

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if connection.vendor != "postgresql":
            return view(request, *args, **kwargs)
        first = [True]

        def attempt():
            if not first[0]:
                rewind_uploads(request)
            first[0] = False
            return view(request, *args, **kwargs)

        return run_retrying(attempt)

    return wrapped


def rewind_uploads(request) -> None:
    """Uploaded files read by a failed attempt are read again from their start."""
    for uploaded in getattr(request, "_files", {}).values():
        uploaded.seek(0)
