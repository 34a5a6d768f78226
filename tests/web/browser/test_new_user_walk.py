"""A new user's first hour in a real browser, without the admin: a CSM creates an account (after a
mistake the form shows beside the field), a contact on it and a ticket, then imports a GBK file
from Chinese Excel — sees the encoding and the mapping, fixes a column, runs a dry run, imports,
and downloads the rejected row. In Chinese, then the same forms and the import page in English.
Screenshots go to tests/artifacts/."""

import pytest
from playwright.sync_api import expect

from clm.customers.models import Account, Contact
from clm.service.models import Ticket
from tests.conftest import make_user
from tests.web.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GBK_FILE = "客户编号,客户名称,行业,员工数\nK1,比亚迪股份,汽车,5000\nK2,宁德时代,新能源,很多\n"


@pytest.fixture
def newcomer(transactional_db, settings, tmp_path):
    from clm.core.roles import sync_role_groups

    settings.MEDIA_ROOT = tmp_path / "media"
    sync_role_groups()
    return make_user("fang", "CSM", first_name="芳", last_name="王")


def sign_in_as_newcomer(page, url):
    sign_in(page, url, "fang")
    expect(page.get_by_role("heading", name="我的工作")).to_be_visible()


def test_a_new_user_creates_records_and_imports_a_file_in_both_languages(page, live_server, newcomer, artifacts,
                                                                       tmp_path):
    sign_in_as_newcomer(page, live_server.url)
    page.get_by_role("link", name="客户", exact=True).click()
    page.get_by_test_id("new-account").click()
    expect(page.get_by_role("heading", name="新建客户")).to_be_visible()
    page.get_by_label("行业").fill("电子")
    page.get_by_label("员工人数").fill("-5")
    page.get_by_test_id("save").click()
    expect(page.locator('[data-field="name"]')).to_have_text("这个字段是必填项。")
    expect(page.locator('[data-field="employee_count"]')).to_contain_text("大于或等于0")
    expect(page.get_by_label("行业")).to_have_value("电子")  # nothing lost
    page.screenshot(path=str(artifacts / "record-form-errors-zh.png"), full_page=True)
    page.get_by_label("公司名称").fill("华为技术有限公司")
    page.get_by_label("员工人数").fill("200000")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("account-name")).to_have_text("华为技术有限公司")
    expect(page.locator(".messages")).to_contain_text("客户已保存。")
    account = Account.objects.get(name="华为技术有限公司")
    assert account.csm == newcomer  # a CSM's new account is theirs

    page.get_by_test_id("new-contact").click()
    page.get_by_label("姓名").fill("张伟")
    page.get_by_label("职位").fill("IT 总监")
    page.get_by_label("决策链角色").select_option(label="决策者")
    page.get_by_label("关键人（KP）").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_role("heading", name="张伟 KP")).to_be_visible()

    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    page.get_by_test_id("new-ticket").click()
    page.get_by_label("主题").fill("报表导出超时")
    page.get_by_label("联系人").select_option(label="张伟")
    page.get_by_label("优先级").select_option("high")
    page.screenshot(path=str(artifacts / "record-form-ticket-zh.png"), full_page=True)
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("account-name")).to_be_visible()
    expect(page.get_by_role("link", name="报表导出超时")).to_be_visible()
    assert Ticket.objects.get(subject="报表导出超时").contact == Contact.objects.get(name="张伟")

    # The import: a GBK CSV from Chinese Excel, one column not recognised, one invalid row.
    page.get_by_role("link", name="客户", exact=True).click()
    page.get_by_test_id("import-link").click()
    data = tmp_path / "新客户.csv"
    data.write_bytes(GBK_FILE.encode("gbk"))
    page.get_by_label("文件内容").select_option("accounts")
    page.get_by_label("文件（CSV 或 XLSX）").set_input_files(str(data))
    page.get_by_test_id("upload").click()
    expect(page.get_by_test_id("encoding")).to_have_text("GBK / GB18030")
    expect(page.get_by_test_id("mapping-form")).to_contain_text("比亚迪股份")
    with page.expect_response(lambda r: "/import/columns/" in r.url):
        page.get_by_label("员工数").select_option(label="员工人数")  # "员工数" was not recognised
    page.screenshot(path=str(artifacts / "import-mapping-zh.png"), full_page=True)
    page.get_by_test_id("dry-run").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("试运行：未写入任何数据")
    expect(page.get_by_test_id("rejected")).to_have_text("1")
    assert not Account.objects.filter(name="比亚迪股份").exists()
    page.screenshot(path=str(artifacts / "import-dry-run-zh.png"), full_page=True)
    page.get_by_test_id("back-to-import").click()
    page.get_by_label("导入有效行，无效行另存（可下载）").check()
    page.get_by_test_id("run-import").click()
    expect(page.get_by_test_id("outcome")).to_have_text("已导入。")
    expect(page.get_by_test_id("created")).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_test_id("rejected-download").click()
    rejected = download.value.path().read_text(encoding="utf-8-sig")
    assert "宁德时代" in rejected and "很多" in rejected
    page.screenshot(path=str(artifacts / "import-done-zh.png"), full_page=True)
    assert Account.objects.get(name="比亚迪股份").employee_count == 5000

    # In English: the same forms and the import page.
    page.get_by_test_id("language").select_option("en")
    expect(page.get_by_role("navigation").get_by_role("link", name="Accounts")).to_be_visible()
    page.goto(f"{live_server.url}/records/accounts/new/")
    page.get_by_label("Employees").fill("-1")
    page.get_by_test_id("save").click()
    expect(page.locator('[data-field="name"]')).to_have_text("This field is required.")
    expect(page.locator('[data-field="employee_count"]')).to_have_text("Ensure this value is greater than or equal to 0.")
    page.screenshot(path=str(artifacts / "record-form-errors-en.png"), full_page=True)
    page.goto(f"{live_server.url}/import/")
    expect(page.get_by_role("heading", name="Import a file")).to_be_visible()
    expect(page.get_by_text("My recent imports")).to_be_visible()
    page.screenshot(path=str(artifacts / "import-start-en.png"), full_page=True)
