"""Benchmark: how long other writers wait while a large import runs. A writer sends
`PATCH /api/v1/accounts/{id}` every 100 ms over real HTTP (a threaded WSGI server on 127.0.0.1)
while an accounts file of N rows is imported, twice in the same run on the same database:

- before: the import in one transaction (`one_transaction`, how imports ran until they were
  staged), which on SQLite holds the one writer's lock from the first chunk to the last;
- after: the staged import (clm.io.engine), which reads and checks the file without writing, then
  applies the staged rows chunk by chunk, each in a transaction of its own (journalled so that an
  error undoes them all: clm.io.journal), so the lock is held for one chunk at a time.

It prints each import's total time, the writer's longest and 95th-percentile wait, its answers by
status, and the ratio of the longest waits. Then, on SQLite, it holds the write lock from another
connection and shows what a write that cannot get it answers (503 with Retry-After, never 500).

    python bench/bench_import_lock.py [--rows 200000] [--interval 0.1]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mine python bench/bench_import_lock.py

SQLite by default (a temporary file); with a PostgreSQL URL, a database of its own on that server.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_import import generate_accounts, generate_events  # noqa: E402
from bench.common import setup_django  # noqa: E402


def serve():
    """A threaded WSGI server running CLM on 127.0.0.1 (a free port), in a daemon thread."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def patch(url: str, token: str, body: dict, timeout: float = 120) -> tuple[int, float, dict]:
    """(status, seconds, headers) of one PATCH."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept-Language": "en"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status, time.perf_counter() - started, dict(response.headers)
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, time.perf_counter() - started, dict(exc.headers)


class Writer:
    """PATCHes one account every `interval` seconds (or as soon as the previous answer came back,
    when it took longer) until stopped; keeps each answer's status and wait."""

    def __init__(self, url: str, token: str, interval: float):
        self.url, self.token, self.interval = url, token, interval
        self.answers: list[tuple[int, float]] = []
        self.started: list[float] = []  # when each PATCH was sent (perf_counter)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            self.started.append(time.perf_counter())
            status, seconds, _ = patch(self.url, self.token, {"industry": f"patched {n}"})
            self.answers.append((status, seconds))
            self.stop.wait(max(0.0, self.interval - seconds))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(180)


def figures(answers: list[tuple[int, float]]) -> dict:
    waits = sorted(s for _, s in answers)
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "writes": len(answers),
        "longest_wait_s": round(waits[-1], 3) if waits else None,
        "p95_wait_s": round(waits[int(0.95 * (len(waits) - 1))], 3) if waits else None,
        "statuses": statuses,
    }


def measure(kind: str, path: Path, source: str, one_transaction: bool, url: str, token: str, interval: float) -> dict:
    from clm.io.engine import ImportOptions, import_file

    told = []  # when each chunk was checked; the last call comes when the apply has ended
    with Writer(url, token, interval) as writer:
        time.sleep(3 * interval)  # the writer's own pace before the import starts
        started = time.perf_counter()
        options = ImportOptions(one_transaction=one_transaction, progress=lambda p: told.append(time.perf_counter()))
        if kind == "accounts":  # events name their accounts by the accounts' source
            options.source = source
        report = import_file(kind, path, options)
        seconds = time.perf_counter() - started
        time.sleep(3 * interval)
    if report.status != "done":
        raise SystemExit(f"the import failed: {report.summary()}")
    apply = told[-1] - told[-2] if len(told) > 1 else seconds
    # the PATCHes that were waiting at some moment of the apply (the phase that takes the lock);
    # a long wait outside it is the shared machine (and the import's Python in the server's process)
    applying = [a for a, sent in zip(writer.answers, writer.started, strict=True)
                if sent < told[-1] and sent + a[1] > told[-1] - apply]
    during = figures(applying)
    return {"import_s": round(seconds, 2), "apply_s": round(apply, 2), "rows": report.rows, "created": report.created,
            "longest_wait_applying_s": during["longest_wait_s"], "writes_applying": during["writes"]} | figures(writer.answers)


def busy_answer(database: str, url: str, token: str) -> dict:
    """A PATCH while another connection holds SQLite's write lock, on a server whose connections
    wait 0.5 s for it (instead of 30): what the client gets."""
    from django.db import connections

    holder = sqlite3.connect(database, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for conn in connections.all():  # the server's new connections (one per request thread)
            conn.settings_dict["OPTIONS"]["timeout"] = 0.5
            conn.settings_dict["OPTIONS"]["init_command"] = conn.settings_dict["OPTIONS"]["init_command"].replace(
                "busy_timeout=30000", "busy_timeout=500"
            )
        status, seconds, headers = patch(url, token, {"industry": "while locked"}, timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    return {"status": status, "seconds": round(seconds, 2), "retry_after": headers.get("Retry-After")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the imported file")
    parser.add_argument("--events", action="store_true", help="import usage events (of 1,000 accounts) instead of accounts")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between the writer's PATCHes")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    label = setup_django("import_lock")

    from django.conf import settings
    from django.db import connection

    from clm.core.models import User
    from clm.core.tokens import issue_token
    from clm.customers.models import Account
    from clm.io.engine import import_file

    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "bench-password-2026")
    _, token = issue_token(admin, "bench", via="bench")
    account = Account.objects.create(name="Patched while importing")
    server, base = serve()
    url = f"{base}/api/v1/accounts/{account.pk}"
    assert patch(url, token, {"industry": "warm-up"})[0] == 200, "the PATCH does not work"
    out = {"database": label, "rows": args.rows, "interval_s": args.interval}
    kind = "usage_events" if args.events else "accounts"
    out["kind"] = kind
    with tempfile.TemporaryDirectory(prefix="clm-bench-lock-") as tmp:
        paths = [Path(tmp) / "before.csv", Path(tmp) / "after.csv"]
        if args.events:  # the accounts first, then two files of different events for them
            generate_accounts(Path(tmp) / "accounts.csv", 1000)
            assert import_file("accounts", Path(tmp) / "accounts.csv").status == "done"
            for seed, path in enumerate(paths, 2):
                generate_events(path, args.rows, accounts=1000, days=60, users=20, seed=seed)
        else:  # the same file under two sources: each run creates every account
            generate_accounts(paths[0], args.rows)
            paths[1] = paths[0]
        out["before"] = measure(kind, paths[0], "before", True, url, token, args.interval)
        out["after"] = measure(kind, paths[1], "after", False, url, token, args.interval)
    out["ratio_longest_wait"] = round(out["before"]["longest_wait_s"] / max(out["after"]["longest_wait_s"], 1e-3), 1)
    # before, the lock is held from the import's first statement (Django's SQLite transactions
    # begin IMMEDIATE) to its end; after, at most while a part of the apply commits
    out["ratio_longest_wait_applying"] = round(
        out["before"]["longest_wait_s"] / max(out["after"]["longest_wait_applying_s"] or 0, 1e-3), 1)
    if connection.vendor == "sqlite":
        out["busy"] = busy_answer(settings.DATABASES["default"]["NAME"], url, token)
    server.shutdown()
    if args.json:
        print(json.dumps(out))
        return
    print(f"{label}: a PATCH every {args.interval * 1000:.0f} ms while {args.rows:,} rows of {kind} are imported")
    for name in ("before", "after"):
        f = out[name]
        title = "before (one transaction)" if name == "before" else "after (staged, applied chunk by chunk)"
        print(f"  {title:36} import {f['import_s']:7.2f} s (of which applying {f['apply_s']:.2f} s)   writer: {f['writes']} writes, "
              f"longest wait {f['longest_wait_s']:.3f} s, p95 {f['p95_wait_s']:.3f} s, answers {f['statuses']}; "
              f"while applying: {f['writes_applying']} writes, longest wait {f['longest_wait_applying_s'] or 0:.3f} s")
    print(f"  longest wait, before / after: {out['ratio_longest_wait']}x (before / after while applying: {out['ratio_longest_wait_applying']}x);"
          f" import time after / before: {out['after']['import_s'] / out['before']['import_s']:.2f}")
    if "busy" in out:
        b = out["busy"]
        print(f"  a write that cannot get the lock (held by another connection): {b['status']}"
              f" after {b['seconds']} s, Retry-After: {b['retry_after']}")


if __name__ == "__main__":
    main()
