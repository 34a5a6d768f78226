"""Feedback forms: building a form (its fields checked as data), taking a submission (checked
against the form, each problem named by its field), routing it by rules to an owner or a team
with a due date, moving it through its statuses, and counting themes by month. Emailing the reply
that closes the loop is the automation layer's (it hears feedback.closed)."""

import datetime as dt
import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit, services
from clm.core.access import visible_records
from clm.core.events import emit
from clm.core.records import may
from clm.customers.models import Contact
from clm.service.feedback_models import FeedbackForm, FeedbackRule, FeedbackSubmission, FieldType

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
TEXT_MAX, LONG_TEXT_MAX, MAX_FIELDS = 300, 5000, 40
WITH_CHOICES = (FieldType.CHOICE, FieldType.MULTI_CHOICE)
# the order a status moves in; closed ones (done, declined) can be reopened to acknowledged
STATUSES = FeedbackSubmission.Status


def require(actor, action: str, model) -> None:
    if actor is not None and not may(actor, action, model):
        raise PermissionDenied(_("You may not manage feedback."))


# -- the builder --------------------------------------------------------------------------------


def check_fields(fields) -> list[dict]:
    """The form's field definitions, normalised; ValidationError naming fields.<n>.<part>."""
    if not isinstance(fields, list) or not fields:
        raise ValidationError({"fields": _("Add at least one field.")})
    if len(fields) > MAX_FIELDS:
        raise ValidationError({"fields": _("A form has at most %(n)s fields.") % {"n": MAX_FIELDS}})
    errors, out, names = {}, [], set()
    for i, field in enumerate(fields):
        where = f"fields.{i}"
        if not isinstance(field, dict):
            errors[where] = _("Each field is {name, label, type, required, choices}.")
            continue
        name = str(field.get("name") or "").strip()
        label = str(field.get("label") or "").strip()
        kind = field.get("type")
        choices = field.get("choices") or []
        if not NAME.fullmatch(name):
            errors[f"{where}.name"] = _("Use lowercase letters, digits and underscores, starting with a letter.")
        elif name in names:
            errors[f"{where}.name"] = _("The name %(name)s is used twice.") % {"name": name}
        names.add(name)
        if not label or len(label) > 200:
            errors[f"{where}.label"] = _("Give the field a label (up to 200 characters).")
        if kind not in FieldType.values:
            errors[f"{where}.type"] = _("Choose one of: %(types)s.") % {
                "types": ", ".join(str(label) for label in FieldType.labels)}
        if kind in WITH_CHOICES:
            if not isinstance(choices, list) or not choices:
                errors[f"{where}.choices"] = _("A choice field needs its choices.")
            else:
                choices = [str(c).strip() for c in choices if str(c).strip()]
                if len(set(choices)) != len(choices) or not choices:
                    errors[f"{where}.choices"] = _("Each choice once, and none empty.")
        else:
            choices = []
        out.append({"name": name, "label": label, "type": kind, "required": bool(field.get("required")),
                    "choices": choices})
    if errors:
        raise ValidationError(errors)
    return out


def save_form(actor, data: dict, form: FeedbackForm | None = None, *, via: str = "ui") -> FeedbackForm:
    require(actor, "add" if form is None else "change", FeedbackForm)
    data = dict(data)
    if "fields" in data or form is None:
        data["fields"] = check_fields(data.get("fields"))
    key = data.get("key")
    if key and FeedbackForm.objects.filter(key=key).exclude(pk=getattr(form, "pk", None)).exists():
        raise ValidationError({"key": _("Another form has the key %(key)s.") % {"key": key}})
    if form is None:
        return services.create(FeedbackForm, {**data, "created_by": actor}, actor=actor, via=via)
    return services.update(form, data, actor=actor, via=via)


def save_rule(actor, data: dict, rule: FeedbackRule | None = None, *, via: str = "ui") -> FeedbackRule:
    require(actor, "add" if rule is None else "change", FeedbackRule)
    if not (data.get("owner") or data.get("owner_id") or data.get("team") or data.get("team_id")):
        raise ValidationError({"owner": _("Route to an owner or a team.")})
    if rule is None:
        return services.create(FeedbackRule, data, actor=actor, via=via)
    return services.update(rule, data, actor=actor, via=via)


# -- submissions --------------------------------------------------------------------------------


def clean_values(form: FeedbackForm, given: dict) -> dict:
    """The submitted values checked against the form: every problem at once, keyed by the field's
    name, with its label in the message."""
    values, errors = {}, {}
    for field in form.fields:
        name, label, kind = field["name"], field["label"], field["type"]
        raw = given.get(name)
        if kind == FieldType.MULTI_CHOICE:
            raw = [raw] if isinstance(raw, str) else list(raw or [])
            raw = [str(v).strip() for v in raw if str(v).strip()]
        elif raw is not None and not isinstance(raw, str | int | float):
            raw = str(raw)
        empty = raw in (None, "", []) or (isinstance(raw, str) and not raw.strip())
        if empty:
            if field["required"]:
                errors[name] = _("“%(label)s” is required.") % {"label": label}
            continue
        text = raw.strip() if isinstance(raw, str) else raw
        if kind in (FieldType.TEXT, FieldType.LONG_TEXT):
            limit = TEXT_MAX if kind == FieldType.TEXT else LONG_TEXT_MAX
            if len(str(text)) > limit:
                errors[name] = _("“%(label)s” is longer than %(n)s characters.") % {"label": label, "n": limit}
            else:
                values[name] = str(text)
        elif kind == FieldType.EMAIL:
            try:
                validate_email(str(text))
                values[name] = str(text)
            except ValidationError:
                errors[name] = _("“%(label)s” is not an email address.") % {"label": label}
        elif kind == FieldType.NUMBER:
            try:
                number = float(str(text).replace(",", ""))
                if number != number or number in (float("inf"), float("-inf")):
                    raise ValueError
                values[name] = int(number) if number.is_integer() else number
            except ValueError:
                errors[name] = _("“%(label)s” must be a number.") % {"label": label}
        elif kind == FieldType.CHOICE:
            if text not in field["choices"]:
                errors[name] = _("“%(label)s”: choose one of the options.") % {"label": label}
            else:
                values[name] = text
        else:
            wrong = [v for v in raw if v not in field["choices"]]
            if wrong:
                errors[name] = _("“%(label)s”: choose among the options.") % {"label": label}
            else:
                values[name] = raw
    if errors:
        raise ValidationError(errors)
    return values


def route(form: FeedbackForm, values: dict, rules: list[FeedbackRule] | None = None) -> FeedbackRule | None:
    """The first rule whose every criterion matches: category and product equal the fields of
    those names (case aside), the keyword is in some text the customer wrote."""
    category = str(values.get("category", "")).casefold()
    product = str(values.get("product", "")).casefold()
    text = " ".join(
        " ".join(v) if isinstance(v, list) else str(v) for v in values.values()
    ).casefold()
    if rules is None:
        rules = list(
            FeedbackRule.objects.filter(Q(form=form.pk) | Q(form__isnull=True)).order_by("position", "pk")
        )
    for rule in rules:
        if rule.form_id not in (None, form.pk):
            continue
        if rule.category and rule.category.casefold() != category:
            continue
        if rule.product and rule.product.casefold() != product:
            continue
        if rule.keyword and rule.keyword.casefold() not in text:
            continue
        return rule
    return None


def _sender(values: dict, user, email: str):
    """The contact the submission is from: the address given (a field of type email, or the
    signed-in user's), matched to a contact."""
    address = (email or "").strip()
    if not address and user is not None and getattr(user, "email", ""):
        address = user.email
    contact = Contact.objects.filter(email__iexact=address).order_by("pk").first() if address else None
    return address, contact


@transaction.atomic
def submit(form: FeedbackForm, given: dict, *, user=None, language: str = "", via: str = "form") -> FeedbackSubmission:
    """Take one submission: checked against the form (nothing stored when anything is wrong),
    matched to a contact by email, routed, given a due date; said as feedback.submitted."""
    if not form.active:
        raise ValidationError({"form": _("This form no longer takes answers.")})
    if form.audience == FeedbackForm.Audience.SIGNED_IN and not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Sign in to fill in this form."))
    values = clean_values(form, given)
    email = next((values[f["name"]] for f in form.fields if f["type"] == FieldType.EMAIL and f["name"] in values), "")
    address, contact = _sender(values, user if getattr(user, "is_authenticated", False) else None, email)
    rule = route(form, values)
    now = timezone.now()
    days = rule.sla_days if rule and rule.sla_days is not None else form.sla_days
    submission = services.create(FeedbackSubmission, {
        "form": form, "values": values,
        "category": str(values.get("category", ""))[:100], "product": str(values.get("product", ""))[:100],
        "account_id": contact.account_id if contact else None, "contact": contact, "email": address,
        "language": language[:10], "submitted_by": user if getattr(user, "pk", None) else None,
        "owner_id": rule.owner_id if rule else form.owner_id, "team_id": rule.team_id if rule else None,
        "rule": rule, "due_at": now + dt.timedelta(days=days),
    }, actor=user if getattr(user, "pk", None) else None, via=via)
    emit("feedback.submitted", submission_id=submission.pk, form=form.key, account_id=submission.account_id,
         contact_id=submission.contact_id, category=submission.category, product=submission.product,
         owner_id=submission.owner_id, team_id=submission.team_id)
    return submission


@transaction.atomic
def set_status(actor, submission: FeedbackSubmission, status: str, *, reply: str = "", owner=None,
               via: str = "ui") -> FeedbackSubmission:
    """Move a submission on. Closing it (done, declined) takes the reply to the customer, which is
    emailed once committed (feedback.closed); reopening clears the closing."""
    require(actor, "change", FeedbackSubmission)
    if actor is not None and not visible_records(FeedbackSubmission, actor).filter(pk=submission.pk).exists():
        raise PermissionDenied(_("You may not change this feedback."))
    if status not in STATUSES.values:
        raise ValidationError({"status": _("Choose a status: %(statuses)s.") % {
            "statuses": ", ".join(str(label) for label in STATUSES.labels)}})
    reply = (reply or "").strip()
    closing = status in FeedbackSubmission.CLOSED
    if closing and not reply:
        raise ValidationError({"reply": _("Write the reply the customer will get when this is closed.")})
    if closing and len(reply) > LONG_TEXT_MAX:
        raise ValidationError({"reply": _("Keep the reply under %(n)s characters.") % {"n": LONG_TEXT_MAX}})
    was_closed = submission.is_closed
    data = {"status": status}
    if owner is not None:
        data["owner"] = owner
    if closing:
        data.update(reply=reply, closed_at=timezone.now())
    elif was_closed:
        data.update(closed_at=None, replied_at=None, reply_problem="")
    submission = services.update(submission, data, actor=actor, via=via)
    if closing:
        emit("feedback.closed", actor=actor, submission_id=submission.pk, account_id=submission.account_id,
             status=status)
    return submission


def mark_replied(submission_id: int, problem: str) -> None:
    """After the reply email: sent ('' problem) or why not."""
    row = FeedbackSubmission.objects.get(pk=submission_id)
    fields = {"reply_problem": problem[:300]}
    if not problem:
        fields["replied_at"] = timezone.now()
    FeedbackSubmission.objects.filter(pk=submission_id).update(**fields)
    audit.record(None, "system", "update", row, {k: [getattr(row, k), v] for k, v in fields.items()})


# -- reading ------------------------------------------------------------------------------------


def inbox(user, *, status: str = "", mine: bool = False, overdue: bool = False):
    rows = visible_records(FeedbackSubmission, user).select_related("form", "account", "owner", "team", "contact")
    if status:
        rows = rows.filter(status=status)
    if mine:
        rows = rows.filter(owner=user) | rows.filter(team_id=user.team_id) if user.team_id else rows.filter(owner=user)
    if overdue:
        rows = rows.exclude(status__in=FeedbackSubmission.CLOSED).filter(due_at__lt=timezone.now())
    return rows.order_by("-created_at", "-pk")


def themes(user, *, months: int = 12, now: dt.datetime | None = None) -> dict:
    """Submissions per category and month over the last `months` months (the visible ones):
    {"months": [date], "categories": [name], "counts": {category: [n per month]}, "total": n}."""
    now = now or timezone.now()
    this = timezone.localdate(now).replace(day=1)
    back = this.year * 12 + this.month - 1 - (months - 1)
    first = dt.date(back // 12, back % 12 + 1, 1)
    rows = (
        visible_records(FeedbackSubmission, user)
        .filter(created_at__date__gte=first)
        .annotate(month=TruncMonth("created_at"))
        .values("month", "category")
        .annotate(n=Count("pk"))
    )
    month_list, day = [], first
    while day <= timezone.localdate(now):
        month_list.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    counts: dict[str, list[int]] = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        series = counts.setdefault(row["category"] or "", [0] * len(month_list))
        if month in month_list:
            series[month_list.index(month)] += row["n"]
    ordered = sorted(counts, key=lambda c: (-sum(counts[c]), c))
    return {"months": month_list, "categories": ordered, "counts": counts,
            "total": sum(sum(v) for v in counts.values())}
