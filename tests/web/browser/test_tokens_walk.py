"""A sales rep opens Preferences → API tokens, makes a read-only token that ends in 30 days (shown
once), is refused a past end date beside the field with the form kept, revokes a token; then the
page in English. Screenshots go to tests/artifacts/."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clm.core.models import ApiToken
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep(transactional_db):
    from clm.core.roles import sync_role_groups

    sync_role_groups()
    rep = make_user("rep", "Sales", first_name="芳", last_name="李")
    ApiToken.issue(rep, "旧的同步脚本", scope=ApiToken.Scope.EVENTS, survives_password_change=True)
    return rep


def test_a_rep_makes_and_revokes_api_tokens(page, live_server, rep, artifacts):
    expect.set_options(timeout=60_000)
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/")
    page.get_by_label("用户名").fill("rep")
    page.get_by_label("密码").fill("pw-rep")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="李芳").click()
    page.get_by_test_id("tokens-link").click()
    expect(page.get_by_test_id("token-list")).to_contain_text("仅限使用事件")

    until = timezone.localdate() + dt.timedelta(days=30)
    page.get_by_label("名称").fill("BI 导出")
    page.get_by_label("权限").select_option("read")
    page.get_by_label("有效期至（留空：长期有效）").fill(until.isoformat())
    page.get_by_test_id("issue").click()
    expect(page.get_by_test_id("issued-token")).to_contain_text("只显示这一次")
    raw = page.get_by_test_id("issued-token-value").inner_text()
    assert ApiToken.objects.get(digest=ApiToken.hash(raw)).scope == "read"
    expect(page.get_by_test_id("token-list")).to_contain_text(until.isoformat())
    page.screenshot(path=str(artifacts / "tokens-issued-zh.png"), full_page=True)

    page.get_by_label("名称").fill("过期测试")
    page.get_by_label("有效期至（留空：长期有效）").fill((timezone.localdate() - dt.timedelta(days=1)).isoformat())
    page.get_by_test_id("issue").click()
    expect(page.get_by_test_id("error-expires_on")).to_contain_text("到期时间必须在将来")
    expect(page.get_by_label("名称")).to_have_value("过期测试")
    page.screenshot(path=str(artifacts / "tokens-refused-zh.png"), full_page=True)

    page.get_by_test_id("token-row").filter(has_text="BI 导出").get_by_test_id("revoke").click()
    expect(page.get_by_test_id("token-row").filter(has_text="BI 导出")).to_contain_text("已吊销")
    assert ApiToken.objects.get(digest=ApiToken.hash(raw)).revoked_at is not None

    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_test_id("token-list")).to_contain_text("Usage events only")
    expect(page.get_by_test_id("token-row").filter(has_text="BI 导出")).to_contain_text("revoked")
    page.screenshot(path=str(artifacts / "tokens-en.png"), full_page=True)
