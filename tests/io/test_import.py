"""The import run: validation before anything is written, a row-by-row report, all or nothing by
default, --skip-invalid with a rejected-rows file, dry runs, and idempotent re-imports."""

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clm.commerce.models import Order
from clm.core.models import AuditLog
from clm.core.text import EXTERNAL_ID_UNAVAILABLE
from clm.customers.models import Account, Contact
from tests.io.conftest import run, snapshot

pytestmark = pytest.mark.django_db

HEADER = ["客户编号", "客户名称", "行业", "员工人数", "年营收", "省份", "城市", "成为客户日期"]
GOOD = [
    ["A1", "华为技术有限公司", "通信", "1,000", "¥1,234.50", "广东", "深圳", "2024/3/1"],
    ["A2", "Acme Ltd", "SaaS", "20", "12.5万", "", "", "20240301"],
    ["A3", "Beta GmbH", "Retail", "5", "1.234,50 €", "", "", "2024年3月1日"],
]


def test_a_valid_file_creates_the_records_with_typed_values(files):
    report = run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    assert report.status == "done" and (report.created, report.updated, report.unchanged) == (3, 0, 0)
    huawei = Account.objects.get(source="import", external_id="A1")
    assert (huawei.name, huawei.employee_count, huawei.annual_revenue) == ("华为技术有限公司", 1000, Decimal("1234.50"))
    assert huawei.customer_since == dt.date(2024, 3, 1)
    assert Account.objects.get(external_id="A2").annual_revenue == Decimal("125000.00")
    assert Account.objects.get(external_id="A3").annual_revenue == Decimal("1234.50")


def test_the_report_names_row_column_value_and_reason(files):
    rows = [HEADER, GOOD[0], ["A2", "Acme", "SaaS", "many", "¥1,2345", "", "", "2024-02-30"]]
    report = run("accounts", files.csv("a.csv", rows))
    assert report.status == "invalid"
    assert report.errors == [
        {"row": 3, "column": "员工人数", "value": "many", "reason": report.errors[0]["reason"]},
        {"row": 3, "column": "年营收", "value": "¥1,2345", "reason": report.errors[1]["reason"]},
        {"row": 3, "column": "成为客户日期", "value": "2024-02-30", "reason": "is not a valid date (no such day)"},
    ]
    assert report.errors[0]["reason"].startswith("is not a number")
    assert report.errors[1]["reason"].startswith("has an ambiguous comma")
    assert (report.rows, report.rejected, report.error_count) == (2, 1, 3)


def test_by_default_nothing_is_written_if_any_row_is_invalid(files):
    rows = [HEADER, *GOOD, ["A4", "", "x", "", "", "", "", ""]]
    report = run("accounts", files.csv("a.csv", rows))
    assert report.status == "invalid" and not report.written
    assert report.errors == [{"row": 5, "column": "客户名称", "value": "", "reason": "is required"}]
    assert Account.objects.count() == 0 and AuditLog.objects.count() == 0


def test_skip_invalid_writes_the_valid_rows_and_saves_the_rejected_ones_with_reasons(files, tmp_path):
    rows = [HEADER, GOOD[0], ["A2", "Acme", "SaaS", "lots", "", "", "", ""], GOOD[2], ["A1", "dup", "", "", "", "", "", ""]]
    target = tmp_path / "rejected.csv"
    report = run("accounts", files.csv("a.csv", rows), skip_invalid=True, rejected_path=target)
    assert report.status == "done" and (report.created, report.rejected) == (2, 2)
    assert sorted(Account.objects.values_list("external_id", flat=True)) == ["A1", "A3"]
    assert report.rejected_file == str(target)
    with open(target, encoding="utf-8-sig", newline="") as fh:
        saved = list(csv.reader(fh))
    assert saved[0] == [*HEADER, "Row", "Errors"]
    assert saved[1] == ["A2", "Acme", "SaaS", "lots", "", "", "", "", "3", saved[1][-1]]
    assert saved[1][-1].startswith("员工人数: is not a number")
    assert saved[2][:2] == ["A1", "dup"] and saved[2][-2:] == ["5", "客户编号: duplicate key: already on row 2"]


def test_the_rejected_file_goes_beside_the_input_by_default(files, tmp_path):
    report = run("accounts", files.csv("a.csv", [HEADER, ["A1", "", "", "", "", "", "", ""]]), skip_invalid=True)
    assert report.rejected_file.startswith(str(tmp_path / "a.rejected-")) and report.rejected_file.endswith(".csv")


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(files):
    report = run("accounts", files.csv("a.csv", [HEADER, *GOOD]), dry_run=True)
    assert report.status == "dry_run" and report.created == 3
    assert Account.objects.count() == 0


def test_duplicate_ids_are_found_across_chunks(files):
    rows = [HEADER] + [[f"A{i}", f"n{i}", "", "", "", "", "", ""] for i in range(10)] + [["A3", "again", "", "", "", "", "", ""]]
    report = run("accounts", files.csv("a.csv", rows), chunk_rows=4)
    assert report.errors == [{"row": 12, "column": "客户编号", "value": "A3", "reason": "duplicate key: already on row 5"}]


def test_missing_required_columns_are_reported_once_and_nothing_is_read(files):
    report = run("accounts", files.csv("a.csv", [["行业"], ["通信"], ["SaaS"]]))
    assert report.status == "invalid" and report.rows == 0 and report.errors == []
    assert report.problems[0].startswith("missing required column 'Name'")


def test_a_header_only_file_is_refused(files):
    report = run("accounts", files.csv("a.csv", [HEADER]))
    assert report.status == "invalid" and report.problems == ["the file has a header row but no data rows"]


def test_an_unreadable_file_is_refused_without_writing(files):
    report = run("accounts", files.raw("a.csv", b""))
    assert report.status == "invalid" and report.problems == ["a.csv is empty"]


def test_importing_the_same_file_twice_leaves_the_database_as_after_the_first(files):
    path = files.csv("a.csv", [HEADER, *GOOD])
    run("accounts", path)
    before = snapshot()
    report = run("accounts", path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot() == before


def test_a_changed_row_is_updated_and_audited_with_old_and_new_values(files, admin_user):
    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    changed = [HEADER, ["A1", "华为技术有限公司", "通信", "2000", "¥1,234.50", "广东", "深圳", "2024/3/1"], *GOOD[1:]]
    report = run("accounts", files.csv("b.csv", changed), user=admin_user)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    log = AuditLog.objects.filter(action="update").get()
    assert (log.actor, log.via, log.model, log.object_repr) == (admin_user, "import", "customers.account", "华为技术有限公司")
    assert log.changes == {"employee_count": [1000, 2000]}
    created = AuditLog.objects.filter(action="create", object_repr="Acme Ltd").get()
    assert created.changes["annual_revenue"] == [None, "125000.00"] and created.changes["external_id"] == [None, "A2"]


def test_columns_not_in_the_file_keep_their_values(files):
    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    run("accounts", files.csv("b.csv", [["客户编号", "客户名称"], ["A1", "华为"]]))
    huawei = Account.objects.get(external_id="A1")
    assert (huawei.name, huawei.city, huawei.employee_count) == ("华为", "深圳", 1000)


def test_the_same_ids_from_another_source_are_other_records(files):
    path = files.csv("a.csv", [HEADER, *GOOD])
    run("accounts", path)
    run("accounts", path, source="salesforce")
    assert Account.objects.filter(external_id="A1").count() == 2


def test_records_made_in_clm_are_addressed_by_their_clm_id(files):
    manual = Account.objects.create(name="Made by hand")
    report = run("accounts", files.csv("a.csv", [["External ID", "Name"], [f"clm:{manual.pk}", "Renamed"], ["clm:999999", "Ghost"]]))
    assert report.errors == [{"row": 3, "column": "External ID", "value": "clm:999999", "reason": "no record with this CLM id"}]
    run("accounts", files.csv("b.csv", [["External ID", "Name"], [f"clm:{manual.pk}", "Renamed"]]))
    manual.refresh_from_db()
    assert (manual.name, manual.external_id, manual.source) == ("Renamed", None, "")


def test_without_an_id_column_the_name_is_the_key_of_an_account(files):
    path = files.csv("a.csv", [["公司名称", "城市"], ["华为", "深圳"], ["腾讯", "深圳"]])
    run("accounts", path)
    assert run("accounts", path).unchanged == 2
    assert Account.objects.get(external_id="华为").name == "华为"


def test_references_resolve_by_external_id_or_unique_name_and_unknown_ones_are_named(files):
    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    Account.objects.create(name="Twin")
    Account.objects.create(name="Twin")
    rows = [["联系人编号", "客户编号", "姓名"], ["C1", "A1", "张伟"], ["C2", "Acme Ltd", "Bob"], ["C3", "A9", "X"], ["C4", "Twin", "Y"]]
    report = run("contacts", files.csv("c.csv", rows))
    assert report.errors == [
        {"row": 4, "column": "客户编号", "value": "A9", "reason": "no account with this id or name"},
        {"row": 5, "column": "客户编号", "value": "Twin", "reason": "names several records: use the external id"},
    ]
    run("contacts", files.csv("c.csv", rows[:3]))
    assert Contact.objects.get(external_id="C2").account.external_id == "A2"


def test_references_are_looked_up_once_per_chunk_not_per_row(files):
    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    rows = [["联系人编号", "客户编号", "姓名"]] + [[f"C{i}", f"A{1 + i % 3}", f"p{i}"] for i in range(300)]
    path = files.csv("c.csv", rows)
    with CaptureQueriesContext(connection) as queries:
        report = run("contacts", path)
    assert report.created == 300
    # on SQLite the apply's journal adds its triggers and bookkeeping, as many for 3 rows as for 300
    journal = ("TRIGGER", "io_applyjournal", "sqlite_master", "sqlite_temp_master", "SAVEPOINT")
    import_own = [q for q in queries.captured_queries if not any(word in q["sql"] for word in journal)]
    assert len(import_own) <= 12, [q["sql"][:80] for q in import_own]


def test_a_restricted_user_reaches_only_the_accounts_they_see(files, owner, outsider, team_visibility):
    Account.objects.create(name="Mine", source="import", external_id="M1", sales_owner=owner)
    Account.objects.create(name="Theirs", source="import", external_id="T1", sales_owner=outsider)
    rows = [["Contact ID", "Account ID", "Name"], ["C1", "M1", "a"], ["C2", "T1", "b"]]
    report = run("contacts", files.csv("c.csv", rows), user=owner)
    assert report.errors == [{"row": 3, "column": "Account ID", "value": "T1", "reason": "no account with this id or name"}]
    report = run("accounts", files.csv("a.csv", [["Account ID", "Account Name"], ["T1", "Hijacked"]]), user=owner)
    assert report.errors == [{"row": 2, "column": "Account ID", "value": "T1", "reason": EXTERNAL_ID_UNAVAILABLE}]


def test_owners_are_users_named_by_username_email_or_full_name(files, owner, csm):
    owner.first_name, owner.last_name, owner.email = "Wei", "Zhang", "wei@example.com"
    owner.save()
    rows = [["Account ID", "Account Name", "Owner", "CSM"], ["A1", "x", "Wei Zhang", "csm"], ["A2", "y", "WEI@example.com", ""], ["A3", "z", "nobody", ""]]
    report = run("accounts", files.csv("a.csv", rows), skip_invalid=True)
    assert report.errors == [{"row": 4, "column": "Owner", "value": "nobody", "reason": "no CLM user with this username, email or name"}]
    assert list(Account.objects.order_by("external_id").values_list("sales_owner__username", "csm__username")) == [("owner", "csm"), ("owner", None)]


def test_blank_lines_are_skipped_but_row_numbers_stay_as_in_the_file(files):
    report = run("accounts", files.csv("a.csv", [HEADER, GOOD[0], [], ["A2", "", "", "", "", "", "", ""]]))
    assert report.rows == 2 and report.errors[0]["row"] == 4


def test_imported_order_totals_follow_the_order_rule_exactly(files):
    Account.objects.create(name="华为", source="import", external_id="A1")
    path = files.csv("orders.csv", [
        ["订单号", "客户编号", "下单日期", "金额", "成本"],
        ["O1", "A1", "2024-03-01", "0.10", "0.05"],
        ["O1", "A1", "2024-03-01", "0.20", ""],
        ["O1", "A1", "2024-03-01", "¥1,234.50", "1"],
    ])
    assert run("orders", path).status == "done"
    order = Order.objects.get(external_id="O1")
    assert (order.amount, order.cost) == (Decimal("1234.80"), Decimal("1.05"))


def test_an_account_renamed_by_an_import_is_found_by_its_new_name(files):
    from clm.customers.services import fill_search_keys, search_key

    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    fill_search_keys()
    renamed = [HEADER, ["A1", "美的集团", "通信", "1,000", "¥1,234.50", "广东", "深圳", "2024/3/1"], *GOOD[1:]]
    run("accounts", files.csv("b.csv", renamed))
    # a small file's renamed accounts get their new key at once, by the rule one saved account follows
    assert Account.objects.get(external_id="A1").search_key == "meidejituan mdjt"
    assert Account.objects.get(external_id="A2").search_key == search_key("Acme Ltd")  # untouched


def test_a_large_import_leaves_search_keys_to_the_bulk_filler(files, monkeypatch):
    from clm.customers import services as customers

    monkeypatch.setattr(customers, "KEYS_AT_ONCE", 0)
    run("accounts", files.csv("a.csv", [HEADER, *GOOD]))
    customers.fill_search_keys()
    renamed = [HEADER, ["A1", "美的集团", "通信", "1,000", "¥1,234.50", "广东", "深圳", "2024/3/1"], *GOOD[1:]]
    run("accounts", files.csv("b.csv", renamed))
    assert Account.objects.get(external_id="A1").search_key is None  # the old name's key is gone
    customers.fill_search_keys()
    assert Account.objects.get(external_id="A1").search_key == "meidejituan mdjt"


@pytest.fixture
def two_teams(owner, outsider, team_visibility):
    mine = Account.objects.create(name="Mine", source="import", external_id="M1", sales_owner=owner)
    theirs = Account.objects.create(name="Theirs", source="import", external_id="T1", sales_owner=outsider)
    Contact.objects.create(account=mine, name="My contact", source="import", external_id="MC")
    Contact.objects.create(account=mine, name="My other contact", source="import", external_id="MC2")
    Contact.objects.create(account=theirs, name="Hidden Person", source="import", external_id="TC")
    return mine, theirs


def test_a_restricted_user_cannot_link_an_interaction_to_a_hidden_contact(files, owner, two_teams):
    rows = [["Interaction ID", "Account", "Contact", "Type", "Occurred At", "Summary"],
            ["I1", "M1", "MC", "call", "2024-03-01 11:00", "ok"],
            ["I2", "M1", "TC", "call", "2024-03-01 11:00", "sneaky"]]
    before = snapshot()
    report = run("interactions", files.csv("i.csv", rows), user=owner)
    assert report.status == "invalid"
    assert report.errors == [{"row": 3, "column": "Contact", "value": "TC", "reason": "no contact with this id or name"}]
    assert snapshot() == before


def test_a_restricted_user_cannot_name_a_hidden_contact_as_referrer(files, owner, two_teams):
    rows = [["Account ID", "Account Name", "Referred By Contact"], ["M1", "Mine", "MC"], ["N1", "New", "TC"]]
    before = snapshot()
    report = run("accounts", files.csv("a.csv", rows), user=owner)
    assert report.errors == [{"row": 3, "column": "Referred By Contact", "value": "TC", "reason": "no contact with this id or name"}]
    assert snapshot() == before
    assert run("accounts", files.csv("a.csv", rows[:2]), user=owner).status == "done"  # another account's contact of one's own is fine
    assert Account.objects.get(external_id="M1").referred_by_contact.external_id == "MC"


def test_a_contact_must_belong_to_the_rows_account_for_everyone(files, admin_user, two_teams):
    rows = [["Ticket ID", "Account", "Contact", "Subject", "Opened At"],
            ["K1", "M1", "MC2", "ok", "2024-03-01"], ["K2", "M1", "TC", "wrong account", "2024-03-01"]]
    before = snapshot()
    report = run("tickets", files.csv("t.csv", rows), user=admin_user)
    assert report.errors == [
        {"row": 3, "column": "Contact", "value": "TC", "reason": "this contact belongs to another account than the row's"}
    ]
    assert snapshot() == before
    rows = [["Interaction ID", "Account", "Contact", "Type", "Occurred At", "Summary"], ["I1", "T1", "MC", "call", "2024-03-01", "x"]]
    report = run("interactions", files.csv("i.csv", rows))
    assert report.errors[0]["reason"] == "this contact belongs to another account than the row's"


def test_accounts_a_rep_imports_without_an_owner_become_theirs(files, owner, teammate, csm, admin_user, team_visibility):
    from clm.core.access import visible_accounts

    rows = [["Account ID", "Account Name", "Owner"], ["A1", "Named", "teammate"], ["A2", "Unnamed", ""]]
    assert run("accounts", files.csv("a.csv", rows), user=owner).created == 2
    assert dict(Account.objects.values_list("external_id", "sales_owner__username")) == {"A1": "teammate", "A2": "owner"}
    assert set(visible_accounts(owner).values_list("external_id", flat=True)) == {"A1", "A2"}
    run("accounts", files.csv("b.csv", [["Account ID", "Account Name"], ["B1", "Looked after"]]), user=csm)
    assert Account.objects.filter(external_id="B1").values_list("sales_owner", "csm__username").get() == (None, "csm")
    run("accounts", files.csv("c.csv", [["Account ID", "Account Name"], ["C1", "Admin's"], ["A2", "Renamed"]]), user=admin_user)
    assert Account.objects.filter(external_id="C1").values_list("sales_owner", "csm").get() == (None, None)
    assert Account.objects.get(external_id="A2").sales_owner == owner  # an update keeps its owner


def test_the_importer_refuses_bidirectional_controls(files):
    rows = [["Account ID", "Account Name"], ["A1", "Fine"], ["A2", "Acme\u202egnp.exe"]]
    report = run("accounts", files.csv("a.csv", rows))
    assert report.errors == [{"row": 3, "column": "Account Name", "value": "Acme\u202egnp.exe",
                              "reason": "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)"}]
    assert not Account.objects.exists()
