"""Each kind: its columns, references, choices and the follow-up writes (contract ledger,
order lines, event rollups, stage history), and re-imports that change nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clm.commerce.models import Order, OrderLine, Payment, Product, Subscription, SubscriptionChange
from clm.customers.models import Account, Contact, Interaction
from clm.sales.models import ChannelSpend, Lead, Opportunity, OpportunityStageChange
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import UsageDaily, UsageEvent
from tests.io.conftest import run, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(files):
    rows = [["Account ID", "Account Name"]] + [[f"A{i}", f"Account {i}"] for i in range(1, 4)]
    assert run("accounts", files.csv("accounts.csv", rows)).status == "done"
    return {a.external_id: a for a in Account.objects.all()}


def test_contacts_with_first_and_last_names_roles_and_key_person_flags(files, accounts):
    rows = [
        ["Contact ID", "Account ID", "First Name", "Last Name", "Email", "Title", "角色", "关键人", "状态"],
        ["C1", "A1", "伟", "张", "zw@example.com", "CTO", "决策者", "是", "在职"],
        ["C2", "A1", "Jane", "Doe", "jane@example.com", "PM", "影响者", "否", ""],
        ["C3", "A2", "Li", "Na", "li@example.com", "", "使用者", "", "离职"],
        ["C4", "A2", "X", "Y", "not-an-email", "", "boss", "", ""],
    ]
    report = run("contacts", files.csv("contacts.csv", rows))
    assert [(e["row"], e["column"]) for e in report.errors] == [(5, "Email"), (5, "角色")]
    assert "decision_maker" in report.errors[1]["reason"] and "影响者" in report.errors[1]["reason"]
    run("contacts", files.csv("contacts.csv", rows[:4]))
    zhang = Contact.objects.get(external_id="C1")
    assert (zhang.name, zhang.role, zhang.is_key_person, zhang.account.external_id) == ("张伟", "decision_maker", True, "A1")
    assert Contact.objects.get(external_id="C2").name == "Jane Doe"
    left = Contact.objects.get(external_id="C3")
    assert (left.role, left.status, left.left_on) == ("user", "left", timezone.localdate())


SUB_HEADER = ["合同编号", "客户编号", "开始日期", "结束日期", "月费", "座席数", "状态"]


def test_a_new_contract_writes_a_new_ledger_entry_and_a_reimport_writes_nothing(files, accounts):
    path = files.csv("subs.csv", [SUB_HEADER, ["S1", "A1", "2024-01-01", "2024-12-31", "¥1,000", "10", "生效"]])
    run("subscriptions", path)
    change = SubscriptionChange.objects.get()
    assert (change.kind, change.mrr_before, change.mrr_after, change.effective_date) == ("new", 0, Decimal("1000"), dt.date(2024, 1, 1))
    assert run("subscriptions", path).unchanged == 1
    assert SubscriptionChange.objects.count() == 1


def test_a_thousand_contract_reimport_writes_the_ledger_kinds_of_the_changes(files, accounts):
    rows = [SUB_HEADER] + [[f"S{i}", f"A{1 + i % 3}", "2024-01-01", "", "1000", "10", "active"] for i in range(1000)]
    run("subscriptions", files.csv("subs.csv", rows))
    assert SubscriptionChange.objects.filter(kind="new").count() == 1000
    changed = [SUB_HEADER]
    for i in range(1000):
        mrr, status = {0: ("1500", "active"), 1: ("500", "active"), 2: ("1000", "cancelled")}.get(i % 5, ("1000", "active"))
        changed.append([f"S{i}", f"A{1 + i % 3}", "2024-01-01", "", mrr, "10", status])
    report = run("subscriptions", files.csv("subs2.csv", changed))
    assert (report.updated, report.unchanged) == (600, 400)
    kinds = dict(SubscriptionChange.objects.exclude(kind="new").values_list("kind").annotate(n=__import__("django").db.models.Count("id")))
    assert kinds == {"expansion": 200, "contraction": 200, "churn": 200}
    churn = SubscriptionChange.objects.filter(kind="churn").first()
    assert (churn.mrr_before, churn.mrr_after) == (Decimal("1000"), Decimal("0"))
    assert run("subscriptions", files.csv("subs2.csv", changed)).unchanged == 1000
    assert SubscriptionChange.objects.count() == 1600


def test_arr_is_turned_into_mrr_when_no_mrr_is_given(files, accounts):
    run("subscriptions", files.csv("subs.csv", [["Contract ID", "Account", "Start Date", "ARR"], ["S1", "A1", "2024-01-01", "12,000"]]))
    assert Subscription.objects.get().mrr == Decimal("1000.00")


ORDER_HEADER = ["订单号", "客户编号", "下单日期", "产品", "数量", "金额", "成本"]


def test_order_lines_form_orders_whose_totals_are_their_sums(files, accounts):
    Product.objects.create(name="CLM Pro", source="import", external_id="P1")
    rows = [
        ORDER_HEADER,
        ["O1", "A1", "2024-03-01", "P1", "2", "¥2,000", "500"],
        ["O1", "A1", "2024-03-01", "CLM Pro", "1", "¥1,000", "200"],
        ["O2", "A2", "2024/3/5", "", "", "300", ""],
    ]
    report = run("orders", files.csv("orders.csv", rows))
    assert (report.rows, report.created) == (3, 2)
    o1 = Order.objects.get(external_id="O1")
    assert (o1.amount, o1.cost) == (Decimal("3000"), Decimal("700"))
    assert list(o1.lines.values_list("line_no", "product__name", "quantity", "amount")) == [
        (1, "CLM Pro", Decimal("2"), Decimal("2000")), (2, "CLM Pro", Decimal("1"), Decimal("1000"))]
    assert Order.objects.get(external_id="O2").lines.get().quantity == Decimal("1")


def test_reimporting_orders_replaces_the_lines_of_changed_orders_only(files, accounts):
    rows = [ORDER_HEADER, ["O1", "A1", "2024-03-01", "", "1", "100", ""], ["O1", "A1", "2024-03-01", "", "1", "200", ""],
            ["O2", "A2", "2024-03-02", "", "1", "50", ""]]
    path = files.csv("orders.csv", rows)
    run("orders", path)
    before = snapshot()
    assert run("orders", path).unchanged == 2
    assert snapshot() == before
    o2_line = OrderLine.objects.get(order__external_id="O2").pk
    report = run("orders", files.csv("orders2.csv", [ORDER_HEADER, ["O1", "A1", "2024-03-01", "", "1", "900", ""], rows[3]]))
    assert (report.updated, report.unchanged) == (1, 1)
    o1 = Order.objects.get(external_id="O1")
    assert (o1.amount, o1.lines.count()) == (Decimal("900"), 1)
    assert OrderLine.objects.get(order__external_id="O2").pk == o2_line


def test_an_invalid_line_rejects_its_whole_order(files, accounts):
    rows = [ORDER_HEADER, ["O1", "A1", "2024-03-01", "", "1", "100", ""], ["O1", "A1", "2024-03-01", "", "1", "lots", ""],
            ["O2", "A2", "2024-03-02", "", "1", "50", ""], ["O2", "A3", "2024-03-02", "", "1", "50", ""]]
    report = run("orders", files.csv("orders.csv", rows), skip_invalid=True)
    assert report.created == 0 and report.rejected == 4
    assert {(e["row"], e["reason"][:30]) for e in report.errors} == {
        (3, "is not a number (expected a nu"), (2, "another line of this order is "),
        (5, "differs from the order's first"), (4, "another line of this order is ")}


def test_an_order_split_across_chunks_is_kept_whole(files, accounts):
    rows = [ORDER_HEADER] + [["O1", "A1", "2024-03-01", "", "1", "10", ""]] * 5 + [["O2", "A1", "2024-03-01", "", "1", "10", ""]] * 3
    report = run("orders", files.csv("orders.csv", rows), chunk_rows=3)
    assert report.errors == [] and report.created == 2
    assert Order.objects.get(external_id="O1").lines.count() == 5


def test_payments_with_chinese_statuses_and_an_order_reference(files, accounts):
    run("orders", files.csv("orders.csv", [ORDER_HEADER, ["O1", "A1", "2024-03-01", "", "1", "100", ""]]))
    rows = [["付款编号", "客户编号", "订单号", "到期日", "付款日期", "金额", "状态"],
            ["P1", "A1", "O1", "2024-04-01", "2024-04-03", "100", "已付"], ["P2", "A1", "", "2024-05-01", "", "100", "未付"]]
    assert run("payments", files.csv("pay.csv", rows)).created == 2
    p1 = Payment.objects.get(external_id="P1")
    assert (p1.status, p1.order.external_id, p1.paid_on) == ("paid", "O1", dt.date(2024, 4, 3))
    assert Payment.objects.get(external_id="P2").status == "open"


def test_usage_events_are_stored_once_rolled_up_and_not_audited(files, accounts):
    now = timezone.localtime()
    when = lambda hours: (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    rows = [["account", "user", "event", "feature", "timestamp", "duration"],
            ["A1", "u1", "login", "", when(3), "60"], ["A1", "u2", "report.view", "reports", when(2), "120"],
            ["A2", "u1", "login", "", when(1), ""]]
    path = files.csv("events.csv", rows)
    report = run("usage_events", path)
    assert (report.created, report.status) == (3, "done")
    assert UsageEvent.objects.count() == 3
    assert sum(UsageDaily.objects.values_list("events", flat=True)) == 3
    before = snapshot()
    report = run("usage_events", path)
    assert (report.created, report.unchanged) == (0, 3)
    assert snapshot() == before
    from clm.core.models import AuditLog
    assert not AuditLog.objects.filter(model="usage.usageevent").exists()


def test_events_outside_the_retention_or_in_the_future_are_refused(files, accounts):
    rows = [["account", "event", "timestamp"], ["A1", "login", "2001-01-01 10:00"], ["A1", "login", "2999-01-01 10:00"], ["A9", "login", "2024-01-01"]]
    report = run("usage_events", files.csv("events.csv", rows))
    assert [(e["row"], e["column"], e["reason"][:25]) for e in report.errors] == [
        (2, "timestamp", "occurred_at is older than"), (3, "timestamp", "occurred_at is in the fut"),
        (4, "account", "no account with this id o")]


def test_tickets_with_chinese_priorities_and_csat_range(files, accounts):
    rows = [["工单号", "客户编号", "主题", "优先级", "状态", "创建时间", "满意度"],
            ["T1", "A1", "无法登录", "紧急", "已解决", "2024-03-01 09:00", "5"],
            ["T2", "A1", "导出慢", "高", "打开", "2024-03-02 09:00", ""],
            ["T3", "A1", "x", "P9", "", "2024-03-02", "7"]]
    report = run("tickets", files.csv("tickets.csv", rows))
    assert [(e["row"], e["column"]) for e in report.errors] == [(4, "优先级"), (4, "满意度")]
    run("tickets", files.csv("tickets.csv", rows[:3]))
    assert list(Ticket.objects.order_by("external_id").values_list("priority", "status", "csat")) == [("urgent", "resolved", 5), ("high", "open", None)]


def test_survey_scores_are_checked_against_their_scale(files, accounts):
    rows = [["答卷编号", "客户编号", "类型", "评分", "日期", "评论"], ["R1", "A1", "NPS", "9", "2024-03-01", "很好"],
            ["R2", "A1", "CSAT", "7", "2024-03-01", ""], ["R3", "A1", "", "11", "2024-03-01", ""]]
    report = run("survey_responses", files.csv("s.csv", rows))
    assert [(e["row"], e["reason"]) for e in report.errors] == [(3, "is outside the CSAT scale 1–5"), (4, "must be at most 10")]
    run("survey_responses", files.csv("s.csv", rows[:2]))
    assert SurveyResponse.objects.get().comment == "很好"


def test_leads_from_a_salesforce_export(files):
    rows = [["Lead ID", "First Name", "Last Name", "Company / Account", "Lead Source", "Lead Status", "Email"],
            ["L1", "Ann", "Lee", "Acme", "Web", "MQL", "ann@acme.com"], ["L2", "Bo", "Wu", "Beta", "Event", "Closed - Converted", ""]]
    assert run("leads", files.csv("leads.csv", rows)).created == 2
    assert list(Lead.objects.order_by("external_id").values_list("name", "company", "status", "source_channel")) == [
        ("Ann Lee", "Acme", "mql", "Web"), ("Bo Wu", "Beta", "converted", "Event")]


def test_opportunities_keep_their_stage_history(files, accounts, admin_user):
    header = ["Opportunity ID", "Account ID", "Opportunity Name", "Stage", "Amount", "Close Date"]
    run("opportunities", files.csv("o.csv", [header, ["OP1", "A1", "Renewal 2025", "Prospecting", "$10,000", "2025-01-31"]]), user=admin_user)
    run("opportunities", files.csv("o.csv", [header, ["OP1", "A1", "Renewal 2025", "Closed Won", "$10,000", "2025-01-31"]]), user=admin_user)
    assert list(OpportunityStageChange.objects.values_list("from_stage", "to_stage", "changed_by")) == [
        ("", "qualify", admin_user.pk), ("qualify", "won", admin_user.pk)]
    assert Opportunity.objects.get().amount == Decimal("10000")
    assert Opportunity.objects.get().closed_on == timezone.localdate()  # as the service layer dates it


def test_imported_leads_get_the_date_of_their_status_as_the_service_layer_gives_it(files):
    header = ["Lead ID", "Name", "Company", "Status", "MQL Date"]
    path = files.csv("l.csv", [header, ["L1", "Ann Lee", "Acme", "MQL", ""], ["L2", "Bo Wu", "Beta", "SQL", ""],
                               ["L3", "Cy Ma", "Gamma", "MQL", "2024-03-01 09:00"]])
    assert run("leads", path).status == "done"
    leads = {lead.external_id: lead for lead in Lead.objects.all()}
    assert leads["L1"].mql_at is not None and leads["L1"].sql_at is None
    assert leads["L2"].sql_at is not None
    assert timezone.localtime(leads["L3"].mql_at).strftime("%Y-%m-%d %H:%M") == "2024-03-01 09:00"  # given, kept


def test_an_empty_cell_keeps_a_date_the_rules_filled_in(files, accounts):
    """A re-import of the same file, days later, must not move the dates the stamp rules gave
    (when a contact left, when a lead became MQL, when a deal closed): the file never had them."""
    contacts = files.csv("c.csv", [["Contact ID", "Account ID", "Name", "Status", "Left On"], ["C1", "A1", "Li Na", "离职", ""]])
    leads = files.csv("l.csv", [["Lead ID", "Name", "Company", "Status", "MQL Date"], ["L1", "Ann Lee", "Acme", "MQL", ""]])
    deals = files.csv("o.csv", [["Opportunity ID", "Account ID", "Opportunity Name", "Stage", "Amount", "Close Date"],
                                ["OP1", "A1", "Renewal", "Closed Won", "10000", ""]])
    for kind, path in (("contacts", contacts), ("leads", leads), ("opportunities", deals)):
        assert run(kind, path).created == 1
    earlier = timezone.now() - dt.timedelta(days=30)
    Contact.objects.update(left_on=earlier.date())
    Lead.objects.update(mql_at=earlier)
    Opportunity.objects.update(closed_on=earlier.date())
    before = snapshot()
    for kind, path in (("contacts", contacts), ("leads", leads), ("opportunities", deals)):
        report = run(kind, path)
        assert (report.updated, report.unchanged) == (0, 1), kind
    assert snapshot() == before
    given = files.csv("c2.csv", [["Contact ID", "Account ID", "Name", "Status", "Left On"], ["C1", "A1", "Li Na", "离职", "2024-05-01"]])
    assert run("contacts", given).updated == 1  # a date the file gives still replaces the stored one
    assert Contact.objects.get().left_on == dt.date(2024, 5, 1)


def test_channel_spend_is_keyed_by_channel_and_month(files):
    path = files.csv("spend.csv", [["渠道", "月份", "金额"], ["百度", "2024-03", "¥12,000"], ["展会", "2024年3月", "5万"]])
    assert run("channel_spend", path).created == 2
    assert run("channel_spend", files.csv("spend2.csv", [["渠道", "月份", "金额"], ["百度", "2024/3/15", "13000"]])).updated == 1
    assert list(ChannelSpend.objects.order_by("channel").values_list("channel", "month", "amount")) == [
        ("展会", dt.date(2024, 3, 1), Decimal("50000")), ("百度", dt.date(2024, 3, 1), Decimal("13000"))]


def test_products_and_interactions(files, accounts):
    run("products", files.csv("p.csv", [["产品编号", "产品名称", "产品线", "单价"], ["P1", "CLM Pro", "CLM", "¥999"]]))
    assert Product.objects.get().list_price == Decimal("999")
    rows = [["记录编号", "客户编号", "类型", "日期", "内容"], ["I1", "A1", "拜访", "2024-03-01 15:00", "QBR 准备"]]
    run("interactions", files.csv("i.csv", rows))
    assert Interaction.objects.values_list("type", "summary").get() == ("visit", "QBR 准备")
