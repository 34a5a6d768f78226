"""`clm serve`: the web app and the API on waitress, in one process or several sharing one socket.

Not gunicorn: waitress is the one server that runs the first command everywhere (Windows too),
and --workers adds only a shared socket and the small supervisor below to it, so one server's
behaviour stands behind every figure in bench/. A deployment that wants a worker restarted
rather than the server stopped, or graceful reloads, runs any WSGI server on clm.wsgi:application
under its process manager."""

import os
import signal
import socket
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections


class Command(BaseCommand):
    help = "Serve the web app and the API on the current data (waitress, a production WSGI server)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes sharing the port (default 1). Python runs one thread at a time per "
            "process, so CPU-bound work such as event ingestion scales with processes, up to the cores.",
        )

    def handle(self, host, port, threads, workers, **options):
        from django.core.wsgi import get_wsgi_application
        from waitress import serve

        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port (1–65535)")
        if threads < 1:
            raise CommandError(f"--threads {threads}: give at least 1")
        if not 1 <= workers <= 64:
            raise CommandError(f"--workers {workers}: give 1 to 64 processes")
        if workers > 1 and not hasattr(os, "fork"):
            raise CommandError("--workers above 1 needs a system with fork (Linux, macOS)")
        call_command("migrate", interactive=False, verbosity=0)
        application = get_wsgi_application()
        self.stdout.write(f"CLM is serving on http://{host}:{port}/  (admin: /admin/, API: /api/v1/docs)")
        if workers == 1:
            serve(application, host=host, port=port, threads=threads, ident="CLM")
            return
        try:
            listener = socket.create_server((host, port), family=_family(host), backlog=1024)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        connections.close_all()  # each process opens its own database connections
        self.stdout.write(f"{workers} processes with {threads} threads each")
        self.stdout.flush()
        children = []
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                try:
                    serve(application, sockets=[listener], threads=threads, ident="CLM")
                finally:
                    os._exit(0)
            children.append(pid)
        listener.close()
        _supervise(children)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _supervise(children: list[int]) -> None:
    """Wait for the worker processes; SIGTERM or Ctrl-C stops them all, and so does the death of
    one (a half-dead server is worse than a stopped one)."""

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    signal.signal(signal.SIGINT, lambda *_: (stop(), sys.exit(0)))
    try:
        os.wait()  # the first worker to end ends the server
    finally:
        stop()
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
