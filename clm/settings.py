"""Django settings, read from the environment (see clm.core.env). With nothing set, CLM runs
embedded: SQLite in WAL mode and an SQLite-backed task queue in the user's data directory
(CLM_DATA_DIR, by default ~/.local/share/clm)."""

import os
from datetime import timedelta
from pathlib import Path

from clm.core.env import (
    ConfigError,
    database_config,
    email_config,
    env_bool,
    env_choice,
    env_hosts,
    env_int,
    env_proxy_header,
    env_str,
    env_url,
    redis_url,
    smtp_url_from_parts,
)

BASE_DIR = Path(__file__).resolve().parent
# One place per user rather than ./var: run from another folder, `clm` used to open an empty
# database there (XDG base directory convention).
DATA_DIR = Path(
    env_str("CLM_DATA_DIR") or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "clm"
).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("CLM_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    # A key kept beside the data, so sessions survive restarts of a laptop install.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
elif len(SECRET_KEY) < 32:
    raise ConfigError("SECRET_KEY must be at least 32 characters long")

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "huey.contrib.djhuey",
    "axes",
    "ninja",  # its templates and the Swagger UI it ships: the API docs load nothing from a CDN
    "clm.core",
    "clm.customers",
    "clm.commerce",
    "clm.usage",
    "clm.service",
    "clm.sales",
    "clm.lifecycle",
    "clm.value",
    "clm.automation",
    "clm.reports",
    "clm.success",
    "clm.demo",
    "clm.io",
    "clm.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clm.web.middleware.UserPreferencesMiddleware",
    "clm.web.middleware.WorkspaceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "clm.core.http.RetryWritesMiddleware",  # last: it calls the view
]

ROOT_URLCONF = "clm.urls"
WSGI_APPLICATION = "clm.wsgi.application"
AUTH_USER_MODEL = "core.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["clm.core.templatetags.money"],  # the one money format, pages and emails alike
        },
    },
]

DATABASES = {"default": database_config(env_str("DATABASE_URL"), str(DATA_DIR / "clm.sqlite3"))}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses throttled sign-ins
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (django-axes): after CLM_LOGIN_FAILURE_LIMIT failed sign-ins for one
# username, or from one address, signing in is refused for CLM_LOGIN_LOCKOUT_MINUTES. An admin
# unlocks sooner in the admin (Axes: access attempts) or with `clm axes_reset_username NAME`.
# API tokens do not sign in, so they are not throttled. The address is REMOTE_ADDR: behind a
# proxy, all clients share it, and the username limit is the one that matters.
AXES_FAILURE_LIMIT = env_int("CLM_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CLM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "clm.web.lockout.locked_out"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("CLM_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the package: no collectstatic step
MEDIA_ROOT = DATA_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024  # batched usage events: 10,000 per request

globals().update(email_config(env_str("EMAIL_URL") or smtp_url_from_parts()))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CLM <clm@localhost>")
# Where people reach this CLM: the base of links in emails (unsubscribe, tracking) and robot cards.
CLM_PUBLIC_URL = env_url("CLM_PUBLIC_URL", "http://127.0.0.1:8000")
# At most this many marketing emails to one contact in this many days (service messages are not capped).
CLM_EMAIL_FREQUENCY_CAP = env_int("CLM_EMAIL_FREQUENCY_CAP", 3, minimum=1)
CLM_EMAIL_FREQUENCY_DAYS = env_int("CLM_EMAIL_FREQUENCY_DAYS", 7, minimum=1)

REDIS_URL = redis_url("REDIS_URL")
if REDIS_URL:
    HUEY = {"huey_class": "huey.RedisHuey", "name": "clm", "url": REDIS_URL, "immediate": False}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "clm",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("CLM_TASKS_IMMEDIATE", False),
    }

# Whether Sales and CSM users see every account ("all") or only their own and their team's
# ("team"); the Workspace row in the database overrides this default once an admin saves it.
CLM_RECORD_VISIBILITY = env_choice("CLM_RECORD_VISIBILITY", "all", ("all", "team"))
# Raw usage events older than this are pruned; the daily rollups are kept forever.
CLM_EVENT_RETENTION_DAYS = env_int("CLM_EVENT_RETENTION_DAYS", 400, minimum=30)
# Outbound HTTP (webhooks, IM robots) to private, loopback or link-local addresses is refused,
# except to the hosts listed here (an intranet's receiver; 127.0.0.1 in tests).
CLM_OUTBOUND_ALLOWED_HOSTS = env_hosts("CLM_OUTBOUND_ALLOWED_HOSTS")

# HTTPS behind a proxy (nginx, a load balancer) that terminates TLS. All off by default, so a
# laptop install works over plain http; `clm check --deploy` is clean with them set.
SECURE_PROXY_SSL_HEADER = env_proxy_header("CLM_SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = env_bool("CLM_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("CLM_SECURE_COOKIES", False)
SECURE_HSTS_SECONDS = env_int("CLM_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CLM_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("CLM_HSTS_PRELOAD", False)

# Scripts and style sheets only from CLM's own static files (vendored htmx and ECharts, no CDN).
# Style attributes stay allowed: ECharts writes its tooltips as HTML with style attributes, and
# Django's admin has a few; <style> elements and inline scripts do not run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CLM_LOG_LEVEL", "WARNING")},
}
