"""Playwright driving Debian's Chromium (the `chromium` package): pytest-playwright's fixtures,
pointed at that executable. Without it the browser tests are skipped, with the reason."""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def chromium_path() -> str | None:
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = chromium_path()
    if path is None:
        reason = "Chromium is not installed (apt-get install -y chromium; .ci/run does it): browser tests skipped"
        print(f"\n{reason}")
        pytest.skip(reason)
    # Playwright's sync API keeps an event loop running in the test thread for the rest of the
    # session; Django would take every later ORM call for one made from async code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return {**browser_type_launch_args, "executable_path": path, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A Chinese-speaking user's browser: the workspace's language follows it until they choose.
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def sign_in(page, url: str, username: str) -> None:
    """Patient timeouts (two shared cores), a desktop window, and signed in as `username` (a user
    made by the factories, password pw-<username>) through the Chinese login page at `url`."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{url}/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(f"pw-{username}")
    page.get_by_role("button", name="登录").click()
    # the signed-in page loaded, its deferred app.js run: a language switch made before that was
    # made on the login page or heard by no script (a walk then waited in vain for English)
    page.wait_for_url(lambda address: "/login/" not in address)
    page.wait_for_load_state("load")
