"""The work of `clm clv` (clm/value/management/commands/clv.py): reading a transaction file,
fitting BG/NBD with Gamma-Gamma or sBG, and the value recomputation. Apart from the command's
arguments so that `clm clv --help` and refused arguments import neither numpy, pandas nor scipy."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import CommandError

from clm.analytics.clv import (
    BetaGeoModel,
    CLVInputError,
    GammaGammaModel,
    ShiftedBetaGeometricModel,
    calibration_and_holdout,
    holdout_comparison,
    rfm_summary,
)
from clm.core.parsers import clean_text, nonempty, parse_date, parse_float
from clm.io.readers import FileProblem, open_table

__all__ = ["CLVInputError", "bgnbd", "recompute", "sbg", "text"]

SEPARATORS = {"auto": None, "comma": ",", "tab": "\t", "semicolon": ";", "whitespace": r"\s+"}


def bgnbd(
    command, *, file, customer, date, amount, calibration_end, period, date_format, sep, no_header, **_
):
    transactions = _read(Path(file), sep, no_header)
    for role, column in (("--customer", customer), ("--date", date), ("--amount", amount)):
        if column is not None and column not in transactions.columns:
            known = ", ".join(map(str, transactions.columns))
            raise CommandError(f"{role} {column}: no such column in {file} (columns: {known})")
    end = _date("--calibration-end", calibration_end)
    frame = pd.DataFrame({"customer": transactions[customer].astype(str)})
    frame["date"] = _dates(transactions[date], date_format, date)
    if amount:
        frame["amount"] = _amounts(transactions[amount], amount)
    if frame["date"].min() > end:
        raise CommandError(
            f"--calibration-end {end.date()}: before the first transaction ({frame['date'].min().date()})"
        )
    later = frame["date"].max() > end
    started = time.perf_counter()
    if later:
        summary = calibration_and_holdout(
            frame, end, frame["date"].max(), period=period, amount="amount" if amount else None
        )
    else:
        summary = rfm_summary(frame, end, period=period, amount="amount" if amount else None)
    x, t_x, age = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    summarised = time.perf_counter()
    model = BetaGeoModel.fit(x, t_x, age)
    fit_seconds = time.perf_counter() - summarised
    result = {
        "model": "bgnbd",
        "file": str(file),
        "period": period,
        "calibration_end": str(end.date()),
        "customers": int(len(summary)),
        "repeat_buyers": int((x > 0).sum()),
        "parameters": model.params,
        "log_likelihood": model.fit_info.log_likelihood,
        "converged": model.fit_info.converged,
        "summary_seconds": round(summarised - started, 4),
        "fit_seconds": round(fit_seconds, 4),
    }
    if amount:
        repeat = (x > 0) & (summary["monetary_value"].to_numpy() > 0)
        spend = GammaGammaModel.fit(x[repeat], summary["monetary_value"].to_numpy()[repeat])
        result["gamma_gamma"] = {
            "parameters": spend.params,
            "log_likelihood": spend.fit_info.log_likelihood,
        }
    if later:
        table = holdout_comparison(model, summary)
        result["holdout"] = {
            "weeks" if period == "week" else f"{period}s": float(summary["duration_holdout"].iloc[0]),
            "by_calibration_purchases": [
                {
                    "group": str(g),
                    "customers": int(r.customers),
                    "actual": r.actual,
                    "predicted": r.predicted,
                }
                for g, r in table.iterrows()
            ],
        }
    return result


def recompute(command, *, as_of, json: bool, **_):
    import json as json_module

    from django.utils import timezone

    from clm.value import services

    day = timezone.localdate() if as_of is None else _date("--as-of", as_of).date()
    if day > timezone.localdate():
        raise CommandError(f"--as-of {day}: in the future; nothing is known about it yet")
    summary = services.recompute(day)
    if json:
        command.stdout.write(json_module.dumps(summary, indent=2, ensure_ascii=False))
        return
    command.stdout.write(
        f"value as of {summary['as_of']}: {summary['clv_estimates']:,} CLV estimates {summary['clv_by_method']}, "
        f"{summary['tier_assignments']:,} tiers, recommendations {summary['recommendations']}, "
        f"points {summary['loyalty_entries']} in {sum(summary['seconds'].values()):.1f} s"
    )
    for problem in summary["problems"]:
        command.stderr.write(f"  problem: {problem}")


def sbg(command, *, alive, project, **_):
    try:
        counts = [float(part) for part in alive.split(",")]
    except ValueError:
        raise CommandError(
            f"--alive {alive}: give the counts as numbers separated by commas, e.g. 1000,631,468"
        ) from None
    if project < 0:
        raise CommandError(f"--project {project}: must be 0 or more")
    model = ShiftedBetaGeometricModel.fit(counts)
    horizon = len(counts) - 1 + project
    survival = model.survival(np.arange(horizon + 1))
    return {
        "model": "sbg",
        "alive": counts,
        "parameters": model.params,
        "log_likelihood": model.fit_info.log_likelihood,
        "converged": model.fit_info.converged,
        "projected_survival": [float(s) for s in survival],
        "projected_alive": [float(s * counts[0]) for s in survival],
        "retention_rate": [float(r) for r in model.retention_rate(np.arange(1, horizon + 1))],
    }


def _read(path: Path, sep: str, no_header: bool) -> pd.DataFrame:
    """The file as a table of text cells, read by clm.io (CSV in UTF-8 or GBK, XLSX; anything else,
    .xls included, is refused with the reason). ``sep`` overrides the detected separator."""
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        table = open_table(path)
        if table.format == "csv" and sep != "auto":
            table.delimiter = SEPARATORS[sep]
            with open(path, encoding=table.encoding, newline="") as fh:
                table.header = _split(fh.readline().rstrip("\r\n"), table.delimiter)
        frames = [chunk.frame for chunk in table.chunks()]
    except FileProblem as exc:
        raise CommandError(str(exc)) from None
    body = pd.concat(frames) if frames else pd.DataFrame(columns=range(len(table.header)))
    if no_header:
        first = pd.DataFrame([table.header], index=[table.header_row])
        body = pd.concat([first, body.set_axis(range(len(body.columns)), axis=1)])
        body.columns = [str(i + 1) for i in range(body.shape[1])]
    else:
        body.columns = table.header[: body.shape[1]]
    if body.empty:
        raise CommandError(f"{path}: no rows")
    return body.apply(clean_text)


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == SEPARATORS["whitespace"]:
        return line.split()
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]


def _date(option: str, value: str) -> pd.Timestamp:
    parsed = parse_date(pd.Series([value.strip()], dtype=object))
    if pd.isna(parsed.values.iloc[0]):
        raise CommandError(f"{option} {value}: not a date (use YYYY-MM-DD)")
    return parsed.values.iloc[0]


def _refuse(option: str, cells: pd.Series, bad: pd.Series, reasons) -> None:
    """The first bad cell, by its row in the file (the header is row 1, as in clm.io)."""
    if bad.any():
        row = cells.index[np.flatnonzero(bad.to_numpy())[0]]
        reason = reasons[row] if isinstance(reasons, pd.Series) else reasons
        raise CommandError(f"{option}: row {row} has {cells[row]!r}, which {reason}")


def _dates(values: pd.Series, date_format: str | None, column: str) -> pd.Series:
    if date_format is None:
        parsed = parse_date(values)
        dates, reasons = parsed.values, parsed.errors.where(nonempty(parsed.errors), "is not a date")
    else:
        dates = pd.to_datetime(values, format=date_format, errors="coerce")
        reasons = f"is not a date in the format {date_format}"
    _refuse(f"--date {column}", values, dates.isna(), reasons)
    return dates.dt.normalize()


def _amounts(values: pd.Series, column: str) -> np.ndarray:
    parsed = parse_float(values, minimum=0)
    reasons = parsed.errors.where(nonempty(parsed.errors), "is not an amount >= 0")
    _refuse(f"--amount {column}", values, parsed.values.isna(), reasons)
    return parsed.values.to_numpy(dtype=float)


def text(result: dict) -> str:
    lines = []
    if result["model"] == "bgnbd":
        lines.append(
            f"BG/NBD on {result['customers']:,} customers ({result['repeat_buyers']:,} repeat buyers), "
            f"calibration to {result['calibration_end']}, time in {result['period']}s"
        )
    else:
        lines.append(f"sBG on a cohort of {result['alive'][0]:g} over {len(result['alive']) - 1} periods")
    lines.append("  " + ", ".join(f"{k} = {v:.4g}" for k, v in result["parameters"].items()))
    lines.append(
        f"  log-likelihood {result['log_likelihood']:.4f}"
        + ("" if result["converged"] else " (not converged)")
    )
    if "fit_seconds" in result:
        lines.append(
            f"  fit time {result['fit_seconds'] * 1000:.1f} ms "
            f"(after {result['summary_seconds'] * 1000:.0f} ms summarising the transactions)"
        )
    if "gamma_gamma" in result:
        params = result["gamma_gamma"]["parameters"]
        lines.append("Gamma-Gamma spend: " + ", ".join(f"{k} = {v:.4g}" for k, v in params.items()))
    if "holdout" in result:
        lines.append("Holdout: actual vs predicted purchases per customer, by calibration purchases")
        for row in result["holdout"]["by_calibration_purchases"]:
            lines.append(
                f"  {row['group']:>6}  {row['customers']:>7,}  {row['actual']:8.3f}  {row['predicted']:8.3f}"
            )
    if result["model"] == "sbg":
        lines.append("Projected share still active after t periods:")
        lines.append("  " + "  ".join(f"{t}: {s:.3f}" for t, s in enumerate(result["projected_survival"])))
    return "\n".join(lines)
