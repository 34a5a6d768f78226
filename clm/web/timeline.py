"""The customer 360 read model: one account's whole history on one timeline — interactions,
orders, contract changes, payments, tickets, survey responses, early-warning signals and weekly usage — newest first,
paginated by an opaque cursor.

Each source is read with its (account, date) index, at most one page deep, and the sources are
merged; so a page costs one small query per source whatever the length of the history."""

import base64
import datetime as dt
import heapq
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from clm.automation.models import Case, Task
from clm.commerce.models import Order, Payment, SubscriptionChange
from clm.customers.models import Interaction
from clm.lifecycle import words as lifecycle_words
from clm.lifecycle.models import Signal
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import UsageDaily
from clm.web import explain
from clm.web.templatetags.workspace import person

MAX_LIMIT = 200


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Position:
    """Where an item sits on the timeline: ordered by time, then source, then id."""

    at: dt.datetime
    rank: int
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.rank}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> "Position":
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            at, rank, id_ = raw.split("|")
            position = cls(dt.datetime.fromisoformat(at), int(rank), int(id_))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadCursor(f"cursor {cursor!r} is not one this timeline gave out") from exc
        if position.at.tzinfo is None:
            raise BadCursor(f"cursor {cursor!r} is not one this timeline gave out")
        return position


@dataclass
class Item:
    kind: str
    at: dt.datetime
    id: int
    title: str
    data: dict = field(default_factory=dict)
    rank: int = 0

    @property
    def position(self) -> Position:
        return Position(self.at, self.rank, self.id)


@dataclass
class Page:
    items: list[Item]
    next_cursor: str | None


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone())


class Source:
    """One kind of record on the timeline. Subclasses name the model, its time field and how a
    record reads; rank orders sources that share a timestamp."""

    kind: str
    rank: int
    model = None
    time_field: str
    is_date = False
    related: tuple[str, ...] = ()

    def queryset(self, account_id: int):
        return self.model.objects.filter(account_id=account_id).select_related(*self.related)

    def after(self, cursor: Position | None) -> Q:
        """Records strictly after `cursor` in timeline order (i.e. older, or equal and lower)."""
        if cursor is None:
            return Q()
        f = self.time_field
        if self.is_date:
            local = cursor.at.astimezone(zone())
            day, exact = local.date(), local.timetz().replace(tzinfo=None) == dt.time.min
            if not exact:  # midnight of `day` is before the cursor: the whole day qualifies
                return Q(**{f"{f}__lte": day})
            bound = cursor.at
        else:
            bound, day = cursor.at, None
        key = day if self.is_date else bound
        if self.rank < cursor.rank:
            return Q(**{f"{f}__lte": key})
        if self.rank == cursor.rank:
            return Q(**{f"{f}__lt": key}) | Q(**{f: key, "id__lt": cursor.id})
        return Q(**{f"{f}__lt": key})

    def page(self, account_id: int, cursor: Position | None, limit: int) -> list[Item]:
        rows = self.queryset(account_id).filter(self.after(cursor)).order_by(f"-{self.time_field}", "-id")[:limit]
        return [self.item(row) for row in rows]

    def stamp(self, row) -> dt.datetime:
        value = getattr(row, self.time_field)
        return midnight(value) if self.is_date else value

    def item(self, row) -> Item:
        raise NotImplementedError


class Interactions(Source):
    kind, rank, model, time_field = "interaction", 6, Interaction, "occurred_at"
    related = ("contact", "owner")

    def item(self, row):
        return Item(self.kind, row.occurred_at, row.pk, row.get_type_display(), {
            "type": row.type,
            "direction": row.direction,
            "summary": row.summary,
            "outcome": row.outcome,
            "contact": row.contact.name if row.contact else None,
            "owner": person(row.owner) if row.owner else None,
        }, self.rank)


class Tickets(Source):
    kind, rank, model, time_field = "ticket", 5, Ticket, "opened_at"

    def item(self, row):
        return Item(self.kind, row.opened_at, row.pk, row.subject, {
            "priority": row.priority,
            "status": row.status,
            "category": row.category,
            "first_response_at": row.first_response_at,
            "resolved_at": row.resolved_at,
            "csat": row.csat,
        }, self.rank)


class Surveys(Source):
    kind, rank, model, time_field = "survey", 4, SurveyResponse, "responded_at"

    def item(self, row):
        return Item(self.kind, row.responded_at, row.pk, f"{row.get_kind_display()}: {row.score}", {
            "survey": row.kind, "score": row.score, "comment": row.comment,
        }, self.rank)


class Orders(Source):
    kind, rank, model, time_field, is_date = "order", 3, Order, "ordered_on", True

    def item(self, row):
        return Item(self.kind, self.stamp(row), row.pk, f"Order {row.external_id or row.pk}", {
            "amount": row.amount, "cost": row.cost, "gross_margin": row.gross_margin,
        }, self.rank)


class ContractChanges(Source):
    kind, rank, model, time_field, is_date = "contract", 2, SubscriptionChange, "effective_date", True
    related = ("subscription__product",)

    def item(self, row):
        product = row.subscription.product
        return Item(self.kind, self.stamp(row), row.pk, row.get_kind_display(), {
            "change": row.kind,
            "subscription_id": row.subscription_id,
            "product": product.name if product else None,
            "mrr_before": row.mrr_before,
            "mrr_after": row.mrr_after,
            "seats_before": row.seats_before,
            "seats_after": row.seats_after,
        }, self.rank)


class Payments(Source):
    kind, rank, model, time_field, is_date = "payment", 1, Payment, "due_on", True

    def item(self, row):
        today = dt.datetime.now(zone()).date()
        return Item(self.kind, self.stamp(row), row.pk, f"Payment due {row.due_on}", {
            "amount": row.amount,
            "status": row.status,
            "paid_on": row.paid_on,
            "overdue": row.is_overdue(today),
            "days_late": row.days_late(today),
        }, self.rank)


class WeeklyUsage(Source):
    """Usage as one item per week (from the daily rollups, which outlive raw events)."""

    kind, rank, model, time_field, is_date = "usage", 0, UsageDaily, "day", True

    def page(self, account_id, cursor, limit):
        rows = UsageDaily.objects.filter(account_id=account_id)
        if cursor is not None:
            # Weeks whose start sorts after the cursor; their days all lie before the next Monday.
            local = cursor.at.astimezone(zone())
            start = local.date() - dt.timedelta(days=local.weekday())
            if midnight(start) > cursor.at or (midnight(start) == cursor.at and self.rank >= cursor.rank):
                start -= dt.timedelta(days=7)
            rows = rows.filter(day__lt=start + dt.timedelta(days=7))
        # Daily rows newest first: (limit + 2) weeks' worth always covers limit + 1 whole weeks
        # (the oldest week touched may be cut short, so it is dropped when the fetch was full).
        wanted = (limit + 2) * 7
        days = list(rows.order_by("-day").values_list("day", "events", "minutes", "active_users")[:wanted])
        weeks: dict[dt.date, list] = {}
        for day, events, minutes, users in days:
            start = day - dt.timedelta(days=day.weekday())
            week = weeks.setdefault(start, [0, 0.0, 0])
            week[0] += events
            week[1] += minutes
            week[2] = max(week[2], users)
        starts = list(weeks)
        if len(days) == wanted:
            starts = starts[:-1]
        items = []
        for start in starts[:limit]:
            events, minutes, peak = weeks[start]
            items.append(Item(self.kind, midnight(start), start.toordinal(), f"Week of {start}", {
                "events": events, "minutes": round(minutes, 1), "peak_daily_users": peak,
            }, self.rank))
        return items


class Tasks(Source):
    kind, rank, model, time_field = "task", 8, Task, "created_at"
    related = ("assignee",)

    def item(self, row):
        return Item(self.kind, row.created_at, row.pk, row.title, {
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "assignee": row.assignee,
            "due_at": row.due_at,
            "outcome": row.outcome,
            "case_id": row.case_id,
        }, self.rank)


class Cases(Source):
    kind, rank, model, time_field = "case", 7, Case, "created_at"
    related = ("owner", "root_cause")

    def item(self, row):
        return Item(self.kind, row.created_at, row.pk, lifecycle_words.case_reason(row.reason), {
            "type_label": str(row.get_type_display()),
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "outcome_label": str(row.get_outcome_display()) if row.outcome else "",
            "root_cause": row.root_cause.label() if row.root_cause else "",
            "owner": row.owner,
        }, self.rank)


class Signals(Source):
    """Early-warning signals on the day they opened, named in the reader's language by their kind."""

    kind, rank, model, time_field, is_date = "signal", 9, Signal, "opened_on", True

    def item(self, row):
        words = explain.signal_words(row)
        return Item(self.kind, midnight(row.opened_on), row.pk, words["title"], {
            "explanation": words["explanation"],
            "sentences": explain.signal_sentences(row.values),
            "closed_on": row.closed_on,
        }, self.rank)


SOURCES = {
    s.kind: s
    for s in (
        Interactions(), Tickets(), Surveys(), Orders(), ContractChanges(), Payments(), WeeklyUsage(), Tasks(), Cases(),
        Signals(),
    )
}


def timeline(account_id: int, *, cursor: str | None = None, limit: int = 50, kinds: list[str] | None = None) -> Page:
    """One page of the account's timeline, newest first. `kinds` limits the sources; the
    caller has already checked that the user may see the account (clm.core.access)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    unknown = set(kinds or ()) - SOURCES.keys()
    if unknown:
        raise ValueError(f"unknown timeline kinds: {', '.join(sorted(unknown))} (known: {', '.join(SOURCES)})")
    position = Position.decode(cursor) if cursor else None
    sources = [SOURCES[k] for k in kinds] if kinds else list(SOURCES.values())
    streams = [source.page(account_id, position, limit + 1) for source in sources]
    merged = heapq.merge(*streams, key=lambda item: item.position, reverse=True)
    items = [item for _, item in zip(range(limit + 1), merged, strict=False)]
    more = len(items) > limit
    items = items[:limit]
    return Page(items, items[-1].position.encode() if more and items else None)
