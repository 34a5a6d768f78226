"""Strict parsing of settings from the environment: a bad value is an error, never a silent default."""

import ipaddress
import os
import re
from urllib.parse import quote, unquote, urlparse

import dj_database_url


class ConfigError(Exception):
    """A setting in the environment has a value CLM cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def env_hosts(name: str) -> frozenset[str]:
    """A comma-separated list of host names or IP addresses (no schemes, ports or paths)."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return frozenset()
    hosts = set()
    for part in raw.split(","):
        host = part.strip().lower().removeprefix("[").removesuffix("]")
        if not host:
            raise ConfigError(f"{name}={raw!r} has an empty entry")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not _HOSTNAME.fullmatch(host):
                raise ConfigError(
                    f"{name}={raw!r}: {part.strip()!r} is not a host name or IP address"
                ) from None
        hosts.add(host.rstrip("."))
    return frozenset(hosts)


_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?"
)


_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")


def env_proxy_header(name: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from "Header-Name: value" (e.g. "X-Forwarded-Proto: https"): the
    header a TLS-terminating proxy sets, and the value meaning the client used HTTPS."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, sep, value = (part.strip() for part in raw.partition(":"))
    if not sep or not _HEADER_NAME.fullmatch(header) or not value or any(c.isspace() for c in value):
        raise ConfigError(f"{name}={raw!r} is not \"Header-Name: value\" (e.g. \"X-Forwarded-Proto: https\")")
    return "HTTP_" + header.upper().replace("-", "_"), value


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL with no query or fragment (a base for links CLM puts in messages)."""
    raw = os.environ.get(name) or default
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise ConfigError(f"{name}={raw!r} is not an http(s):// URL without query or fragment")
    return raw.rstrip("/")


def database_config(url: str, sqlite_default: str) -> dict:
    """A Django DATABASES entry from DATABASE_URL (postgresql://..., sqlite:///path); SQLite under
    CLM_DATA_DIR when unset."""
    if not url:
        return sqlite_config(sqlite_default)
    try:
        config = dj_database_url.parse(url, conn_max_age=60)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"DATABASE_URL={url!r} cannot be used: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME") or config["NAME"] == ":memory:":
            raise ConfigError(f"DATABASE_URL={url!r} names no SQLite file")
        return sqlite_config(config["NAME"])
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ConfigError(f"DATABASE_URL={url!r}: CLM runs on PostgreSQL or SQLite")
    if not config.get("NAME"):
        raise ConfigError(f"DATABASE_URL={url!r} names no database")
    return config


def sqlite_config(path: str) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # kept open between requests, as PostgreSQL's are: a new connection re-runs the pragmas
        # and starts with an empty page cache
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            # wal_autocheckpoint: a batch of events touches a page of the events' unique index
            # per account, and the default (a checkpoint every 1,000 pages) ran one at nearly
            # every commit of the event API: 20,000 pages (80 MB of WAL) made a commit into a
            # table of 200,000 events cost 8 ms instead of 17, and sustained ingestion of a
            # million events 54,000 events/s instead of 38,000 (bench/bench_api_ingest.py).
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA busy_timeout=30000; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
                " PRAGMA wal_autocheckpoint=20000;"
            ),
        },
    }


def email_config(url: str) -> dict:
    """Django EMAIL_* settings from EMAIL_URL (smtp://user:pass@host:port, smtp+tls://, smtp+ssl://,
    console://, memory://). Empty gives the console backend (mail is printed, not sent)."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    if parsed.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parsed.scheme == "memory":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parsed.scheme not in ("smtp", "smtp+tls", "smtp+ssl", "smtps"):
        raise ConfigError(
            f"EMAIL_URL={url!r}: unsupported scheme {parsed.scheme!r} (use smtp://, smtp+tls://, smtp+ssl://)"
        )
    if not parsed.hostname:
        raise ConfigError(f"EMAIL_URL={url!r} names no host")
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError(f"EMAIL_URL={url!r} has a bad port") from None
    ssl = parsed.scheme in ("smtp+ssl", "smtps")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname,
        "EMAIL_PORT": port or (465 if ssl else 587 if parsed.scheme == "smtp+tls" else 25),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": parsed.scheme == "smtp+tls",
        "EMAIL_USE_SSL": ssl,
    }


def smtp_url_from_parts() -> str:
    """EMAIL_URL assembled from SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_TLS."""
    host = os.environ.get("SMTP_HOST", "")
    if not host:
        return ""
    port = env_int("SMTP_PORT", 25, minimum=1)
    tls = env_bool("SMTP_TLS", False)
    user = os.environ.get("SMTP_USER", "")
    password = os.environ.get("SMTP_PASSWORD", "")
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    return f"{'smtp+tls' if tls else 'smtp'}://{auth}{host}:{port}"


def redis_url(name: str) -> str:
    raw = os.environ.get(name, "")
    if raw and urlparse(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{name}={raw!r} is not a redis:// URL")
    return raw
