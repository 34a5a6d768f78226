"""Reporting periods: a calendar month ("2026-11"), quarter ("2026-Q4") or year ("2026"), with the
one before it. A period still running ends today: its figures are as of today."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

KINDS = ("month", "quarter", "year")
_PATTERNS = (
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
)


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date  # the last day of the calendar period

    @classmethod
    def parse(cls, text: str) -> Period:
        text = (text or "").strip().upper()
        for kind, pattern in _PATTERNS:
            match = pattern.match(text)
            if not match:
                continue
            year = int(match.group(1))
            if kind == "year":
                return cls.of(kind, dt.date(year, 1, 1))
            number = int(match.group(2))
            if kind == "month" and not 1 <= number <= 12:
                break
            month = number if kind == "month" else 3 * number - 2
            if year < 1900:
                break
            return cls.of(kind, dt.date(year, month, 1))
        raise PeriodError(
            _("“%(text)s” is not a period: write a month (2026-11), a quarter (2026-Q4) or a year (2026).")
            % {"text": text}
        )

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        """The period of ``kind`` that contains ``day``."""
        if kind not in KINDS:
            raise PeriodError(_("The period kind is month, quarter or year, not “%(kind)s”.") % {"kind": kind})
        if kind == "month":
            start = day.replace(day=1)
        elif kind == "quarter":
            start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        else:
            start = dt.date(day.year, 1, 1)
        return cls(kind, start, _add_months(start, cls.months_in(kind)) - dt.timedelta(days=1))

    @staticmethod
    def months_in(kind: str) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[kind]

    @property
    def months(self) -> int:
        return self.months_in(self.kind)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def previous(self) -> Period:
        return Period.of(self.kind, self.start - dt.timedelta(days=1))

    def next(self) -> Period:
        return Period.of(self.kind, self.end + dt.timedelta(days=1))

    def as_of(self, today: dt.date) -> dt.date:
        """The day the period's figures are read on: its last day, or today while it runs."""
        return min(self.end, today)

    def __str__(self) -> str:
        return self.label


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
