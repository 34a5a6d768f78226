"""What every KPI function takes and gives: the Scope of records, and the Result."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
from django.core.exceptions import ValidationError
from django.db.models import Min, Q, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.analytics.revenue import account_mrr_by_month
from clm.commerce.frames import change_frame
from clm.commerce.models import SubscriptionChange
from clm.core.access import restrict, sees_everything, visible_records
from clm.customers.models import Account
from clm.reports.periods import Period
from clm.value.models import TierAssignment
from clm.value.services.benefits import tier_keys


@dataclass
class Result:
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    account_ids: list[int] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)
    groups: dict[str, list[int]] = field(default_factory=dict)  # the accounts behind each breakdown entry
    no_data: str | None = None  # why there is no value, in the user's language

    @property
    def has_value(self) -> bool:
        return self.no_data is None and self.value is not None


def missing(reason) -> Result:
    return Result(no_data=str(reason))


def share(numerator, denominator, account_ids, *, when_empty, breakdown=None) -> Result:
    """numerator / denominator, or no data (``when_empty``) without a denominator."""
    if not denominator:
        return missing(when_empty)
    return Result(
        value=numerator / denominator,
        numerator=float(numerator),
        denominator=float(denominator),
        account_ids=sorted(int(i) for i in account_ids),
        breakdown=breakdown or {},
    )


def mean(values: pd.Series, account_ids, *, when_empty, breakdown=None) -> Result:
    if values.empty:
        return missing(when_empty)
    return Result(
        value=float(values.mean()),
        numerator=float(values.sum()),
        denominator=float(len(values)),
        account_ids=sorted({int(i) for i in account_ids}),
        breakdown=breakdown or {},
    )


SEGMENT_IDS = 10_000  # a segment up to this many accounts is read as a list of ids (see Scope._in_segment)


@dataclass(frozen=True)
class Segment:
    """Accounts narrowed by industry, region, sales owner, team (owner's or CSM's), tag or value
    tier (the tier of the latest day tiers were computed on: the accounts' tier now, as the
    accounts list reads it)."""

    industry: str = ""
    region: str = ""
    owner: int | None = None
    team: int | None = None
    tag: int | None = None
    tier: str = ""

    def __bool__(self) -> bool:
        return bool(self.industry or self.region or self.owner or self.team or self.tag or self.tier)

    def q(self, prefix: str = "") -> Q:
        condition = Q()
        if self.industry:
            condition &= Q(**{f"{prefix}industry": self.industry})
        if self.region:
            condition &= Q(**{f"{prefix}region": self.region})
        if self.owner:
            condition &= Q(**{f"{prefix}sales_owner_id": self.owner})
        if self.team:
            condition &= Q(**{f"{prefix}sales_owner__team_id": self.team}) | Q(**{f"{prefix}csm__team_id": self.team})
        if self.tag:
            condition &= Q(**{f"{prefix}tags": self.tag})
        if self.tier:
            condition &= Q(**{f"{prefix}pk__in": in_tier(self.tier)})
        return condition

    def as_query(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


def in_tier(tier: str):
    """The ids of the accounts in value tier ``tier`` on the latest tier day (clm.value), as a
    sub-select: one query with the list or figure it narrows."""
    latest = TierAssignment.objects.order_by("-as_of").values("as_of")[:1]
    return TierAssignment.objects.filter(as_of=Subquery(latest), tier=tier).values("account_id")


def check_tier(tier: str) -> str:
    """``tier`` when it is a value tier's key (or empty); otherwise the tiers there are, named."""
    keys = tier_keys()
    if tier and tier not in keys:
        raise ValidationError({"tier": _("“%(tier)s” is not a value tier; the tiers are: %(keys)s.")
                               % {"tier": tier, "keys": ", ".join(keys)}})
    return tier


class Scope:
    """The records one user may see (clm.core.access; ``user=None``: every record, for the CLI
    and scheduled jobs), narrowed to a segment; the frames several KPIs read are loaded once, up
    to ``today``, and each period reads its slice. ``since``: the first day the scope's readers
    ask about (a KPI table: the previous period's start), from which dated records are loaded
    once for every period that lies in the span (see ``dated``)."""

    def __init__(self, user, segment: Segment | None = None, today: dt.date | None = None,
                 since: dt.date | None = None):
        self.user = user
        self.segment = segment or Segment()
        self.today = today or timezone.localdate()
        self.since = since
        self._memo = {}

    def cover(self, start: dt.date) -> None:
        """Widen the span the scope loads dated records for to begin on ``start`` at the latest."""
        self.since = start if self.since is None else min(self.since, start)

    def dated(self, name: str, period: Period, load, lead_days: int = 0):
        """``load(first_day)``: records dated from ``first_day`` to today, read once per scope for
        every period inside its span (``since`` .. today; a period before it reads from its own
        start), and ``lead_days`` before it for a trailing window that begins before its period;
        the caller takes the period's slice."""
        first = self.since if self.since is not None and self.since <= period.start else period.start
        first -= dt.timedelta(days=lead_days)
        return self.memo(("dated", name, first), lambda: load(first))

    def inside(self, period: Period, days: pd.Series) -> pd.Series:
        """Which days (dates) of a frame ``dated`` loaded fall in the period so far."""
        return (days >= period.start) & (days <= period.as_of(self.today))

    def memo(self, key, compute):
        """``compute()`` once per scope: a frame several KPIs or periods read."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @cached_property
    def sees_all(self) -> bool:
        """Whether the scope's reader sees every record: what it reads of a segment is then the
        same for every such reader (clm.reports.snapshots stores it for them all)."""
        return self.user is None or sees_everything(self.user)

    @property
    def company_wide(self) -> bool:
        """The whole company's records: company figures (spend, leads) only make sense then."""
        return self.sees_all and not self.segment

    def visible(self, model):
        """Every record of ``model`` the scope's user may see (records without an account too)."""
        return model._default_manager.all() if self.user is None else visible_records(model, self.user)

    @cached_property
    def _in_segment(self):
        """The segment's accounts, found once per scope: every record the scope reads filters by
        them. Their ids when there are at most SEGMENT_IDS (a list the database looks up by key,
        instead of the segment's conditions evaluated again in each of the page's queries); above
        that, a sub-select (each statement would carry tens of thousands of ids; measured up to
        3,361: the 10,000-account demo's largest industry, whose overview read 1.24 s of SQL on
        PostgreSQL through the sub-select and 0.46 s through its ids). Not a join either way: a tag
        would repeat rows, and DISTINCT fights ORDER BY."""
        within = Account.objects.filter(self.segment.q()).values("pk")
        ids = list(within.order_by("pk").values_list("pk", flat=True)[: SEGMENT_IDS + 1])
        # none: the sub-select too (an empty list makes Django refuse to write the statement,
        # which frames read as SQL)
        return id_list(ids) if 0 < len(ids) <= SEGMENT_IDS else within

    @property
    def accounts(self):
        accounts = self.visible(Account)
        return accounts.filter(pk__in=self._in_segment) if self.segment else accounts

    def records(self, queryset, path: str = "account"):
        """Account-owned records (orders, tickets...) of the scope's accounts."""
        if self.user is not None:
            queryset = restrict(queryset, self.user, path)
        return queryset.filter(**{f"{path}__in": self._in_segment}) if self.segment else queryset

    @cached_property
    def changes(self) -> pd.DataFrame:
        """The scope's contract ledger up to today (clm.commerce.frames), oldest first."""
        return change_frame(self.records(SubscriptionChange.objects.all()), as_of=self.today)

    @cached_property
    def mrr(self) -> pd.DataFrame:
        """Each account's MRR at the end of each month up to today (clm.analytics.revenue)."""
        return account_mrr_by_month(self.changes, end=self.today)

    def mrr_at(self, month_end: dt.date) -> pd.Series:
        """MRR per account at the end of the month of ``month_end`` (accounts with MRR only)."""
        month = pd.Period(month_end, "M")

        def compute():
            rows = self.mrr[self.mrr["month"] == month]
            return rows.set_index("account_id")["mrr"]

        return self.memo(("mrr at", month), compute)

    def day_range(self, period: Period) -> tuple[dt.datetime, dt.datetime]:
        """The period as aware datetimes [start, end) in the current time zone, for timestamps."""
        return day_start(period.start), day_start(period.as_of(self.today) + dt.timedelta(days=1))


def id_list(ids) -> RawSQL:
    """Integer ids as the right side of ``__in``, written into the statement as literals: Django
    would otherwise prepare each id again for every query that filters by the list (the segment's
    ids in each of a page's queries), and SQLite caps the parameters of a statement."""
    return RawSQL(",".join(str(int(i)) for i in ids), ())  # integers only, made here


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the current time zone (aware)."""
    return dt.datetime.combine(day, dt.time.min, timezone.get_current_timezone())


def not_computed_by(model, scope: Scope, what) -> str:
    """Why a table of daily results (CLV estimates, value classes) has nothing for a period."""
    first = scope.memo(("first computed", model._meta.label),
                       lambda: scope.records(model.objects.all()).aggregate(first=Min("as_of"))["first"])
    if first is None:
        return _("%(what)s has not been computed yet (run “clm clv”).") % {"what": what}
    return _("%(what)s: first computed on %(first)s, after this period.") % {"what": what, "first": first}


def finite(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
