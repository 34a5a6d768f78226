"""Real servers on 127.0.0.1 for the channel tests: an HTTP receiver that records what it is sent
and answers as told, and an SMTP server (aiosmtpd) that keeps every message it accepts."""

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


class HttpReceiver:
    """http.server in a thread. `answers` is a queue of Answers for the next requests (then the
    default); every request is kept in `requests`."""

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[Answer] = []
        self.default = Answer()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                if answer.delay:
                    threading.Event().wait(answer.delay)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """aiosmtpd's Controller on 127.0.0.1: every accepted message parsed into `messages`.
    `refuse` maps a recipient address to the SMTP replies given at its next RCPTs, in order
    (["451 try later"] refuses once, then accepts)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.refuse: dict[str, list[str]] = {}
        self.connections = 0
        server = self

        class Handler:
            async def handle_EHLO(self, srv, session, envelope, hostname, responses):
                server.connections += 1
                session.host_name = hostname
                return responses

            async def handle_RCPT(self, srv, session, envelope, address, rcpt_options):
                if server.refuse.get(address):
                    return server.refuse[address].pop(0)
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv, session, envelope):
                server.envelopes.append(envelope)
                server.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)
                )
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
