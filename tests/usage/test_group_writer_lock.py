"""Group commit across processes: the batches a process receives while another process holds
the database's write lock are written together once it gets the lock."""

import threading
from contextlib import contextmanager

import pandas as pd

from clm.usage.ingest import writer as ingest_writer


def frame(n: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame({"idempotency_key": [f"{tag}{i}" for i in range(n)]})


class OtherProcessWriting:
    """Stands in for write_lock() while another process writes: the first acquisition waits
    until `release` is set."""

    def __init__(self):
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.acquired = 0

    @contextmanager
    def __call__(self):
        self.acquired += 1
        if self.acquired == 1:
            self.waiting.set()
            assert self.release.wait(5)
        yield


def test_batches_that_arrive_while_another_process_writes_join_the_group(monkeypatch):
    lock = OtherProcessWriting()
    groups = []
    monkeypatch.setattr(ingest_writer, "write_lock", lock)
    monkeypatch.setattr(
        ingest_writer, "store_alone", lambda frames: groups.append(len(frames)) or [len(f) for f in frames]
    )
    writer = ingest_writer.GroupWriter()
    results = {}

    def send(tag, n):
        results[tag] = writer.store(frame(n, tag))

    first = threading.Thread(target=send, args=("a", 1))
    first.start()
    assert lock.waiting.wait(5)  # "a" waits for the other process's write
    others = [threading.Thread(target=send, args=(tag, n)) for tag, n in [("b", 2), ("c", 3)]]
    for t in others:
        t.start()
    while len(writer._queue) < 3:
        threading.Event().wait(0.01)
    lock.release.set()
    for t in [first, *others]:
        t.join(5)
    assert results == {"a": 1, "b": 2, "c": 3}
    assert groups == [3]  # one transaction for the three
