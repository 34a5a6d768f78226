"""Production settings: HTTPS from the environment (parsed strictly) makes `clm check --deploy`
clean, and every page carries a Content-Security-Policy that allows no inline script, which the
workspace's own pages satisfy."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clm.core.env import ConfigError, env_proxy_header

CLM = str(Path(sys.executable).with_name("clm"))
HTTPS = {
    "CLM_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "CLM_SSL_REDIRECT": "true",
    "CLM_SECURE_COOKIES": "true",
    "CLM_HSTS_SECONDS": "31536000",
    "CLM_HSTS_PRELOAD": "true",
    "SECRET_KEY": "k" * 10 + "x7Qp2Lr9Vb4Nc8Zt1Wm6Ys3Hd5Jf0Ga" + "q" * 10,
    "ALLOWED_HOSTS": "clm.example.cn",
}


def check_deploy(tmp_path, **env):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for this process (Playwright's loop); a
    # deployment never has it, and the check refuses it.
    dropped = {"SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLM_") and k not in dropped}
    return subprocess.run(
        [CLM, "check", "--deploy"], env={**base, "CLM_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_the_https_settings(tmp_path):
    result = check_deploy(tmp_path, **HTTPS)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_names_what_is_missing_without_them(tmp_path):
    result = check_deploy(tmp_path)
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


@pytest.mark.parametrize("raw, parsed", [
    ("X-Forwarded-Proto: https", ("HTTP_X_FORWARDED_PROTO", "https")),
    ("x-forwarded-ssl:on", ("HTTP_X_FORWARDED_SSL", "on")),
    ("", None),
])
def test_the_proxy_header_is_read_as_header_and_value(monkeypatch, raw, parsed):
    monkeypatch.setenv("CLM_SECURE_PROXY_SSL_HEADER", raw)
    assert env_proxy_header("CLM_SECURE_PROXY_SSL_HEADER") == parsed


@pytest.mark.parametrize("raw", ["https", "X-Forwarded-Proto", "X Forwarded: https", "X-Forwarded-Proto: "])
def test_a_malformed_proxy_header_is_an_error(monkeypatch, raw):
    monkeypatch.setenv("CLM_SECURE_PROXY_SSL_HEADER", raw)
    with pytest.raises(ConfigError, match="CLM_SECURE_PROXY_SSL_HEADER=.*Header-Name: value"):
        env_proxy_header("CLM_SECURE_PROXY_SSL_HEADER")


def test_a_bad_hsts_value_stops_clm_with_its_name(tmp_path):
    result = check_deploy(tmp_path, CLM_HSTS_SECONDS="a year")
    assert result.returncode != 0 and "CLM_HSTS_SECONDS='a year' is not an integer" in result.stderr


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("path, status", [
    ("/login/", 200), ("/", 200), ("/accounts/", 200), ("/accounts/{account}/", 200),
    ("/e/u/bogus", 404),  # the page a recipient sees for a broken unsubscribe link
])
def test_pages_carry_a_policy_without_inline_script_and_need_none(client, admin_user, account, path, status):
    if path != "/login/":
        client.force_login(admin_user)
    response = client.get(path.format(account=account.pk))
    assert response.status_code == status
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not HANDLER.search(html), HANDLER.search(html).group(0)
    assert "<style" not in html
