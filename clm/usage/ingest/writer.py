"""Writing checked batches: one writer at a time on SQLite, and group commit (GroupWriter), with
a retry when PostgreSQL picks a transaction as a deadlock victim."""

import os
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass

import pandas as pd
import psycopg
from django.db import OperationalError, connection, transaction

from clm.usage.ingest.decode import MAX_EVENTS
from clm.usage.services import store_events

try:
    import fcntl
except ImportError:  # Windows: threads still queue; processes fall back on SQLite's busy handler
    fcntl = None

RETRYABLE = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure


class SqliteWriter:
    """SQLite has one writer at a time. The server's threads queue for it on a lock, and its
    processes (clm serve --workers) on a lock file beside the database: SQLite's own busy handler
    sleeps and polls, which halved the throughput of two concurrent clients."""

    def __init__(self):
        self._thread = threading.Lock()
        self._pid = None
        self._fd = None

    def _file(self) -> int | None:
        if self._pid != os.getpid():  # a forked worker opens its own (flock is per open file)
            self._pid, self._fd = os.getpid(), None
            name = str(connection.settings_dict["NAME"])
            if fcntl is not None and os.path.isfile(name):
                self._fd = os.open(name + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __enter__(self):
        self._thread.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


SQLITE_WRITER = SqliteWriter()


def store(frame: pd.DataFrame) -> int:
    """Store a checked batch (events are rolled up later); returns how many were new."""
    return GROUP_WRITER.store(frame)


def write_lock():
    """What a process holds while it writes events: on SQLite the database's one writer
    (SQLITE_WRITER); PostgreSQL needs none."""
    return SQLITE_WRITER if connection.vendor == "sqlite" else nullcontext()


def store_alone(frames: list[pd.DataFrame], attempts: int = 4) -> list[int]:
    """store_events for each frame, all in one transaction, retried when PostgreSQL picks it as
    a deadlock victim (concurrent batches insert the same keys). Retrying is safe: the
    transaction is idempotent. The caller holds write_lock() (GroupWriter does)."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return [store_events(frame, roll_up=False).stored for frame in frames]
        except (OperationalError, psycopg.OperationalError) as exc:
            sqlstate = getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)
            if attempt == attempts - 1 or sqlstate not in RETRYABLE:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


@dataclass
class _Pending:
    frame: pd.DataFrame
    stored: int = 0
    error: BaseException | None = None
    done: bool = False


class GroupWriter:
    """Group commit: the batches that concurrent requests of one process bring while a write is
    under way are stored together, in one transaction. A commit writes every index page the
    batch touched, and a batch of events for hundreds of accounts touches hundreds of pages: in
    one transaction, batches share them (on SQLite, a commit of one batch into a table of 200,000
    events cost 20 ms, of four batches 7 ms each). The first waiting request writes the group
    and the others wait for it; each answers only after its events are committed. The group is
    taken once the writer holds write_lock(), so the batches that arrive while another process
    writes join it. If the group's transaction fails, each batch is retried alone, so one batch
    cannot fail another."""

    def __init__(self, max_events: int = MAX_EVENTS, max_batches: int = 8):
        self.max_events, self.max_batches = max_events, max_batches
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False

    def store(self, frame: pd.DataFrame) -> int:
        mine = _Pending(frame)
        with self._cond:
            self._queue.append(mine)
            while not mine.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                self._cond.release()
                try:
                    with write_lock():
                        with self._cond:
                            group = self._take()
                        self._write(group)
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _take(self) -> list[_Pending]:
        group, events = [], 0
        while self._queue and len(group) < self.max_batches:
            if group and events + len(self._queue[0].frame) > self.max_events:
                break
            group.append(self._queue.pop(0))
            events += len(group[-1].frame)
        return group

    def _write(self, group: list[_Pending]) -> None:
        try:
            stored = store_alone([p.frame for p in group])
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                for pending in group:
                    try:
                        (pending.stored,) = store_alone([pending.frame])
                    except Exception as alone:  # noqa: BLE001 (handed to its own request)
                        pending.error = alone
        else:
            for pending, count in zip(group, stored, strict=True):
                pending.stored = count
        for pending in group:
            pending.done = True


GROUP_WRITER = GroupWriter()
