"""The KPI table every page, API answer and export reads: each KPI of the catalogue for a period
and the one before it, with its target and whether it is met; the accounts behind a number; and
targets, set by managers."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.core import audit
from clm.customers.models import Account
from clm.customers.services import manages_accounts
from clm.io import export

from .catalogue import BY_KEY, CATALOGUE, KPI, STAGES, TEAMS, UNITS
from .kpis.base import Result, Scope, Segment
from .models import KpiTarget
from .periods import Period, PeriodError
from .snapshots import keep_kpis, kpi_results

MET, MISSED, NO_TARGET, NO_DATA = "met", "missed", "no_target", "no_data"
STATUS_LABELS = {
    MET: gettext_lazy("on target"), MISSED: gettext_lazy("misses its target"),
    NO_TARGET: gettext_lazy("no target set"), NO_DATA: gettext_lazy("no data yet"),
}  # fmt: skip


@dataclass
class Row:
    kpi: KPI
    result: Result
    previous: Result
    target: float | None

    @property
    def change(self) -> float | None:
        if not (self.result.has_value and self.previous.has_value):
            return None
        return self.result.value - self.previous.value

    @property
    def status(self) -> str:
        if not self.result.has_value:
            return NO_DATA
        if self.target is None:
            return NO_TARGET
        better = self.result.value >= self.target if self.kpi.up_is_good else self.result.value <= self.target
        return MET if better else MISSED


def default_period(kind: str = "month", today: dt.date | None = None) -> Period:
    """The last complete period of ``kind``: whole periods compare fairly with the one before."""
    today = today or timezone.localdate()
    return Period.of(kind, today).previous()


def compute(kpi: KPI, scope: Scope, period: Period, *, stored: bool = True) -> Result:
    """The KPI's result: the daily run's snapshot for a company-wide scope when one is stored for
    the scope's day and the period (clm.reports.snapshots), computed live otherwise."""
    table = kpi_results(scope, period) if stored else None
    if table is not None and kpi.key in table:
        return table[kpi.key]
    return kpi.compute(scope, period)


def kpi_table(
    user, period: Period, segment: Segment | None = None, *, keys=None, today=None, scope: Scope | None = None,
    stored: bool = True,
) -> list[Row]:
    """Every KPI (or those of ``keys``) over what ``user`` may see in ``segment``, for ``period``
    and the period before, with the period's targets. ``stored`` False computes live even where a
    snapshot is stored (to check one against the other)."""
    scope = scope or Scope(user, segment, today)
    kpis = [BY_KEY[k] for k in keys] if keys else CATALOGUE
    targets = dict(KpiTarget.objects.filter(period=period.label).values_list("kpi", "value"))
    previous = period.previous()
    scope.cover(previous.start)  # both periods' dated records read in one query each
    started = time.perf_counter()
    rows = [
        Row(kpi, compute(kpi, scope, period, stored=stored), compute(kpi, scope, previous, stored=stored),
            targets.get(kpi.key))
        for kpi in kpis
    ]
    if stored and not keys:  # a segment's table computed live is kept for its later views
        seconds = (time.perf_counter() - started) / 2
        keep_kpis(scope, period, {row.kpi.key: row.result for row in rows}, seconds)
        keep_kpis(scope, previous, {row.kpi.key: row.previous for row in rows}, seconds)
    return rows


def row_data(row: Row) -> dict:
    """One row as plain data: what the API answers and `clm report kpis --json` prints."""
    r = row.result
    return {
        "key": row.kpi.key, "value": r.value if r.has_value else None, "numerator": r.numerator,
        "denominator": r.denominator, "breakdown": r.breakdown, "accounts": len(r.account_ids),
        "no_data": r.no_data, "previous_value": row.previous.value if row.previous.has_value else None,
        "change": row.change, "target": row.target, "status": row.status,
    }


def kpi_accounts(user, key: str, period: Period, segment: Segment | None = None, *, part: str = "", today=None):
    """The accounts behind one KPI's number (or behind one ``part`` of its breakdown, such as a
    stage), as a queryset of the accounts ``user`` may see."""
    kpi = find(key)
    result = compute(kpi, Scope(user, segment, today), period)
    ids = result.groups.get(part, []) if part else result.account_ids
    return Scope(user).visible(Account).filter(pk__in=ids), result


def find(key: str) -> KPI:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ValidationError(
            {"kpi": _("“%(key)s” is not a KPI of the catalogue.") % {"key": key}}
        ) from None


def parse_period(text: str | None, kind: str = "month") -> Period:
    """A period from its label, or the last whole one of ``kind``; a bad one names itself."""
    try:
        period = Period.parse(text) if text else default_period(kind)
    except PeriodError as error:
        raise ValidationError({"period": str(error)}) from None
    if period.start > timezone.localdate():
        raise ValidationError({"period": _("%(period)s has not begun yet: its figures do not exist.")
                               % {"period": period.label}})
    return period


# ---------------------------------------------------------------- targets


def may_set_targets(user) -> bool:
    return manages_accounts(user)


def set_target(actor, key: str, period: str, value, via: str = "ui") -> KpiTarget:
    """Set (or replace) the target of one KPI for one period; managers and admins only."""
    if not may_set_targets(actor):
        raise PermissionDenied(_("Only managers and administrators may set KPI targets."))
    kpi, label, number = check_target(key, period, value)
    with transaction.atomic():
        target = KpiTarget.objects.select_for_update().filter(kpi=kpi.key, period=label).first()
        before = None if target is None else target.value
        if target is None:
            target = KpiTarget(kpi=kpi.key, period=label)
        target.value, target.set_by, target.set_at = number, actor, timezone.now()
        target.save()
        audit.record(actor, via, "create" if before is None else "update", target, {"value": [before, number]})
    return target


def target_value(key: str, period: str) -> float | None:
    """The target set for one KPI and period (its label, e.g. 2026-Q4), or None."""
    return KpiTarget.objects.filter(kpi=key, period=period).values_list("value", flat=True).first()


def remove_target(actor, key: str, period: str, via: str = "ui") -> bool:
    if not may_set_targets(actor):
        raise PermissionDenied(_("Only managers and administrators may set KPI targets."))
    label = parse_period(period).label
    with transaction.atomic():
        target = KpiTarget.objects.filter(kpi=find(key).key, period=label).first()
        if target is None:
            return False
        audit.record(actor, via, "delete", target, {"value": [target.value, None]})
        target.delete()
    return True


def check_target(key: str, period: str, value) -> tuple[KPI, str, float]:
    """The KPI, the period's label and the target as a number, or a ValidationError per field."""
    errors, kpi, label, number = {}, None, None, None
    for field, check in (("kpi", lambda: find(key)), ("period", lambda: parse_period(period).label)):
        try:
            found = check()
        except ValidationError as error:
            errors.update(error.message_dict)
            continue
        kpi, label = (found, label) if field == "kpi" else (kpi, found)
    if kpi is not None:
        try:
            number = _target_value(kpi, value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return kpi, label, number


def _target_value(kpi: KPI, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValidationError({"value": _("The target of %(kpi)s must be a number, not “%(value)s”.")
                               % {"kpi": kpi.name, "value": value}})
    if kpi.unit == "score" and not -100 <= number <= 100:
        raise ValidationError({"value": _("An NPS target lies between −100 and 100.")})
    if kpi.unit != "score" and number < 0:
        raise ValidationError({"value": _("The target of %(kpi)s cannot be negative.") % {"kpi": kpi.name}})
    if kpi.unit == "percent" and number > 1 and kpi.key not in ("nrr",):
        raise ValidationError({"value": _("The target of %(kpi)s is a share from 0 to 1 (0.9 for 90%%).")
                               % {"kpi": kpi.name}})
    return number


# ---------------------------------------------------------------- export


def table_rows(rows: list[Row], period: Period) -> tuple[list[str], list[list]]:
    """The KPI table as a header and rows in the user's language, for CSV and XLSX."""
    header = [
        _("Stage"), _("KPI"), _("Key"), _("Period"), _("Value"), _("Unit"), _("Numerator"), _("Denominator"),
        _("Previous period"), _("Change"), _("Target"), _("Status"), _("Owning team"), _("Formula"),
        _("No data because"),
    ]
    out = []
    for row in rows:
        r, kpi = row.result, row.kpi
        out.append([
            str(STAGES[kpi.stage]), str(kpi.name), kpi.key, period.label, r.value if r.has_value else None,
            str(UNITS[kpi.unit]), r.numerator, r.denominator,
            row.previous.value if row.previous.has_value else None, row.change, row.target,
            str(STATUS_LABELS[row.status]), str(TEAMS[kpi.team]), str(kpi.formula), r.no_data or "",
        ])
    return header, out


def write_csv(rows: list[Row], period: Period) -> bytes:
    return export.table_csv(*table_rows(rows, period))


def write_xlsx(rows: list[Row], period: Period) -> bytes:
    return export.table_xlsx(*table_rows(rows, period), period.label)
