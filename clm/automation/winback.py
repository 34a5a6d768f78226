"""Win-back, the four steps of seed 002 as named operations on a win-back case: open it with the
warning signal and its values, record the root cause, choose a plan from the offer library (carried
out as tasks; a discount above the offer's limit needs a manager's approval), and evaluate it at
its date (retained, renewed or churned), which closes the case. Steps go in this order only; each
runs in one transaction, is permission-checked and audited, and says what happened as a domain
event once committed. The churned-accounts list (流失 → 回流) and the KPIs are in winback_lists."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation import work
from clm.automation.models import Case, Priority, RootCause, WinBack, WinBackOffer
from clm.automation.models.winback import _localised
from clm.commerce.models import Order, Subscription
from clm.core import services
from clm.core.events import emit, listen
from clm.core.models import Role
from clm.customers.models import Account

EVALUATE_AFTER_DAYS = 90  # the default evaluation date, from the plan


def account_arr(account_id: int, on: dt.date | None = None) -> Decimal:
    """The ARR at stake: 12 × the MRR of the live contracts, or, for an account that buys by
    order, what it ordered in the 365 days up to ``on``."""
    arr = dict(Subscription.objects.filter(account_id=account_id).arr_by_account()).get(account_id)
    if arr:
        return Decimal(arr).quantize(Decimal("0.01"))
    on = on or timezone.localdate()
    total = Order.objects.filter(
        account_id=account_id, ordered_on__gt=on - dt.timedelta(days=365), ordered_on__lte=on
    ).aggregate(total=Sum("amount"))["total"]
    return Decimal(total or 0).quantize(Decimal("0.01"))


def _event(name: str, winback: WinBack, actor, **extra) -> None:
    emit(name, actor=actor, winback_id=winback.pk, case_id=winback.case_id, account_id=winback.account_id, **extra)


def _locked(actor, winback: WinBack, step: str) -> WinBack:
    """The win-back, locked, once the actor may change its case and it is at ``step``."""
    work._changeable_case(actor, winback.case)
    locked = WinBack.objects.select_for_update(of=("self",)).select_related("case", "cause", "offer").get(pk=winback.pk)
    if locked.step != step:
        order = [s.label for s in WinBack.Step]
        raise ValidationError({"step": _(
            "This step cannot be taken now: the win-back is at “%(now)s” (the steps go in order: %(order)s)."
        ) % {"now": locked.get_step_display(), "order": " → ".join(str(s) for s in order)}})
    return locked


@transaction.atomic
def open_winback(
    actor, *, account: Account, signal: str, values: dict | None = None, reason: str = "",
    owner=None, case: Case | None = None, via: str = "system",
) -> WinBack:
    """Step 1 (识别流失预警信号): a win-back for the account with the signal that fired and the values
    it saw. With ``case``, an open win-back case already opened (by a playbook) is carried on."""
    signal = (signal or "").strip()
    if not signal:
        raise ValidationError({"signal": _("Name the warning signal the win-back starts from.")})
    if case is None:
        case, _created = work.open_case(
            actor, account=account, type=Case.Type.WIN_BACK, reason=reason or signal, owner=owner,
            priority=Priority.HIGH, via=via,
        )
    else:
        work._changeable_case(actor, case)
    if case.type != Case.Type.WIN_BACK:
        raise ValidationError({"case": _("Only a win-back case can carry a win-back.")})
    existing = WinBack.objects.filter(case=case).first()
    if existing is not None:
        return existing
    winback = WinBack(
        case=case, account=account, signal_kind=signal[:60], signal_values=values or {},
        arr_at_risk=account_arr(account.pk),
    )
    services.save_new(winback, actor=work._person(actor), via=via)
    _event("winback.opened", winback, work._person(actor), signal=winback.signal_kind)
    return winback


def for_case(case: Case) -> WinBack | None:
    """The win-back of a win-back case, started from the case's signal (or the rule that opened
    it) when the case has none yet; None for other cases."""
    if case.type != Case.Type.WIN_BACK:
        return None
    found = WinBack.objects.filter(case=case).first()
    if found is not None or not case.is_open:
        return found
    signal, values = case.rule or "manual", {}
    if case.signal_id:
        signal, values = case.signal.kind, dict(case.signal.values or {})
    return open_winback(None, account=case.account, signal=signal, values=values, case=case)


@transaction.atomic
def record_cause(actor, winback: WinBack, *, cause, note: str = "", via: str = "system") -> WinBack:
    """Step 2 (分析流失根本原因): the root cause (product, service, price, business/budget,
    competitor, other) with a note; "other" needs the note to say what it was."""
    locked = _locked(actor, winback, WinBack.Step.SIGNAL)
    found = work.find_root_cause(cause)
    if found is None:
        raise ValidationError({"cause": _("Choose a root cause.")})
    note = (note or "").strip()
    if found.code == "other" and not note:
        raise ValidationError({"note": _("Say in the note what the cause was when it is “other”.")})
    services.update(
        locked, {"cause": found, "cause_note": note, "cause_at": timezone.now(), "step": WinBack.Step.CAUSE},
        actor=work._person(actor), via=via,
    )
    _event("winback.cause_recorded", locked, work._person(actor), cause=found.code)
    return locked


def offers_for(cause: RootCause | None):
    """The active offers of the library that answer the cause."""
    offers = WinBackOffer.objects.filter(active=True)
    return offers.filter(causes=cause).distinct() if cause is not None else offers.none()


def _percent(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError({"discount_percent": _("The discount must be a number of percent.")}) from None


def _check_discount(actor, offer: WinBackOffer, percent: Decimal | None, approver) -> None:
    if offer.kind != WinBackOffer.Kind.DISCOUNT:
        if percent:
            raise ValidationError({"discount_percent": _("Only a discount offer carries a discount.")})
        if approver is not None:
            raise ValidationError({"approver": _("Only a discount above the limit needs an approver.")})
        return
    if percent is None or percent <= 0:
        raise ValidationError({"discount_percent": _("Give the discount in percent (above 0).")})
    if offer.max_percent is not None and percent > offer.max_percent:
        raise ValidationError({"discount_percent": _(
            "A discount of %(percent)s%% is above the largest this offer allows (%(max)s%%)."
        ) % {"percent": percent, "max": offer.max_percent}})
    limit = offer.approval_limit_percent
    if limit is None or percent <= limit:
        return
    if approver is None:
        raise ValidationError({"approver": _(
            "A discount of %(percent)s%% is above the %(limit)s%% you may give without approval: name the "
            "manager who approved it."
        ) % {"percent": percent, "limit": limit}})
    if not approver.is_active or not approver.has_role(Role.MANAGER, Role.ADMIN):
        raise ValidationError({"approver": _("%(name)s is not a manager and cannot approve a discount.") % {
            "name": approver.get_full_name() or approver.get_username()}})


@transaction.atomic
def choose_plan(
    actor, winback: WinBack, *, offer, discount_percent=None, approver=None, evaluate_on: dt.date | None = None,
    note: str = "", today: dt.date | None = None, via: str = "system",
) -> WinBack:
    """Step 3 (制定个性化挽回方案): an offer of the library for the recorded cause, carried out by
    the offer's tasks on the case, and the date the result will be evaluated."""
    locked = _locked(actor, winback, WinBack.Step.CAUSE)
    today = today or timezone.localdate()
    if not isinstance(offer, WinBackOffer):
        offer = WinBackOffer.objects.filter(code=str(offer), active=True).first()
    allowed = offers_for(locked.cause)
    if offer is None or not allowed.filter(pk=offer.pk).exists():
        raise ValidationError({"offer": _("Choose one of the offers for the cause “%(cause)s”: %(offers)s.") % {
            "cause": locked.cause.label(), "offers": ", ".join(o.label() for o in allowed) or "–"}})
    percent = _percent(discount_percent)
    _check_discount(actor, offer, percent, approver)
    evaluate_on = evaluate_on or today + dt.timedelta(days=EVALUATE_AFTER_DAYS)
    if evaluate_on <= today:
        raise ValidationError({"evaluate_on": _("Set the evaluation date after today.")})
    person = work._person(actor)
    services.update(
        locked,
        {
            "offer": offer, "discount_percent": percent if offer.kind == WinBackOffer.Kind.DISCOUNT else None,
            "approved_by": approver, "plan_note": (note or "").strip(), "planned_at": timezone.now(),
            "evaluate_on": evaluate_on, "step": WinBack.Step.PLAN,
        },
        actor=person, via=via,
    )
    start = timezone.make_aware(dt.datetime.combine(today, dt.time(18)))
    for item in offer.tasks:
        work.create_task(
            actor, title=_localised(item.get("en", ""), item.get("zh", "")), case=locked.case,
            assignee=locked.case.owner, due_at=start + dt.timedelta(days=int(item.get("days", 7))),
            priority=Priority.HIGH, via=via,
        )
    _event(
        "winback.planned", locked, person, offer=offer.code,
        discount_percent=float(percent) if percent is not None else None,
        approved_by_id=getattr(approver, "pk", None), evaluate_on=evaluate_on.isoformat(),
    )
    return locked


@transaction.atomic
def evaluate(
    actor, winback: WinBack, *, result: str, note: str = "", today: dt.date | None = None, via: str = "system"
) -> WinBack:
    """Step 4 (执行并评估效果): at or after the evaluation date, whether the customer was retained,
    renewed or churned, with the ARR won back (the ARR then; 0 if churned). Closes the case."""
    locked = _locked(actor, winback, WinBack.Step.PLAN)
    today = today or timezone.localdate()
    if result not in WinBack.Result.values:
        raise ValidationError({"result": _("Choose the result: %(choices)s.") % {
            "choices": ", ".join(str(label) for label in WinBack.Result.labels)}})
    if locked.evaluate_on and today < locked.evaluate_on:
        raise ValidationError({"result": _("The plan is evaluated on %(day)s, not before.") % {
            "day": locked.evaluate_on.isoformat()}})
    won = result in WinBack.WON
    arr = account_arr(locked.account_id, today) if won else Decimal("0")
    person = work._person(actor)
    services.update(
        locked,
        {"result": result, "result_note": (note or "").strip(), "arr_won_back": arr,
         "evaluated_at": timezone.now(), "step": WinBack.Step.EVALUATED},
        actor=person, via=via,
    )
    work.close_case(
        actor, locked.case, outcome=Case.Outcome.SUCCESS if won else Case.Outcome.LOST,
        root_cause=locked.cause, note=note or locked.get_result_display(), via=via,
    )
    _event(
        "winback.evaluated", locked, person, result=result, cause=locked.cause.code,
        offer=locked.offer.code, arr_won_back=float(arr),
    )
    return locked


def require_view(user) -> None:
    if not user.has_perm("automation.view_case"):
        raise PermissionDenied(_("You may not see cases."))


@listen("case.opened")
def _carry_on_winback_cases(event) -> None:
    """A win-back case opened by a playbook or a signal starts its win-back at step 1."""
    if event.payload.get("type") != Case.Type.WIN_BACK:
        return
    case = Case.objects.select_related("signal", "account").filter(pk=event.payload.get("case_id")).first()
    if case is not None and not WinBack.objects.filter(case=case).exists():
        for_case(case)
