"""Email throughput to a local SMTP server (aiosmtpd on 127.0.0.1, in a process of its own) over
one reused connection: send_emails (render in the sandbox, consent and cap checks, the
idempotency claim, tracking, the delivery log) against raw smtplib sending the very same
messages in the same run.

    python -m bench.bench_email [N]     (target: at least 50 messages a second)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python -m bench.bench_email"""

import cProfile
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import setup_django

# A minimal SMTP server: writes each message it accepts to a numbered file in the given folder.
SERVER = """
import sys, time, pathlib
from aiosmtpd.controller import Controller
folder = pathlib.Path(sys.argv[2])
class Keep:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Keep.n += 1
        (folder / f"{Keep.n:06d}.eml").write_bytes(envelope.original_content)
        return "250 OK"
Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1])).start()
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP server did not start")


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    label = setup_django("email")
    import smtplib

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clm.automation.channels import send_emails
    from clm.automation.models import Delivery, EmailTemplate, EmailTemplateVariant
    from clm.customers.models import Account, Contact

    settings.CLM_EMAIL_FREQUENCY_CAP = 10**6
    template = EmailTemplate.objects.create(key="bench", name="bench", variables=["report_url"])
    EmailTemplateVariant.objects.create(
        template=template,
        language="zh-hans",
        subject="{{ account.name }}：{{ contact.name }}，您的季度报告",
        html=(
            "<html><body><p>{{ contact.name }}，您好！</p><p>{{ account.name }}（{{ account.industry }}）"
            '的报告：<a href="{{ report_url }}">下载</a>，<a href="https://example.com/help">帮助</a></p>'
            '<p><a href="{{ unsubscribe_url }}">退订</a></p></body></html>'
        ),
    )
    account = Account.objects.create(name="美的集团", industry="制造")
    contacts = Contact.objects.bulk_create(
        Contact(account=account, name=f"联系人{i}", email=f"c{i}@example.com", email_consent=True)
        for i in range(count + 1)
    )
    items = [
        {
            "template": template,
            "contact": c,
            "context": {"report_url": "https://r.example.com/q3"},
            "key": f"b:{c.pk}",
        }
        for c in contacts
    ]
    folder = Path(tempfile.mkdtemp(prefix="clm-bench-smtp-"))
    port = free_port()
    # In a thread of this process the server would compete with the sender for the GIL.
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(folder)])
    try:
        wait_for(port)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        send_emails(items[:1])  # warm-up: URL resolver, template compilation (a worker has them)
        profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        started, cpu = time.perf_counter(), time.process_time()
        if profile:
            profile.enable()
        with CaptureQueriesContext(connection) as queries:
            deliveries = send_emails(items[1:])
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        assert all(d.status == Delivery.Status.SENT for d in deliveries), {d.status for d in deliveries}
        sent = [p.read_bytes() for p in sorted(folder.glob("*.eml"))][1:]
        assert len(sent) == count, len(sent)
        started, cpu = time.perf_counter(), time.process_time()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for contact, message in zip(contacts[1:], sent, strict=True):
                smtp.sendmail("clm@example.com", [contact.email], message)
        raw, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert len(list(folder.glob("*.eml"))) == 1 + 2 * count
    finally:
        server.terminate()
        server.wait()
        for path in folder.glob("*.eml"):
            path.unlink()
        folder.rmdir()
    print(f"database: {label}; {count} messages, one SMTP connection each way")
    print(f"load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"send_emails: {ours:.2f} s, {count / ours:,.0f} messages/s (target >= 50/s); "
        f"CPU {1000 * ours_cpu / count:.1f} ms a message, {count / ours_cpu:,.0f} messages per CPU-second"
    )
    print(
        f"raw smtplib, the same messages (no rendering or bookkeeping): {raw:.2f} s, {count / raw:,.0f} messages/s; "
        f"CPU {1000 * raw_cpu / count:.1f} ms a message"
    )
    print(f"ratio: {ours / raw:.1f}x the wall time of bare SMTP")
    print(f"database queries: {len(queries)}, {len(queries) / count:.2f} a message")


if __name__ == "__main__":
    main()
