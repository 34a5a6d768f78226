"""`clm clv`: the models fitted on a file, printed as text or JSON; bad files, columns and dates
are clear errors (CommandError: a message and exit status 1, no traceback)."""

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from .conftest import CDNOW_SAMPLE, REGULAR


def run(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("clv", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def cdnow(*extra):
    return [
        "bgnbd",
        str(CDNOW_SAMPLE),
        "--sep",
        "whitespace",
        "--no-header",
        "--customer",
        "1",
        "--date",
        "3",
        *extra,
    ]


def test_bgnbd_reproduces_fader_hardie_lee_2005_on_the_cdnow_sample():
    # Marketing Science 24(2), p. 279: r = 0.243, α = 4.414, a = 0.793, b = 2.426 on 39 weeks
    result = run(*cdnow("--amount", "5", "--calibration-end", "1997-09-30"))
    assert [round(result["parameters"][k], 3) for k in ("r", "alpha", "a", "b")] == [
        0.243,
        4.414,
        0.793,
        2.426,
    ]
    assert result["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert result["customers"] == 2357 and result["fit_seconds"] > 0
    assert set(result["gamma_gamma"]["parameters"]) == {"p", "q", "v"}
    # the holdout check of the paper (its Figure 4): 39 weeks to the end of June 1998
    total = result["holdout"]["by_calibration_purchases"][-1]
    assert total["group"] == "total" and total["customers"] == 2357
    assert total["predicted"] == pytest.approx(total["actual"], rel=0.15)


def test_sbg_reproduces_fader_hardie_2007():
    result = run("sbg", "--alive", ",".join(map(str, REGULAR)), "--project", "3")
    assert (round(result["parameters"]["alpha"], 3), round(result["parameters"]["beta"], 3)) == (0.704, 1.182)
    assert len(result["projected_survival"]) == len(REGULAR) + 3
    assert result["projected_survival"][0] == 1.0


def test_text_output_names_the_parameters(capsys):
    call_command("clv", "sbg", "--alive", "1000,631,468,382")
    text = capsys.readouterr().out
    assert "alpha =" in text and "log-likelihood" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "bgnbd",
                "/nonexistent.csv",
                "--customer",
                "a",
                "--date",
                "b",
                "--calibration-end",
                "2024-01-01",
            ],
            "no such file",
        ),
        (cdnow("--calibration-end", "not-a-date"), "not a date"),
        (cdnow("--calibration-end", "1990-01-01"), "before the first transaction"),
        (
            [
                "bgnbd",
                str(CDNOW_SAMPLE),
                "--sep",
                "whitespace",
                "--no-header",
                "--customer",
                "9",
                "--date",
                "3",
                "--calibration-end",
                "1997-09-30",
            ],
            "no such column",
        ),  # fmt: skip
        (
            cdnow("--amount", "2", "--date-format", "%d/%m/%Y", "--calibration-end", "1997-09-30"),
            "not a date",
        ),
        (["sbg", "--alive", "1000,abc"], "numbers separated by commas"),
        (["sbg", "--alive", "1000,1200,900"], "cannot increase"),
        (["sbg", "--alive", "1000"], "at least 2 periods"),
    ],
)
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("clv", *args)


def test_the_clm_command_exits_non_zero_without_a_traceback(tmp_path):
    bad = tmp_path / "orders.csv"
    bad.write_text("customer,date\n1,2024-01-01\n2,yesterday\n")
    clm = [sys.executable, "-c", "import sys; from clm.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [
            *clm,
            "clv",
            "bgnbd",
            str(bad),
            "--customer",
            "customer",
            "--date",
            "date",
            "--calibration-end",
            "2024-02-01",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "row 3" in done.stderr and "not a date" in done.stderr  # rows as in the file: the header is row 1
    assert "Traceback" not in done.stderr


def test_fitting_a_file_loads_no_app(tmp_path):
    """`clm clv bgnbd|sbg` run without django.setup(): no model, no scikit-learn (about 1.7 s of
    CPU that `clm clv` spent before fitting; bench/bench_cli.py measures the whole command)."""
    script = (
        "import sys, json; from clm.cli import main; code = main(sys.argv); "
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(('sklearn', 'clm.lifecycle', "
        "'clm.customers', 'django.contrib.admin')))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "clv", "sbg", "--alive", "1000,631,468,382", "--json"],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "CLM_DATA_DIR": str(tmp_path)},
    )
    out = done.stdout.strip().splitlines()
    assert json.loads(out[-1]) == [0, []]
    fitted = json.loads("\n".join(out[:-1]))["parameters"]
    assert fitted == run("sbg", "--alive", "1000,631,468,382")["parameters"]  # as with every app loaded


@pytest.mark.django_db
def test_recompute_runs_the_daily_value_run_on_the_database():
    import datetime as dt

    from clm.customers.models import Account
    from clm.value.models import CLVEstimate

    from .conftest import order

    buyer = Account.objects.create(name="buyer")
    order(buyer, dt.date(2024, 1, 2), "250.00")
    result = run("recompute", "--as-of", "2024-02-01")
    assert result["as_of"] == "2024-02-01" and result["clv_estimates"] == 1
    assert CLVEstimate.objects.get(account=buyer).as_of == dt.date(2024, 2, 1)
    with pytest.raises(CommandError, match="in the future"):
        call_command("clv", "recompute", "--as-of", "2999-01-01")


def _cdnow_rows():
    from clm.analytics.clv import read_cdnow

    return read_cdnow(CDNOW_SAMPLE)


def test_a_gbk_csv_from_a_chinese_excel_gives_the_same_fit_as_the_original_file(tmp_path):
    transactions = _cdnow_rows()
    gbk = tmp_path / "订单.csv"
    lines = ["客户编号,下单日期,金额（元）"] + [
        f"客户{c},{d:%Y/%m/%d},{a:.2f}"
        for c, d, a in zip(
            transactions["customer"], transactions["date"], transactions["amount"], strict=True
        )
    ]
    gbk.write_bytes("\r\n".join(lines).encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        gbk.read_text(encoding="utf-8")  # really GBK, not UTF-8
    result = run(
        "bgnbd", str(gbk), "--customer", "客户编号", "--date", "下单日期", "--amount", "金额（元）",
        "--calibration-end", "1997-09-30",
    )  # fmt: skip
    original = run(*cdnow("--amount", "5", "--calibration-end", "1997-09-30"))
    assert result["customers"] == original["customers"] == 2357
    assert result["parameters"] == pytest.approx(original["parameters"], rel=1e-9)
    assert result["gamma_gamma"]["parameters"] == pytest.approx(
        original["gamma_gamma"]["parameters"], rel=1e-6
    )


def test_an_xlsx_workbook_is_read_too(tmp_path):
    from openpyxl import Workbook

    transactions = _cdnow_rows()
    book = Workbook()
    sheet = book.active
    sheet.append(["customer", "date"])
    for c, d in zip(transactions["customer"], transactions["date"], strict=True):
        sheet.append([int(c), d.to_pydatetime()])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    result = run(
        "bgnbd", str(path), "--customer", "customer", "--date", "date", "--calibration-end", "1997-09-30"
    )
    assert [round(result["parameters"][k], 3) for k in ("r", "alpha", "a", "b")] == [
        0.243,
        4.414,
        0.793,
        2.426,
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("orders.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "old-style Excel .xls"),
        ("orders.xls", b"customer,date\n1,2024-01-01\n", "expected a .csv or .xlsx file, not .xls"),
        ("orders.csv", "客户,日期\n1,2024-01-01\n".encode("utf-16-be"), "binary data"),
        ("orders.csv", b"customer,date\n", "no rows"),
    ],
)
def test_files_it_cannot_read_are_refused_with_the_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command(
            "clv",
            "bgnbd",
            str(path),
            "--customer",
            "customer",
            "--date",
            "date",
            "--calibration-end",
            "2024-02-01",
        )


def test_a_bad_amount_names_its_row_and_why(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer,date,amount\n1,2024-01-01,10\n2,2024-01-02,-5\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"--amount amount: row 3 has '-5', which must be at least 0"):
        call_command(
            "clv", "bgnbd", str(path), "--customer", "customer", "--date", "date", "--amount", "amount",
            "--calibration-end", "2024-02-01",
        )  # fmt: skip


@pytest.mark.parametrize("argv", [["clv", "bgnbd", "--help"], ["clv", "sbg", "--help"], ["clv", "sbg", "--project", "2"]])
def test_help_and_refused_arguments_import_neither_numpy_pandas_nor_scipy(tmp_path, argv):
    """The arguments are read before the work is imported (commands/_clv_work.py): `clm clv bgnbd
    --help` answers in the time Python starts, not the 0.65 s numpy, pandas and scipy take."""
    import os

    script = (
        "import sys, json; from clm.cli import main\n"
        "try:\n    main(sys.argv)\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in ('numpy', 'pandas', 'scipy', 'sklearn') if m in sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120,
                          env={**env, "CLM_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert ("usage: clm clv" in done.stdout) if "--help" in argv else ("--alive" in done.stderr)


def test_the_commands_choices_are_the_works():
    from clm.analytics.clv.data import DAYS_PER_PERIOD
    from clm.value.management.commands import _clv_work, clv

    assert set(clv.PERIODS) == set(DAYS_PER_PERIOD) and set(clv.SEPARATORS) == set(_clv_work.SEPARATORS)
