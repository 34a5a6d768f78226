"""The outbound HTTP client against a real receiver on 127.0.0.1: signatures, retries and
backoff, and the guard that refuses private, loopback and link-local addresses after DNS."""

import json
import os
import socket
import time

import pytest

from clm.core import outbound
from clm.core.env import ConfigError, env_hosts
from tests.receivers import Answer, HttpReceiver


@pytest.fixture
def receiver(settings):
    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset({"127.0.0.1"})
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def nothing_allowed(settings):
    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset()


def test_it_posts_signed_json_that_the_receiver_can_verify(receiver):
    response = outbound.post_json(receiver.url(), {"event": "case.opened", "名字": "华为"}, secret="s3cret")
    assert response.status == 200 and response.attempts == 1
    got = receiver.requests[0]
    assert got.method == "POST" and got.path == "/hook"
    assert json.loads(got.body) == {"event": "case.opened", "名字": "华为"}
    assert got.headers["x-clm-signature"].startswith("sha256=")
    assert outbound.verify("s3cret", got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"])
    assert not outbound.verify(
        "other", got.body, got.headers["x-clm-signature"], got.headers["x-clm-timestamp"]
    )
    assert not outbound.verify(
        "s3cret", got.body + b" ", got.headers["x-clm-signature"], got.headers["x-clm-timestamp"]
    )


def test_the_signature_covers_the_timestamp_so_an_old_request_cannot_be_replayed():
    body = b'{"a":1}'
    signature = outbound.sign("k", 1_700_000_000, body)
    # printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k
    assert signature == "sha256=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3"
    assert outbound.verify("k", body, signature, "1700000000", now=1_700_000_100)
    assert not outbound.verify("k", body, signature, "1700000000", now=1_700_000_000 + 301)
    assert not outbound.verify("k", body, signature, "1700000001", now=1_700_000_000)
    assert not outbound.verify("k", body, signature, "not a number", now=1_700_000_000)


def test_it_retries_5xx_with_growing_backoff_and_returns_the_answer_that_worked(receiver):
    receiver.answers = [Answer(503), Answer(502), Answer(200, b"done")]
    started = time.monotonic()
    response = outbound.post_json(receiver.url(), {}, backoff=0.1)
    assert response.status == 200 and response.body == b"done" and response.attempts == 3
    assert len(receiver.requests) == 3
    assert time.monotonic() - started >= 0.1 + 0.2  # 0.1 s, then 0.2 s


def test_it_does_not_retry_a_4xx(receiver):
    receiver.answers = [Answer(400, b"bad payload")]
    response = outbound.post_json(receiver.url(), {}, backoff=0)
    assert response.status == 400 and response.attempts == 1 and len(receiver.requests) == 1


def test_after_every_attempt_failed_with_5xx_it_returns_the_last_answer(receiver):
    receiver.default = Answer(500, b"down")
    response = outbound.post_json(receiver.url(), {}, attempts=2, backoff=0)
    assert response.status == 500 and response.attempts == 2 and len(receiver.requests) == 2


def test_a_timeout_is_retried_and_then_reported(receiver):
    receiver.default = Answer(200, delay=0.5)
    with pytest.raises(outbound.Unreachable) as caught:
        outbound.post_json(receiver.url(), {}, attempts=2, backoff=0, read_timeout=0.1)
    assert caught.value.attempts == 2 and len(receiver.requests) == 2


def test_a_closed_port_is_unreachable_after_the_attempts(settings):
    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset({"127.0.0.1"})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(outbound.Unreachable) as caught:
        outbound.request("GET", f"http://127.0.0.1:{port}/", attempts=2, backoff=0)
    assert caught.value.attempts == 2


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "reserved"),  # carrier-grade NAT
        ("http://localhost/", "loopback"),  # a name that resolves to 127.0.0.1
    ],
)
def test_it_refuses_non_public_addresses_after_resolving_them(nothing_allowed, url, reason):
    with pytest.raises(outbound.Refused) as caught:
        outbound.request("GET", url, attempts=3, backoff=0)
    assert reason in str(caught.value) and "CLM_OUTBOUND_ALLOWED_HOSTS" in str(caught.value)
    assert caught.value.attempts == 1  # a refusal is not retried


def test_a_name_resolving_to_loopback_is_refused_before_any_connection(nothing_allowed):
    with HttpReceiver() as server:
        with pytest.raises(outbound.Refused, match=r"localhost \(127\.0\.0\.1\) is a loopback"):
            outbound.post_json(server.url(host="localhost"), {})
        assert server.requests == []


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(receiver, monkeypatch):
    """DNS rebinding: the first answer is checked, a later lookup would give another address. The
    client resolves once per attempt and connects to that address."""
    answers = iter(["127.0.0.1", "10.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.test":
            return real(next(answers), *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    from django.conf import settings

    settings.CLM_OUTBOUND_ALLOWED_HOSTS = frozenset({"127.0.0.1", "rebind.test"})
    response = outbound.post_json(receiver.url(host="rebind.test"), {"x": 1})
    assert response.status == 200
    assert receiver.requests[0].headers["host"] == f"rebind.test:{receiver.port}"


def test_a_redirect_to_a_refused_address_is_not_followed(receiver):
    receiver.answers = [Answer(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})]
    with pytest.raises(outbound.Refused, match="169.254.169.254 is a link-local"):
        outbound.request("GET", receiver.url(), backoff=0)
    assert len(receiver.requests) == 1


def test_a_redirect_to_an_allowed_place_is_followed(receiver):
    receiver.answers = [Answer(307, b"", {"Location": "/moved"}), Answer(200, b"here")]
    response = outbound.post_json(receiver.url(), {"x": 1})
    assert response.body == b"here"
    assert [r.path for r in receiver.requests] == ["/hook", "/moved"]
    assert receiver.requests[1].method == "POST" and json.loads(receiver.requests[1].body) == {"x": 1}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://x/",
        "http://user:pw@example.com/",
        "http:///x",
        "http://[::1/",
    ],
)
def test_it_refuses_urls_it_will_not_call(url):
    with pytest.raises(outbound.Refused):
        outbound.check_url(url)


def test_the_allow_list_is_parsed_strictly(monkeypatch):
    monkeypatch.setenv("CLM_OUTBOUND_ALLOWED_HOSTS", " hooks.intranet.local, 10.0.0.5 ,[::1]")
    assert env_hosts("CLM_OUTBOUND_ALLOWED_HOSTS") == {"hooks.intranet.local", "10.0.0.5", "::1"}
    for bad in ("http://x.com", "a,,b", "x.com:8080", "x.com/path", "-x.com"):
        monkeypatch.setenv("CLM_OUTBOUND_ALLOWED_HOSTS", bad)
        with pytest.raises(ConfigError, match="CLM_OUTBOUND_ALLOWED_HOSTS"):
            env_hosts("CLM_OUTBOUND_ALLOWED_HOSTS")
    monkeypatch.delenv("CLM_OUTBOUND_ALLOWED_HOSTS")
    assert env_hosts("CLM_OUTBOUND_ALLOWED_HOSTS") == frozenset()
    assert os.environ.get("CLM_OUTBOUND_ALLOWED_HOSTS") is None
