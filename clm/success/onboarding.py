"""Onboarding (激活期): the checklist each new customer gets from the activation definition that fits
it, milestones completed from product usage (the daily rollups and raw events) or by hand, and a
case for the CSM when a milestone is late, closed when it is done.

Each operation runs in one transaction, checks who may do it, is audited, and says what happened
as domain events after commit (`onboarding.started`, `onboarding.milestone_completed`,
`onboarding.activated`). An actor of None is the system (the daily run, ingestion)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.automation import work
from clm.automation.models import Case
from clm.commerce.models import Subscription
from clm.core import audit, services
from clm.core.access import visible_accounts, visible_records
from clm.core.bulk import save_fields
from clm.core.events import emit, emit_many
from clm.core.frames import read_frame
from clm.customers.models import Account, LifecycleStage
from clm.success import rules
from clm.success.models import ActivationDefinition, ActivationMilestone, Onboarding, OnboardingStep
from clm.usage.models import Feature, UsageDaily, UsageEvent, UsageFeatureDaily
from clm.value.models import TierAssignment

NEW_CUSTOMER_DAYS = 90  # an account in onboarding whose contract started this long ago at most gets one
CASE_DUE_DAYS = 7
K = ActivationMilestone.Kind


def _person(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(actor, perm: str, message) -> None:
    if actor is not None and not actor.has_perm(f"success.{perm}"):
        raise PermissionDenied(message)


# -- which definition fits --------------------------------------------------------------------


def _fit(definition: ActivationDefinition, industry: str, tier: str, products: set[int]) -> int | None:
    """How many of the definition's criteria the account meets, or None if one fails."""
    met = 0
    for wanted, have in ((definition.industry, industry), (definition.tier, tier)):
        if wanted:
            if wanted != have:
                return None
            met += 1
    if definition.product_id:
        if definition.product_id not in products:
            return None
        met += 1
    return met


def choose_definitions(account_ids: list[int], definitions=None) -> dict[int, ActivationDefinition]:
    """account id → the active definition with milestones that fits it best (most criteria met,
    then the lowest position); accounts no definition fits are left out."""
    definitions = list(
        definitions
        if definitions is not None
        else ActivationDefinition.objects.filter(active=True, milestones__isnull=False).distinct()
    )
    if not definitions or not account_ids:
        return {}
    industry = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "industry"))
    tier = {}
    if any(d.tier for d in definitions):
        last = TierAssignment.objects.filter(account_id__in=account_ids).aggregate(last=Max("as_of"))["last"]
        tier = dict(TierAssignment.objects.filter(account_id__in=account_ids, as_of=last).values_list("account_id", "tier"))
    products: dict[int, set[int]] = {}
    for a, p in Subscription.objects.filter(account_id__in=account_ids, product__isnull=False).values_list(
        "account_id", "product_id"
    ):
        products.setdefault(a, set()).add(p)
    chosen = {}
    for account_id in account_ids:
        ranked = [
            (-met, d.position, d.pk, d)
            for d in definitions
            if (met := _fit(d, industry.get(account_id, ""), tier.get(account_id, ""), products.get(account_id, set())))
            is not None
        ]
        if ranked:
            chosen[account_id] = min(ranked, key=lambda r: r[:3])[3]
    return chosen


def contract_starts(account_ids: list[int], as_of: dt.date) -> dict[int, dt.date]:
    """account id → the start of its latest contract begun by ``as_of`` (else its customer-since date)."""
    starts = dict(
        Subscription.objects.filter(account_id__in=account_ids, start_date__lte=as_of)
        .order_by().values("account_id").annotate(last=Max("start_date")).values_list("account_id", "last")
    )
    for pk, since in Account.objects.filter(pk__in=account_ids).values_list("pk", "customer_since"):
        if pk not in starts and since is not None and since <= as_of:
            starts[pk] = since
    return starts


# -- starting onboardings ---------------------------------------------------------------------


def _build(account_id: int, definition: ActivationDefinition, started_on: dt.date):
    onboarding = Onboarding(account_id=account_id, definition=definition, started_on=started_on)
    steps = [
        OnboardingStep(milestone=m, due_on=started_on + dt.timedelta(days=m.days_allowed))
        for m in definition.milestones.all()
    ]
    return onboarding, steps


@transaction.atomic
def start_onboarding(actor, account: Account, *, started_on: dt.date | None = None, definition=None,
                     via: str = "system") -> Onboarding:
    """A checklist for one account from the definition given or the one that fits it."""
    actor = _person(actor)
    _require(actor, "add_onboarding", _("You may not start onboardings."))
    if actor is not None and not visible_accounts(actor).filter(pk=account.pk).exists():
        raise PermissionDenied(_("You may not work on the account %(name)s.") % {"name": account.name})
    errors = {}
    started_on = started_on or contract_starts([account.pk], timezone.localdate()).get(account.pk)
    if started_on is None:
        errors["started_on"] = _("%(name)s has no contract yet: give the contract start.") % {"name": account.name}
    definition = definition or choose_definitions([account.pk]).get(account.pk)
    if definition is None:
        errors["definition"] = _("No activation definition fits %(name)s; add one, or one for every customer.") % {
            "name": account.name}
    elif not definition.milestones.exists():
        errors["definition"] = _("The activation definition %(name)s has no milestones yet.") % {
            "name": definition.label()}
    if Onboarding.objects.filter(account=account, status=Onboarding.Status.IN_PROGRESS).exists():
        errors["account"] = _("%(name)s is already onboarding.") % {"name": account.name}
    if errors:
        raise ValidationError(errors)
    onboarding, steps = _build(account.pk, definition, started_on)
    services.save_new(onboarding, actor=actor, via=via)
    for step in steps:
        step.onboarding = onboarding
    OnboardingStep.objects.bulk_create(steps)
    emit("onboarding.started", actor=actor, onboarding_id=onboarding.pk, account_id=account.pk,
         started_on=started_on.isoformat())
    return onboarding


@transaction.atomic
def start_new_onboardings(as_of: dt.date, account_ids: list[int] | None = None, *,
                          starts: dict[int, dt.date] | None = None, via: str = "system") -> list[Onboarding]:
    """Onboardings for the accounts in the onboarding stage whose contract started in the last
    NEW_CUSTOMER_DAYS days and who have none for that start (or, with ``starts``, for exactly those
    accounts and starts): written in bulk, audited, announced."""
    if starts is None:
        candidates = Account.objects.filter(lifecycle_stage=LifecycleStage.ONBOARDING)
        if account_ids is not None:
            candidates = candidates.filter(pk__in=account_ids)
        ids = list(candidates.values_list("pk", flat=True))
        starts = {a: s for a, s in contract_starts(ids, as_of).items()
                  if (as_of - s).days <= NEW_CUSTOMER_DAYS}
    if not starts:
        return []
    taken = set(Onboarding.objects.filter(account_id__in=list(starts)).filter(
        Q(status=Onboarding.Status.IN_PROGRESS) | Q(started_on__gte=min(starts.values()))
    ).values_list("account_id", flat=True))
    chosen = choose_definitions([a for a in starts if a not in taken])
    built = [_build(a, d, starts[a]) for a, d in chosen.items()]
    onboardings = Onboarding.objects.bulk_create([o for o, _steps in built])
    steps = []
    for made, (_made, own) in zip(onboardings, built, strict=True):
        for step in own:
            step.onboarding = made
            steps.append(step)
    OnboardingStep.objects.bulk_create(steps, batch_size=2000)
    audit.record_many([
        audit.entry(None, via, "create", o, {k: [None, v] for k, v in audit.snapshot(o).items()}) for o in onboardings
    ])
    emit_many("onboarding.started", [
        {"onboarding_id": o.pk, "account_id": o.account_id, "started_on": o.started_on.isoformat()}
        for o in onboardings
    ])
    return onboardings


# -- completion from usage ------------------------------------------------------------------


def _usage_frames(steps: pd.DataFrame, today: dt.date) -> dict[str, pd.DataFrame]:
    """The usage each kind of milestone reads, for the accounts and days the steps need:
    (account_id, key, day, amount) frames."""
    accounts, since = sorted(set(steps["account_id"])), steps["start"].min()
    frames = {}
    feature_steps = steps[steps["kind"] == K.CORE_FEATURE]
    if not feature_steps.empty:
        core = list(Feature.objects.filter(is_core=True).values_list("key", flat=True))
        named = sorted(set(feature_steps["key"]) - {""})
        rows = read_frame(
            UsageFeatureDaily.objects.filter(account_id__in=accounts, day__gte=since, day__lte=today,
                                             feature__in=[*core, *named]).order_by()
            .values_list("account_id", "feature", "day", "events"),
            ["account_id", "key", "day", "amount"],
        )
        any_core = rows[rows["key"].isin(core)].assign(key="")  # the "any core feature" milestones
        frames[K.CORE_FEATURE] = pd.concat([rows[rows["key"].isin(named)], any_core], ignore_index=True)
    if (steps["kind"] == K.ACTIVE_USERS).any():
        frames[K.ACTIVE_USERS] = read_frame(
            UsageDaily.objects.filter(account_id__in=accounts, day__gte=since, day__lte=today).order_by()
            .values_list("account_id", "day", "active_users"),
            ["account_id", "day", "amount"],
        ).assign(key="")
    names = sorted(set(steps.loc[steps["kind"].isin([K.INTEGRATION, K.EVENT]), "key"]) - {""})
    if names:
        zone = timezone.get_current_timezone()
        start = dt.datetime.combine(since, dt.time.min, zone)
        end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, zone)
        rows = read_frame(
            UsageEvent.objects.filter(account_id__in=accounts, event__in=names, occurred_at__gte=start,
                                      occurred_at__lt=end).order_by().values_list("account_id", "event", "occurred_at"),
            ["account_id", "key", "at"],
        )
        if not rows.empty:
            at = pd.to_datetime(rows["at"], utc=True).dt.tz_convert(str(zone))
            rows = rows.assign(day=at.dt.date, amount=1).groupby(["account_id", "key", "day"], as_index=False)["amount"].sum()
        else:
            rows = pd.DataFrame(columns=["account_id", "key", "day", "amount"])
        frames[K.EVENT] = rows
    for frame in frames.values():
        if not frame.empty:
            frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frames


def reached_days(steps: pd.DataFrame, today: dt.date) -> dict[int, dt.date]:
    """step id → the day usage completed it. ``steps``: (step_id, account_id, kind, key, count, start)."""
    frames = _usage_frames(steps, today)
    found = {}
    for kind, frame in frames.items():
        kinds = [K.INTEGRATION, K.EVENT] if kind == K.EVENT else [kind]
        own = steps[steps["kind"].isin(kinds)]
        reach = rules.reached_on_one_day if kind == K.ACTIVE_USERS else rules.first_reached
        found.update(reach(frame, own).to_dict())
    return {int(k): v for k, v in found.items()}


def _evidence(step: OnboardingStep, day: dt.date) -> str:
    m = step.milestone
    with translation.override(settings.LANGUAGE_CODE):
        if m.kind == K.ACTIVE_USERS:
            return _("%(count)s users active on %(day)s") % {"count": m.count, "day": day.isoformat()}
        if m.kind == K.CORE_FEATURE and not m.target:
            return _("a core feature used on %(day)s") % {"day": day.isoformat()}
        return _("%(what)s × %(count)s by %(day)s") % {"what": m.target, "count": m.count, "day": day.isoformat()}


@transaction.atomic
def evaluate(today: dt.date | None = None, account_ids: list[int] | None = None, *,
             open_cases: bool = True) -> dict:
    """Complete the open usage milestones of the onboardings in progress that usage has reached by
    ``today``, mark onboardings whose checklist is done activated, open a case for each milestone
    past its due date (once), and close the cases of the milestones now done."""
    today = today or timezone.localdate()
    open_steps = OnboardingStep.objects.filter(
        onboarding__status=Onboarding.Status.IN_PROGRESS, completed_on__isnull=True
    ).select_related("milestone", "onboarding")
    if account_ids is not None:
        open_steps = open_steps.filter(onboarding__account_id__in=account_ids)
    steps = list(open_steps)
    auto = [s for s in steps if s.milestone.kind != K.MANUAL]
    frame = pd.DataFrame(
        [(s.pk, s.onboarding.account_id, s.milestone.kind, s.milestone.target, max(s.milestone.count, 1),
          s.onboarding.started_on) for s in auto],
        columns=["step_id", "account_id", "kind", "key", "count", "start"],
    )
    reached = reached_days(frame, today) if not frame.empty else {}
    done = []
    for step in auto:
        day = reached.get(step.pk)
        if day is not None:
            step.completed_on, step.completed_via, step.evidence = day, OnboardingStep.Via.USAGE, _evidence(step, day)
            done.append(step)
    save_fields(done, ["completed_on", "completed_via", "evidence"])
    audit.record_many([
        audit.entry(None, "usage", "update", s, {"completed_on": [None, s.completed_on.isoformat()],
                                                 "evidence": ["", s.evidence]}) for s in done
    ])
    emit_many("onboarding.milestone_completed", [_completed_payload(s) for s in done])
    activated = _activate({s.onboarding_id for s in done})
    opened = _open_late_cases(today, [s for s in steps if s.completed_on is None]) if open_cases else 0
    closed = _close_done_cases([s for s in done if s.case_id])
    return {"completed": len(done), "activated": activated, "cases_opened": opened, "cases_closed": closed}


def _completed_payload(step: OnboardingStep, actor_id=None) -> dict:
    return {"onboarding_id": step.onboarding_id, "step_id": step.pk, "account_id": step.onboarding.account_id,
            "milestone": step.milestone.name, "kind": step.milestone.kind, "completed_on": step.completed_on.isoformat(),
            "via": step.completed_via, "late": step.completed_on > step.due_on}


def _activate(onboarding_ids: set[int], actor=None, via: str = "usage") -> int:
    """Onboardings whose every step is done become activated, on the day of their last step."""
    if not onboarding_ids:
        return 0
    onboardings = list(Onboarding.objects.filter(pk__in=onboarding_ids, status=Onboarding.Status.IN_PROGRESS)
                       .prefetch_related("steps__milestone"))
    changed = []
    for o in onboardings:
        steps = list(o.steps.all())
        completed = [s for s in steps if s.completed_on]
        flagged = [s.completed_on for s in completed if s.milestone.first_value]
        first = min(flagged) if flagged else min((s.completed_on for s in completed), default=None)
        before = audit.snapshot(o)
        o.first_value_on = first
        if steps and len(completed) == len(steps):
            o.status, o.activated_on = Onboarding.Status.ACTIVATED, max(s.completed_on for s in completed)
        changes = audit.diff(before, audit.snapshot(o))
        if changes:
            changed.append((o, changes))
    save_fields([o for o, _c in changed], ["status", "activated_on", "first_value_on"])
    audit.record_many([audit.entry(actor, via, "update", o, c) for o, c in changed])
    emit_many("onboarding.activated", [
        {"onboarding_id": o.pk, "account_id": o.account_id, "activated_on": o.activated_on.isoformat(),
         "days": (o.activated_on - o.started_on).days}
        for o, _c in changed if o.status == Onboarding.Status.ACTIVATED
    ], actor=actor)
    return sum(1 for o, _c in changed if o.status == Onboarding.Status.ACTIVATED)


def case_reason(step: OnboardingStep) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return (_("Onboarding milestone late: %(milestone)s (due %(day)s)") % {
            "milestone": step.milestone.label(), "day": step.due_on.isoformat()})[:200]


def _open_late_cases(today: dt.date, steps: list[OnboardingStep]) -> int:
    window = today - dt.timedelta(days=NEW_CUSTOMER_DAYS)  # older ones lapse (lapse_old), not chased
    late = [s for s in steps if s.due_on < today and s.case_id is None and s.onboarding.started_on >= window]
    if not late:
        return 0
    accounts = {a.pk: a for a in Account.objects.filter(pk__in={s.onboarding.account_id for s in late})
                .select_related("csm", "sales_owner")}
    for step in late:
        case, _created = work.open_case(
            None, account=accounts[step.onboarding.account_id], type=Case.Type.ONBOARDING, reason=case_reason(step),
            due_on=today + dt.timedelta(days=CASE_DUE_DAYS), rule=f"onboarding:{step.pk}", via="onboarding",
        )
        step.case_id = case.pk
    save_fields(late, ["case"])
    return len(late)


def _close_done_cases(steps: list[OnboardingStep], actor=None) -> int:
    closed = 0
    for case in Case.objects.filter(pk__in=[s.case_id for s in steps], status__in=Case.OPEN_STATUSES):
        with translation.override(settings.LANGUAGE_CODE):
            note = _("The onboarding milestone was reached.")
        work.close_case(actor, case, outcome=Case.Outcome.SUCCESS, root_cause="other", note=note, via="onboarding")
        closed += 1
    return closed


# -- by hand --------------------------------------------------------------------------------


def _changeable_step(actor, step: OnboardingStep) -> OnboardingStep:
    _require(actor, "change_onboarding", _("You may not change onboardings."))
    if actor is not None and not visible_records(Onboarding, actor).filter(pk=step.onboarding_id).exists():
        raise PermissionDenied(_("You may not work on this record."))
    return OnboardingStep.objects.select_for_update().select_related("milestone", "onboarding").get(pk=step.pk)


@transaction.atomic
def complete_step(actor, step: OnboardingStep, *, on: dt.date | None = None, note: str = "",
                  via: str = "system") -> OnboardingStep:
    """Mark a milestone done by hand, with who and when (today unless a past day is given)."""
    actor = _person(actor)
    locked = _changeable_step(actor, step)
    today = timezone.localdate()
    on = on or today
    errors = {}
    if locked.completed_on is not None:
        errors["step"] = _("This milestone was already completed on %(day)s.") % {"day": locked.completed_on}
    if locked.onboarding.status == Onboarding.Status.CANCELLED:
        errors["step"] = _("This onboarding was cancelled.")
    if on > today:
        errors["on"] = _("A milestone cannot be completed in the future.")
    elif on < locked.onboarding.started_on:
        errors["on"] = _("A milestone cannot be completed before the onboarding started (%(day)s).") % {
            "day": locked.onboarding.started_on}
    if errors:
        raise ValidationError(errors)
    evidence = (note or "").strip()[:200] or _("confirmed by hand")
    services.update(locked, {"completed_on": on, "completed_by": actor, "completed_via": OnboardingStep.Via.HAND,
                             "evidence": evidence}, actor=actor, via=via)
    emit("onboarding.milestone_completed", actor=actor, **_completed_payload(locked))
    _activate({locked.onboarding_id}, actor=actor, via=via)
    if locked.case_id:
        _close_done_cases([locked], actor=None)
    step.refresh_from_db()
    return step


@transaction.atomic
def cancel_onboarding(actor, onboarding: Onboarding, *, via: str = "system") -> Onboarding:
    """Stop an onboarding (the customer left, or started again): its late-milestone cases close."""
    actor = _person(actor)
    _require(actor, "change_onboarding", _("You may not change onboardings."))
    if actor is not None and not visible_records(Onboarding, actor).filter(pk=onboarding.pk).exists():
        raise PermissionDenied(_("You may not work on this record."))
    if onboarding.status != Onboarding.Status.IN_PROGRESS:
        raise ValidationError({"status": _("Only an onboarding in progress can be cancelled.")})
    services.update(onboarding, {"status": Onboarding.Status.CANCELLED}, actor=actor, via=via)
    for case in Case.objects.filter(pk__in=onboarding.steps.exclude(case=None).values("case"),
                                    status__in=Case.OPEN_STATUSES):
        work.close_case(None, case, outcome=Case.Outcome.LOST, root_cause="other",
                        note=_("The onboarding was cancelled."), via=via)
    return onboarding


@transaction.atomic
def lapse_old(today: dt.date) -> int:
    """Onboardings still in progress NEW_CUSTOMER_DAYS after the contract start did not activate in
    time: they lapse (the activation KPIs count them as not activated), their late cases close."""
    old = list(Onboarding.objects.filter(status=Onboarding.Status.IN_PROGRESS,
                                         started_on__lt=today - dt.timedelta(days=NEW_CUSTOMER_DAYS)))
    for o in old:
        o.status = Onboarding.Status.LAPSED
    save_fields(old, ["status"])
    audit.record_many([audit.entry(None, "system", "update", o, {"status": ["in_progress", "lapsed"]}) for o in old])
    with translation.override(settings.LANGUAGE_CODE):
        note = _("The onboarding window closed before the milestone was reached.")
    for case in Case.objects.filter(pk__in=OnboardingStep.objects.filter(onboarding__in=old).exclude(case=None)
                                    .values("case"), status__in=Case.OPEN_STATUSES):
        work.close_case(None, case, outcome=Case.Outcome.LOST, root_cause="other", note=note, via="onboarding")
    return len(old)


def daily(as_of: dt.date) -> dict:
    """What the daily run does for onboarding: start the new ones, complete and chase, lapse the old."""
    if as_of < timezone.localdate() or not ActivationDefinition.objects.filter(active=True).exists():
        return {}  # a replayed past day does not open today's work
    started = start_new_onboardings(as_of)
    done = evaluate(as_of)
    return {"started": len(started), **done, "lapsed": lapse_old(as_of)}
