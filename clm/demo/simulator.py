"""The demo company simulator behind `clm simulate` and `clm demo`: a believable B2B SaaS customer
base (云帆智联, selling a work-management platform to Chinese and international companies),
deterministic for a seed and an as-of date, written in bulk.

What it writes: accounts with their scene tags, decision chains and referrals; the sales funnel
(leads MAL→MQL→SQL→converted/disqualified, opportunities with stage history, channel spend);
contracts with their MRR ledger (new, renewals, expansions, contractions, churn, reactivation,
each change classified as clm.commerce.services.classify_change does); orders with lines, costs
and payments (some late, some still overdue); tickets, NPS and CSAT responses, interactions by
the owners and CSMs; product usage; and, per account, the ground truth (clm.demo.models.TrueState:
archetype, true churn date and cause, return and dormancy dates, latent propensities), which the
application itself never reads. How the world is drawn: clm.demo.world and clm.demo.usage.

Usage volume. History is written as the daily rollups directly (UsageDaily, UsageFeatureDaily,
UsageDailyUser, consistent with one another: a day's active_users is the number of its
UsageDailyUser rows and its events are its logins plus its feature sessions). Raw events
(UsageEvent) exist only for the last `raw_event_days` days before the as-of date; those days'
rollups are computed from the events by clm.usage.services.add_to_rollups, as store_events does. Older raw
events are exactly what the retention would have pruned (retention counted from the as-of date):
a real installation holds the same shape of data.

Same seed and as-of date, same data: nothing reads the clock except the default as-of (today)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from clm.commerce.models import Order, OrderLine, Payment, Product, Subscription, SubscriptionChange
from clm.core.crud import english_name
from clm.core.models import Role, Team, User, Workspace
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory
from clm.demo import names as P
from clm.demo import writer
from clm.demo.models import TrueState
from clm.demo.usage import UsageModel
from clm.demo.world import Spec, World, to_date
from clm.sales.models import ChannelSpend, Lead, Opportunity, OpportunityStageChange
from clm.sales.pipelines import install_built_in
from clm.service.models import SurveyResponse, Ticket
from clm.usage.models import Feature, UsageDaily, UsageDailyUser, UsageEvent, UsageFeatureDaily
from clm.usage.services import EVENT_COLUMNS, add_to_rollups

DEMO_PASSWORD = "clm-demo-2026"
SOURCE = "demo"
MAX_ACCOUNTS = 1_000_000
MAX_MONTHS = 120

# frame -> model, and the frame each foreign-key column's local row numbers point into
TABLES = [
    ("product", Product, {}),
    ("tag_category", TagCategory, {}),
    ("tag", Tag, {"category_id": "tag_category"}),
    ("account", Account, {"parent_id": "account", "sales_owner_id": "user", "csm_id": "user",
                          "referred_by_account_id": "account", "referred_by_contact_id": "contact"}),
    ("contact", Contact, {"account_id": "account"}),
    ("account_tag", Account.tags.through, {"account_id": "account", "tag_id": "tag"}),
    ("subscription", Subscription, {"account_id": "account", "product_id": "product"}),
    ("subscription_change", SubscriptionChange, {"subscription_id": "subscription", "account_id": "account"}),
    ("order", Order, {"account_id": "account"}),
    ("order_line", OrderLine, {"order_id": "order", "product_id": "product"}),
    ("payment", Payment, {"account_id": "account", "order_id": "order", "subscription_id": "subscription"}),
    ("lead", Lead, {"owner_id": "user", "account_id": "account", "contact_id": "contact"}),
    ("opportunity", Opportunity, {"account_id": "account", "owner_id": "user"}),
    ("stage_change", OpportunityStageChange, {"opportunity_id": "opportunity", "changed_by_id": "user"}),
    ("channel_spend", ChannelSpend, {}),
    ("ticket", Ticket, {"account_id": "account", "contact_id": "contact"}),
    ("survey_response", SurveyResponse, {"account_id": "account", "contact_id": "contact"}),
    ("interaction", Interaction, {"account_id": "account", "contact_id": "contact", "owner_id": "user"}),
    ("true_state", TrueState, {"account_id": "account"}),
]  # fmt: skip
USAGE_TABLES = [UsageDaily, UsageFeatureDaily, UsageDailyUser, UsageEvent, Feature]
GENERATED = [model for _, model, _ in TABLES] + USAGE_TABLES

Progress = Callable[[float, str], None]


class SimulationError(Exception):
    """The simulation cannot run with these arguments or on this database; nothing was written."""


@dataclass
class Result:
    spec: Spec
    start: dt.date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    # the drawn world and its accounts' ids, which clm.demo.plays changes as the plays work
    world: World | None = field(default=None, repr=False)
    account_ids: np.ndarray | None = field(default=None, repr=False)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def check_arguments(accounts: int, months: int, seed: int, as_of: dt.date, raw_event_days: int) -> None:
    problems = []
    if not 1 <= accounts <= MAX_ACCOUNTS:
        problems.append(f"--accounts {accounts}: must be between 1 and {MAX_ACCOUNTS:,}")
    if not 1 <= months <= MAX_MONTHS:
        problems.append(f"--months {months}: must be between 1 and {MAX_MONTHS}")
    if not 0 <= seed < 2**63:
        problems.append(f"--seed {seed}: must be a non-negative integer below 2^63")
    if not dt.date(2000, 1, 1) <= as_of <= timezone.localdate():
        problems.append(
            f"--as-of {as_of}: must be a date from 2000-01-01 to today (nothing is simulated in the future)"
        )
    retention = Workspace.current().event_retention_days
    if not 0 <= raw_event_days <= min(retention, 28 * months):
        problems.append(
            f"--raw-event-days {raw_event_days}: must be between 0 and {min(retention, 28 * months)}"
            f" (the raw-event retention, {retention} days, and the simulated period)"
        )
    if problems:
        raise SimulationError("; ".join(problems))


def simulate(
    accounts: int,
    months: int,
    seed: int,
    as_of: dt.date | None = None,
    *,
    wipe: bool = False,
    raw_event_days: int = 30,
    progress: Progress | None = None,
) -> Result:
    """Build the demo company into the database, in one transaction. With wipe, all customer data
    is removed first; without it, the customer base must be empty."""
    as_of = as_of or timezone.localdate()
    _refuse_unmigrated_database()
    check_arguments(accounts, months, seed, as_of, raw_event_days)
    if not wipe:
        _refuse_existing_customers()  # before the draw, so the answer is immediate
    report = progress or (lambda fraction, label: None)
    lap = Laps()
    offset = ZoneInfo(settings.TIME_ZONE).utcoffset(dt.datetime.combine(as_of, dt.time(12)))
    spec = Spec(accounts, months, seed, as_of, raw_event_days, round(offset.total_seconds() / 3600))
    world = World(spec).build(lambda f, label: report(0.25 * f, f"drawing the company: {label}"))
    usage = UsageModel(world)
    lap("draw")

    loader = writer.Loader()
    written = [model for _, model, _ in TABLES] + USAGE_TABLES
    with connection.constraint_checks_disabled(), transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle pending checks before TRUNCATE
        if wipe:
            report(0.26, "clearing existing customer data")
            writer.wipe()
            install_built_in()  # the built-in pipelines, were an admin to have deleted one
            lap("wipe")
        else:
            _refuse_existing_customers()
        user_ids = ensure_users(world.frames["user"])
        with writer.relaxed_constraints(written):
            first = _write_tables(world, loader, user_ids, report)
            lap("tables")
            account_ids = first["account"] + np.arange(world.N)
            _write_usage(world, usage, loader, account_ids, report, lap)
            report(0.97, "restoring indexes and foreign keys")
        writer.reset_sequences(written)
        lap("restore constraints")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    lap("commit")
    if connection.vendor == "postgresql" and connection.get_autocommit():
        with connection.cursor() as cursor:
            for model in written:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        lap("analyze")
    report(1.0, "done")
    return Result(spec, to_date(world.S), dict(loader.rows), lap.total, dict(lap.times), world, account_ids)


def _refuse_unmigrated_database() -> None:
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise SimulationError("the database is not up to date: run `clm migrate` first")


def _refuse_existing_customers() -> None:
    count = Account.objects.count()
    if count:
        raise SimulationError(
            f"the database already holds {count:,} accounts; the simulator builds a whole company into an"
            " empty customer base: pass --wipe to replace the existing customer data"
        )


class Laps:
    """Wall time per phase, for the command's summary and the benchmark."""

    def __init__(self):
        self.began = self.last = time.perf_counter()
        self.times: dict[str, float] = {}

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[phase] = self.times.get(phase, 0.0) + now - self.last
        self.last = now

    @property
    def total(self) -> float:
        return self.last - self.began


def _write_tables(
    world: World, loader: writer.Loader, user_ids: np.ndarray, report: Progress
) -> dict[str, int]:
    """Write every frame with explicit ids; returns the first id given to each frame's rows."""
    frames = dict(world.frames)
    frames["order"] = frames["order"].drop(columns=["subscription"])
    first = {name: writer.next_id(model) for name, model, _ in TABLES}
    for n, (name, model, fks) in enumerate(TABLES):
        frame = frames[name].copy()
        frame.insert(0, "id", first[name] + np.arange(len(frame)))
        for column, target in fks.items():
            local = frame[column].to_numpy(np.int64)
            ids = user_ids[np.maximum(local, 0)] if target == "user" else first[target] + local
            frame[column] = np.where(local >= 0, ids, -1)
        _complete(model, frame)
        loader.write(model, frame)
        report(0.27 + 0.13 * (n + 1) / len(TABLES), f"writing {english_name(model, plural=True)}")
    features = pd.DataFrame(
        [
            (writer.next_id(Feature) + k, key, name, core)
            for k, (key, name, core, *_rest) in enumerate(P.FEATURES)
        ],
        columns=["id", "key", "name", "is_core"],
    )
    loader.write(Feature, features)
    return first


def _write_usage(
    world: World,
    usage: UsageModel,
    loader: writer.Loader,
    account_ids: np.ndarray,
    report: Progress,
    lap: Laps,
    *,
    only: np.ndarray | None = None,
    since: int | None = None,
    stream: str = "usage",
) -> None:
    """Write the usage history and the last days' raw events; ``only``, ``since`` and ``stream``
    write those of some accounts (local numbers) from a day on, drawn from their own stream (what
    clm.demo.plays does when a play changes an account's future)."""
    lo = world.S if since is None else max(world.S, since)
    history = usage.chunks(lo, usage.history_to, only)
    # a whole build's rollups get their keys once loaded; a play's rewrite of a few accounts keeps them
    with writer.keys_built_after([UsageDaily, UsageFeatureDaily, UsageDailyUser] if only is None else []):
        # nothing refers to usage rows: the database numbers them, in the (deterministic) order written
        for n, (daily, feature) in enumerate(usage.history(only, since, stream)):
            for model, frame in ((UsageDaily, daily), (UsageFeatureDaily, feature)):
                frame["account_id"] = account_ids[frame["account_id"].to_numpy()]
                loader.write(model, frame)
            report(0.40 + 0.40 * (n + 1) / max(len(history), 1), "writing usage history (daily rollups)")
        lap("usage history")
        report(0.80, "writing usage history (active users per day)")
        loader.rows[UsageDailyUser._meta.label] = writer.expand_daily_users(
            usage.history_to,
            since=lo,
            accounts=None if only is None else [int(a) for a in account_ids[only]],
        )
        lap("usage history: daily users")
    lap("usage history: keys built")
    chunks = usage.chunks(max(lo, usage.history_to), world.E + 1, only)
    for n, events in enumerate(usage.raw_events(only, since, stream)):
        frame = pd.DataFrame({
            "account_id": account_ids[events["account"].to_numpy()],
            "contact_id": pd.Series(pd.NA, index=events.index, dtype="Int64"),
            "user_key": events["user_key"], "event": events["event"], "feature": events["feature"],
            "occurred_at": pd.to_datetime(events["occurred_at"].to_numpy(), unit="s", utc=True),
            "quantity": 1.0, "duration_seconds": events["duration_seconds"].astype(float), "properties": "{}",
            "idempotency_key": events["idempotency_key"],
        })[EVENT_COLUMNS]  # fmt: skip
        # What store_events does, minus its duplicate check (every key here is new): the events
        # in bulk, then add_to_rollups over exactly those events.
        loader.write(
            UsageEvent,
            frame.assign(occurred_at=events["occurred_at"].to_numpy(), contact_id=-1),
        )
        add_to_rollups(frame)
        featured = events[events["feature"] != ""]
        for model, rows in (
            (UsageDaily, len(events.drop_duplicates(["account", "day"]))),
            (UsageDailyUser, len(events.drop_duplicates(["account", "day", "user_key"]))),
            (UsageFeatureDaily, len(featured.drop_duplicates(["account", "day", "feature"]))),
        ):
            loader.rows[model._meta.label] = loader.rows.get(model._meta.label, 0) + rows
        report(0.85 + 0.12 * (n + 1) / max(len(chunks), 1), "storing the last days' raw events")
    lap("raw events")


def _complete(model: type[models.Model], frame: pd.DataFrame) -> None:
    """Give every NOT NULL column the frame lacks its model default (source = demo for imported
    kinds). A default that reads the clock would make the data depend on the day: refuse it."""
    for f in model._meta.concrete_fields:
        if f.column in frame.columns or f.null or f.primary_key or f.db_default is not models.NOT_PROVIDED:
            continue
        if f.name == "source":
            frame[f.column] = SOURCE
            continue
        if f.has_default() and f.default is not timezone.now:
            value = f.get_default()
        elif f.empty_strings_allowed and not f.has_default() and not getattr(f, "auto_now", False):
            value = ""
        else:
            raise ValueError(f"{model._meta.label}.{f.name}: the simulator must set it")
        frame[f.column] = [value] * len(frame) if isinstance(value, dict | list) else value


def demo_password_hash() -> str:
    """One hash for every demo user: hashing is slow by design, and they share the password."""
    return _hash(tuple(settings.PASSWORD_HASHERS))


@lru_cache(maxsize=4)
def _hash(hashers: tuple[str, ...]) -> str:
    return make_password(DEMO_PASSWORD)


def ensure_users(frame: pd.DataFrame) -> np.ndarray:
    """The demo's staff (sales reps, CSMs, a marketer, a viewer) and the `admin` login: created
    when missing, with their teams and role groups; existing users of those names are kept.
    Returns the user ids in the frame's row order."""
    teams = sorted({t for t in frame["team"] if t})
    known = set(Team.objects.filter(name__in=teams).values_list("name", flat=True))
    Team.objects.bulk_create([Team(name=t) for t in teams if t not in known])
    team_id = dict(Team.objects.filter(name__in=teams).values_list("name", "id"))
    usernames = [*frame["username"], "admin"]
    existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    joined = timezone.make_aware(dt.datetime(2020, 1, 1, 9))
    new = [
        User(username=row.username, first_name=row.first_name, last_name=row.last_name, email=row.email,
             team_id=team_id.get(row.team), password=demo_password_hash(), date_joined=joined,
             language="zh-hans" if row.role != "Viewer" else "en")
        for row in frame.itertuples() if row.username not in existing
    ]  # fmt: skip
    if "admin" not in existing:
        new.append(
            User(
                username="admin",
                email="admin@yunfan-demo.cn",
                first_name="管理员",
                is_staff=True,
                is_superuser=True,
                password=demo_password_hash(),
                date_joined=joined,
            )
        )
    User.objects.bulk_create(new)
    ids = dict(User.objects.filter(username__in=usernames).values_list("username", "id"))
    groups = dict(Group.objects.filter(name__in=[r.value for r in Role]).values_list("name", "id"))
    wanted = [
        (ids[u], groups[role])
        for u, role in zip(frame["username"], frame["role"], strict=True)
        if role in groups
    ]
    if Role.ADMIN in groups:
        wanted.append((ids["admin"], groups[Role.ADMIN]))
    Through = User.groups.through
    Through.objects.bulk_create([Through(user_id=u, group_id=g) for u, g in wanted], ignore_conflicts=True)
    return np.array([ids[u] for u in frame["username"]], dtype=np.int64)


def set_demo_login() -> None:
    """Make sure `admin` / DEMO_PASSWORD logs in (the demo prints it)."""
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User(username="admin", email="admin@yunfan-demo.cn")
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    group = Group.objects.filter(name=Role.ADMIN).first()
    if group:
        admin.groups.add(group)


def digest(generated: list[type[models.Model]] | None = None) -> str:
    """A SHA-256 of every generated table's rows: equal digests, equal data. Rows are taken in
    primary-key order, except usage rows, which nothing refers to and the database numbers: those
    are compared without their ids, in the order of their other columns."""
    h = hashlib.sha256()
    for model in generated or GENERATED:
        columns = [f.attname for f in model._meta.concrete_fields]
        order = ["pk"]
        if model in USAGE_TABLES and model is not Feature:
            columns = [c for c in columns if c != "id"]
            order = columns
        h.update(f"{model._meta.db_table}:{','.join(columns)}\n".encode())
        for row in model.objects.order_by(*order).values_list(*columns).iterator(chunk_size=20_000):
            h.update(repr(tuple(_plain(v) for v in row)).encode())
    return h.hexdigest()


def _plain(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if hasattr(value, "normalize"):  # Decimal: 1234.5 and 1234.50 are the same amount
        return str(value.normalize())
    return value
