"""The "My work" home: my red accounts, my renewals, open tickets and recent activity."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_my_work_lists_my_red_accounts_renewals_tickets_and_activity(client, owner, huawei, theirs):
    client.force_login(owner)
    work = client.get(reverse("web:home")).context["work"]
    assert [a.name for a in work.red_accounts] == ["华为技术有限公司"]
    assert [s.account.name for s in work.renewals] == ["华为技术有限公司"]
    assert work.open_tickets and all(t.account == huawei for t in work.open_tickets)
    assert work.recent and work.recent[0].summary == "call 0"
    assert work.accounts_count == 1


def test_my_work_leaves_out_other_peoples_accounts(client, outsider, huawei, theirs):
    client.force_login(outsider)
    work = client.get(reverse("web:home")).context["work"]
    assert work.red_accounts == [] and work.renewals == [] and work.recent == []
    assert work.accounts_count == 1


def test_the_csm_sees_the_accounts_they_look_after(client, csm, huawei):
    client.force_login(csm)
    work = client.get(reverse("web:home")).context["work"]
    assert [a.name for a in work.red_accounts] == ["华为技术有限公司"]


def test_the_page_is_in_the_users_language(client, owner, huawei):
    owner.language = "zh-hans"
    owner.save()
    client.force_login(owner)
    html = client.get(reverse("web:home")).content.decode()
    assert "我的红色健康度客户" in html and "华为技术有限公司" in html
