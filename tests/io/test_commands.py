"""`clm import` and `clm export`: the report on the terminal, the exit status, the options."""

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from clm.customers.models import Account
from clm.io.models import ImportMapping

pytestmark = pytest.mark.django_db

ROWS = [["客户编号", "客户名称", "行业"], ["A1", "华为", "通信"], ["A2", "腾讯", "互联网"]]


def clm(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_clm_import_reads_a_gbk_file_and_reports(files):
    output = clm("import", "accounts", str(files.csv("客户.csv", ROWS, encoding="gbk")))
    assert "客户.csv (csv, gb18030): accounts, source 'import'" in output
    assert "columns: 客户编号 -> external_id, 客户名称 -> name, 行业 -> industry" in output
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 rejected" in output
    assert Account.objects.count() == 2


def test_clm_import_fails_with_the_reasons_and_writes_nothing(files):
    path = files.csv("a.csv", [*ROWS, ["A3", "", ""]])
    with pytest.raises(CommandError, match="nothing was written: 1 of 3 rows are invalid"):
        call_command("import", "accounts", str(path), stdout=io.StringIO())
    assert Account.objects.count() == 0


def test_clm_import_skip_invalid_prints_where_the_rejected_rows_are(files, tmp_path):
    target = tmp_path / "bad.csv"
    output = clm("import", "accounts", str(files.csv("a.csv", [*ROWS, ["A3", "", ""]])), "--skip-invalid", "--rejected", str(target))
    assert "row 4, 客户名称: is required" in output
    assert f"rejected rows saved to {target}" in output and target.exists()
    assert Account.objects.count() == 2


def test_clm_import_dry_run(files):
    output = clm("import", "accounts", str(files.csv("a.csv", ROWS)), "--dry-run")
    assert "dry run, nothing written: 2 rows, 0 invalid; would be 2 created" in output
    assert Account.objects.count() == 0


def test_clm_import_map_and_save_mapping_then_mapping(files):
    rows = [["Kunde", "Firma"], ["K1", "Acme"]]
    clm("import", "accounts", str(files.csv("a.csv", rows)), "--map", "Kunde=external_id", "--map", "Firma=name", "--save-mapping", "erp")
    assert ImportMapping.objects.get(name="erp").columns == {"Kunde": "external_id", "Firma": "name"}
    clm("import", "accounts", str(files.csv("b.csv", [["Kunde", "Firma"], ["K2", "Beta"]])), "--mapping", "erp", "--source", "erp")
    assert Account.objects.get(source="erp", external_id="K2").name == "Beta"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["unicorns", "x.csv"], "unknown kind 'unicorns'"), (["accounts", "/no/such.csv"], "no such file"),
     (["accounts", "ROWS", "--as-user", "ghost"], "no user 'ghost'"), (["accounts", "ROWS", "--map", "oops"], 'write it as "File Column=field"')],
)
def test_clm_import_refuses_bad_arguments_clearly(files, args, message):
    path = str(files.csv("a.csv", ROWS))
    with pytest.raises(CommandError, match=message):
        call_command("import", *[path if a == "ROWS" else a for a in args], stdout=io.StringIO())


def test_clm_export_writes_csv_or_xlsx_and_refuses_other_formats(files, tmp_path):
    clm("import", "accounts", str(files.csv("a.csv", ROWS)))
    assert "2 accounts rows written" in clm("export", "accounts", str(tmp_path / "a.xlsx"))
    with pytest.raises(CommandError, match="export to a .csv or .xlsx file"):
        call_command("export", "accounts", str(tmp_path / "a.pdf"), stdout=io.StringIO())


def test_the_clm_script_lists_import_and_export_options(tmp_path):
    env = dict(os.environ, CLM_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    clm_script = os.path.join(os.path.dirname(sys.executable), "clm")
    done = subprocess.run([clm_script, "import", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--skip-invalid" in done.stdout and "--save-mapping" in done.stdout
