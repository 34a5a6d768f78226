"""The one way CLM makes HTTP requests to other systems (webhooks, IM robots).

Every request goes through the same guard: the host is resolved, every address it resolves to is
checked (private, loopback, link-local, multicast, reserved and unspecified addresses are refused,
IPv4-mapped IPv6 included), and the connection is made to the checked address itself, so a DNS
answer that changes between the check and the connection (rebinding) cannot slip through. Hosts an
administrator lists in CLM_OUTBOUND_ALLOWED_HOSTS skip the address check (an intranet, tests).
Redirects are followed only through the same guard. Transient failures (connection errors,
timeouts, 5xx, 429) are retried with exponential backoff; other 4xx answers are not.

urllib3 is used directly, rather than requests or httpx, because it lets a request connect to one
chosen IP while the Host header, TLS SNI and certificate check stay on the hostname."""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

USER_AGENT = "CLM-Outbound/1"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second attempt; doubled before each later one
MAX_REDIRECTS = 3
MAX_BODY = 1024 * 1024  # of an answer: enough for any robot's reply, bounded for a hostile server
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a signed timestamp for
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# NAT64 embeds an IPv4 address in the last 32 bits; the embedded one is what is reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(Exception):
    """A request that did not get an answer; `attempts` says how many times it was tried."""

    def __init__(self, message: str, attempts: int = 0):
        super().__init__(message)
        self.attempts = attempts


class Refused(OutboundError):
    """The URL is not one CLM may call (scheme, or an address the guard refuses). Never retried.
    `why` names the rule and `values` what it saw, so a form can say it in the user's language."""

    def __init__(self, message: str, attempts: int = 0, *, why: str = "", values: dict | None = None):
        super().__init__(message, attempts)
        self.why = why
        self.values = values or {}


class Unreachable(OutboundError):
    """No answer after every attempt (DNS failure, connection refused, timeout)."""


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)
    attempts: int = 1
    url: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", "replace")


def allowed_hosts() -> frozenset[str]:
    return frozenset(getattr(settings, "CLM_OUTBOUND_ALLOWED_HOSTS", ()))


def refusal(address: str) -> str | None:
    """Why CLM will not connect to this IP address, or None if it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL, lowercased, without IPv6 brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> Target:
    """The parts of an http(s) URL CLM may call; Refused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"{url!r} is not a valid URL ({exc})", why="invalid", values={"url": repr(url)}) from None
    if parts.scheme not in ("http", "https"):
        raise Refused(f"{url!r} is not an http:// or https:// URL", why="scheme", values={"url": repr(url)})
    if not parts.hostname:
        raise Refused(f"{url!r} names no host", why="no_host", values={"url": repr(url)})
    if parts.username or parts.password:
        raise Refused(
            f"{url!r} carries a user name or password; CLM does not send those",
            why="credentials",
            values={"url": repr(url)},
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80), path
    )


def resolve(target: Target) -> str:
    """The address to connect to: every address the host resolves to must pass the guard (one bad
    answer among good ones is refused too), unless the host is on the allow-list."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"{target.host} cannot be resolved ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Unreachable(f"{target.host} resolves to no address")
    if target.host not in allowed_hosts():
        for address in addresses:
            reason = refusal(address)
            if reason:
                shown = target.host if target.host == address else f"{target.host} ({address})"
                raise Refused(
                    f"{shown} is {reason}; an administrator may allow this host in CLM_OUTBOUND_ALLOWED_HOSTS",
                    why="address",
                    values={"host": shown, "kind": reason},
                )
    return addresses[0]


def check_url(url: str) -> None:
    """Refused if CLM would refuse to call this URL (for validating a webhook when it is saved)."""
    resolve(parse(url))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """X-CLM-Signature: HMAC-SHA256 over "<timestamp>." + body, so a captured request cannot be
    replayed later with a new timestamp."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature or "")


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    return {"X-CLM-Timestamp": str(timestamp), "X-CLM-Signature": sign(secret, timestamp, body)}


def post_json(
    url: str, payload, *, secret: str | None = None, headers: dict | None = None, **options
) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    if secret:
        all_headers.update(signed_headers(secret, body))
    return request("POST", url, body=body, headers=all_headers, **options)


def request(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict | None = None,
    attempts: int = ATTEMPTS,
    backoff: float | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> Response:
    """Send one request through the guard, retrying transient failures. Returns the last answer
    (which may be a 4xx or, after every attempt, a 5xx); raises Refused or Unreachable."""
    timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
    backoff = BACKOFF if backoff is None else backoff
    last_error = ""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            time.sleep(backoff * 2 ** (attempt - 2))
        try:
            response = _follow(method, url, body, headers or {}, timeout)
        except Refused as exc:
            exc.attempts = attempt
            raise
        except (Unreachable, urllib3.exceptions.HTTPError, OSError) as exc:
            last_error = str(exc) or type(exc).__name__
            continue
        response.attempts = attempt
        if response.status in RETRY_STATUSES and attempt < attempts:
            continue
        return response
    raise Unreachable(f"no answer from {url} after {attempts} attempts: {last_error}", attempts)


def _follow(method: str, url: str, body: bytes, headers: dict, timeout) -> Response:
    for _ in range(MAX_REDIRECTS + 1):
        response = _send(method, url, body, headers, timeout)
        location = response.headers.get("location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        url = urljoin(url, location)
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", b""
    raise Unreachable(f"more than {MAX_REDIRECTS} redirects")


def _send(method: str, url: str, body: bytes, headers: dict, timeout) -> Response:
    target = parse(url)
    address = resolve(target)
    pool_options = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            cert_reqs="CERT_REQUIRED",
            assert_hostname=target.host,
            server_hostname=target.host,
            **pool_options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, **pool_options)
    sent_headers = {"User-Agent": USER_AGENT, **headers, "Host": target.host_header}
    try:
        raw = pool.urlopen(
            method,
            target.path,
            body=body or None,
            headers=sent_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            content = raw.read(MAX_BODY + 1, decode_content=True)[:MAX_BODY]
        finally:
            raw.release_conn()
        return Response(raw.status, content, {k.lower(): v for k, v in raw.headers.items()}, url=url)
    finally:
        pool.close()
