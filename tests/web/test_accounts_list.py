"""The accounts list: search (Chinese, pinyin, initials, domain, contact, tag), filters, sort,
pages, htmx partials, saved views, bulk actions and export, all within what the user may see."""

import pytest
from django.urls import reverse

from clm.core.models import AuditLog
from clm.customers.models import Account
from clm.web.models import SavedView

pytestmark = pytest.mark.django_db


def names(response):
    return [a.name for a in response.context["page"].object_list]


@pytest.mark.parametrize("query", ["华为", "huawei", "HuaWei", "hw", "hwjs", "huawei.example", "王芳", "wang.fang@"])
def test_an_account_is_found_by_name_pinyin_initials_domain_or_contact(client, admin_user, huawei, theirs, query):
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"), {"q": query})) == ["华为技术有限公司"]


def test_an_account_is_found_by_tag(client, admin_user, huawei, theirs, scene_tag):
    theirs.tags.add(scene_tag)
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"), {"q": "高自动化"})) == ["长安汽车"]


def test_accounts_imported_in_bulk_are_found_by_pinyin(client, admin_user):
    Account.objects.bulk_create([Account(name="比亚迪")])  # as an import writes: no hooks, no key
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"), {"q": "byd"})) == ["比亚迪"]


def test_filters_combine(client, admin_user, huawei, theirs):
    client.force_login(admin_user)
    url = reverse("web:accounts")
    assert names(client.get(url, {"band": "red"})) == ["华为技术有限公司"]
    assert sorted(names(client.get(url, {"band": ["red", "green"]}))) == sorted(["华为技术有限公司", "长安汽车"])
    assert names(client.get(url, {"stage": "mature"})) == ["长安汽车"]
    assert names(client.get(url, {"industry": "电子", "region": "华南"})) == ["华为技术有限公司"]
    assert names(client.get(url, {"owner": theirs.sales_owner_id})) == ["长安汽车"]
    assert names(client.get(url, {"csm": huawei.csm_id})) == ["华为技术有限公司"]
    assert names(client.get(url, {"renewal": 90})) == ["华为技术有限公司"]
    assert names(client.get(url, {"renewal": 30})) == []


def test_filtering_by_tag(client, admin_user, huawei, theirs, scene_tag):
    huawei.tags.add(scene_tag)
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"), {"tag": scene_tag.pk})) == ["华为技术有限公司"]


@pytest.mark.parametrize("sort, first", [("health", "华为技术有限公司"), ("-health", "长安汽车"),
                                         ("-arr", "华为技术有限公司"), ("renewal", "华为技术有限公司")])
def test_columns_sort_both_ways(client, admin_user, huawei, theirs, sort, first):
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"), {"sort": sort}))[0] == first


def test_the_page_shows_arr_and_the_next_renewal(client, admin_user, huawei):
    client.force_login(admin_user)
    row = client.get(reverse("web:accounts")).context["page"].object_list[0]
    assert row.arr_value == 24000 and row.next_renewal_on is not None


def test_an_htmx_request_gets_only_the_table(client, admin_user, huawei, theirs):
    client.force_login(admin_user)
    response = client.get(reverse("web:accounts"), {"band": "red"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="account-table"') and "<html" not in html
    assert "华为技术有限公司" in html and "长安汽车" not in html
    assert "HX-Request" in response["Vary"]


def test_pages_hold_fifty_accounts(client, admin_user):
    Account.objects.bulk_create([Account(name=f"客户{i:03d}") for i in range(120)])
    client.force_login(admin_user)
    page3 = client.get(reverse("web:accounts"), {"page": 3}).context["page"]
    assert page3.paginator.count == 120 and len(page3.object_list) == 20


def test_a_restricted_user_lists_only_their_teams_accounts(client, team_visibility, owner, huawei, theirs):
    client.force_login(owner)
    assert names(client.get(reverse("web:accounts"))) == ["华为技术有限公司"]
    assert names(client.get(reverse("web:accounts"), {"q": "changan"})) == []


def test_a_saved_view_keeps_the_query_for_its_user(client, owner, huawei):
    client.force_login(owner)
    response = client.post(reverse("web:saved_view_create"), {"name": "红色客户", "query": "band=red&sort=health"})
    assert response.status_code == 302 and response["Location"].endswith("?band=red&sort=health")
    view = SavedView.objects.get(user=owner)
    assert view.name == "红色客户"
    listed = client.get(reverse("web:accounts"))
    assert list(listed.context["saved_views"]) == [view]


@pytest.mark.parametrize(
    "form, message",
    [
        ({"name": "  ", "query": "band=red"}, "请为视图命名"),  # the UI speaks Chinese by default
        ({"name": "a\x00b", "query": "band=red"}, "空字符"),  # Django's "Null characters are not allowed."
        ({"name": "ok", "query": "q=\x00"}, "空字符"),
        ({"name": "x" * 101, "query": ""}, "不超过 100 字符"),
    ],
)
def test_a_saved_view_the_database_cannot_store_is_refused_with_the_reason(client, owner, form, message):
    # NUL answered 500 on PostgreSQL
    client.force_login(owner)
    response = client.post(reverse("web:saved_view_create"), form, follow=True)
    assert response.status_code == 200
    assert message in " ".join(str(m) for m in response.context["messages"])
    assert not SavedView.objects.exists()


def test_a_user_cannot_delete_someone_elses_saved_view(client, owner, outsider):
    view = SavedView.objects.create(user=owner, name="mine", query="band=red")
    client.force_login(outsider)
    assert client.post(reverse("web:saved_view_delete", args=[view.pk])).status_code == 404


def test_bulk_assigning_a_csm_goes_through_the_services(client, admin_user, csm, huawei, theirs):
    client.force_login(admin_user)
    client.post(reverse("web:accounts_bulk"), {"action": "csm", "user": csm.pk, "ids": [huawei.pk, theirs.pk]})
    assert set(Account.objects.values_list("csm_id", flat=True)) == {csm.pk}
    assert AuditLog.objects.filter(model="customers.account", action="update", via="ui").count() >= 1


@pytest.mark.parametrize("ids", [["²"], ["٣"], ["9" * 30], ["-1"], ["x"]])
def test_bulk_ids_that_are_no_account_ids_choose_nothing(client, admin_user, huawei, ids):
    client.force_login(admin_user)  # "²" is a digit to str.isdigit, and int("²") raised: a 500
    body, audited = {"action": "csm", "user": admin_user.pk, "ids": ids}, AuditLog.objects.count()
    response = client.post(reverse("web:accounts_bulk"), body, follow=True)
    assert response.status_code == 200
    assert "请先勾选客户。" in " ".join(str(m) for m in response.context["messages"])
    assert Account.objects.get().csm_id == huawei.csm_id and AuditLog.objects.count() == audited


def test_bulk_actions_skip_accounts_the_user_cannot_see(client, team_visibility, owner, teammate, huawei, theirs):
    client.force_login(owner)
    client.post(reverse("web:accounts_bulk"), {"action": "owner", "user": teammate.pk, "ids": [huawei.pk, theirs.pk]})
    huawei.refresh_from_db()
    theirs.refresh_from_db()
    assert huawei.sales_owner == teammate and theirs.sales_owner != teammate


def test_the_bulk_person_menu_asks_for_a_person_and_says_so_when_none_is_chosen(client, admin_user, huawei, csm):
    client.force_login(admin_user)
    html = client.get(reverse("web:accounts"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    person_menu = html[html.index('<select name="user"'):html.index("</select>", html.index('<select name="user"'))]
    assert '<option value="" selected>Choose a person…</option>' in person_menu and "Anyone" not in person_menu
    response = client.post(reverse("web:accounts_bulk"), {"action": "csm", "user": "", "ids": [huawei.pk]},
                           HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Choose a person."]


def test_bulk_tagging(client, admin_user, huawei, theirs, scene_tag):
    client.force_login(admin_user)
    client.post(reverse("web:accounts_bulk"), {"action": "tag", "tag": scene_tag.pk, "ids": [huawei.pk]})
    assert list(huawei.tags.all()) == [scene_tag] and not theirs.tags.exists()


def test_a_viewer_cannot_use_bulk_actions(client, viewer, huawei, csm):
    client.force_login(viewer)
    client.post(reverse("web:accounts_bulk"), {"action": "csm", "user": csm.pk, "ids": [huawei.pk]})
    huawei.refresh_from_db()
    assert huawei.csm == csm  # unchanged: it was already csm; and nothing was audited
    assert not AuditLog.objects.filter(via="ui").exists()


def test_the_export_holds_only_visible_accounts(client, team_visibility, owner, huawei, theirs):
    client.force_login(owner)
    response = client.get(reverse("web:accounts_export"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "华为技术有限公司" in body and "长安汽车" not in body


def test_the_filter_form_shows_the_choices_made_and_lists_owners_and_csms_by_role(client, admin_user, huawei, owner, csm):
    client.force_login(admin_user)
    html = client.get(reverse("web:accounts"), {"owner": owner.pk, "band": "red"}).content.decode()
    owner_select = html[html.index('<select name="owner"'):html.index("</select>", html.index('<select name="owner"'))]
    assert f'<option value="{owner.pk}" selected>owner</option>' in owner_select
    assert f'value="{csm.pk}"' not in owner_select  # a CSM is not offered as sales owner
    assert 'name="band" value="red" checked' in html


def test_bulk_export_holds_the_chosen_visible_accounts_in_the_export_services_columns(
    client, team_visibility, owner, huawei, theirs
):
    from clm.core import services

    other = services.create(Account, {"name": "美的集团", "sales_owner": owner, "source": "crm", "external_id": "A-7"})
    client.force_login(owner)
    response = client.post(reverse("web:accounts_bulk"), {"action": "export", "ids": [other.pk, theirs.pk]})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert response["Content-Disposition"] == 'attachment; filename="accounts-selected.csv"'
    assert len(lines) == 2 and lines[1].startswith("A-7,crm,美的集团")  # not 长安汽车: not visible
    assert "华为技术有限公司" not in body  # visible but not chosen


def export_lines(client, query=None, language="zh-hans") -> list[list[str]]:
    import csv

    response = client.get(reverse("web:accounts_export"), query or {}, HTTP_ACCEPT_LANGUAGE=language)
    return list(csv.reader(b"".join(response.streaming_content).decode("utf-8-sig").splitlines()))


def test_the_export_keeps_the_filters_and_order_on_screen(client, admin_user, huawei, theirs):
    client.force_login(admin_user)
    assert [row[0] for row in export_lines(client)[1:]] == ["长安汽车", "华为技术有限公司"]  # changan < huawei
    assert [row[0] for row in export_lines(client, {"band": "green"})[1:]] == ["长安汽车"]
    assert [row[0] for row in export_lines(client, {"q": "hw"})[1:]] == ["华为技术有限公司"]
    assert [row[0] for row in export_lines(client, {"sort": "health"})[1:]] == ["华为技术有限公司", "长安汽车"]


def test_the_export_has_stage_health_arr_and_renewal_in_the_users_language(client, admin_user, huawei):
    import datetime as dt

    from django.utils import timezone

    from clm.commerce.models import Subscription
    from clm.web.templatetags.workspace import person

    client.force_login(admin_user)
    arr = dict(Subscription.objects.filter(account=huawei).arr_by_account())[huawei.pk]
    renewal = (timezone.localdate() + dt.timedelta(days=45)).isoformat()
    header, row = export_lines(client, language="zh-hans")
    assert header == ["名称", "域名", "行业", "区域", "阶段", "进入阶段日期", "健康度", "健康等级", "年度经常性收入", "下次续约",
                      "负责人", "客户成功经理", "预警"]
    assert row == ["华为技术有限公司", "huawei.example", "电子", "华南", "衰退期", "2026-09-01", "48", "高风险", str(arr),
                   renewal, person(huawei.sales_owner), person(huawei.csm), "无预警"]
    header, row = export_lines(client, language="en")
    assert header[4:8] == ["Stage", "In stage since", "Health", "Health band"] and row[4] == "Declining" and row[7] == "At risk"


def test_names_sort_by_pinyin_not_by_character_code(client, admin_user):
    from clm.core import services

    for name in ("张三科技", "李四集团", "阿里巴巴", "Baidu"):
        services.create(Account, {"name": name})
    client.force_login(admin_user)
    assert names(client.get(reverse("web:accounts"))) == ["阿里巴巴", "Baidu", "李四集团", "张三科技"]
    assert names(client.get(reverse("web:accounts"), {"sort": "-name"})) == ["张三科技", "李四集团", "Baidu", "阿里巴巴"]
    assert [row[0] for row in export_lines(client)[1:]] == ["阿里巴巴", "Baidu", "李四集团", "张三科技"]
