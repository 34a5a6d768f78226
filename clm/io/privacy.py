"""Personal data of one person (PIPL, GDPR): everything CLM holds about a contact, gathered into an
export, or erased everywhere in one transaction.

Each kind of record is a `Part`: how to find the person's rows, show them, and erase them. The data
apps' parts are here (io may read every data app); higher layers register theirs with `register`
(clm.automation adds email deliveries and the suppression list), so this module knows none of them.
Erasing keeps the records that carry business facts (a ticket, an NPS score, a lead's funnel dates)
without the person, deletes the contact, replaces the product's user id in usage events with a
one-way token, strips the person's values out of the audit log while keeping who changed what and
when, and writes one audit row saying that an erasure happened, with counts and no personal value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from clm.core import audit
from clm.core.events import emit
from clm.core.models import AuditLog
from clm.customers.models import Account, Contact, Interaction
from clm.io.models import ImportJob
from clm.sales.models import Lead
from clm.service.models import FeedbackSubmission, SurveyResponse, Ticket
from clm.usage.models import UsageDailyUser, UsageEvent

ERASED = "[erased]"
TOKEN_PREFIX = "anon_"


class PrivacyError(ValueError):
    """The person named cannot be found, or not unambiguously."""


def pseudonym(value: str) -> str:
    """A one-way token for a personal identifier: an HMAC of it under a key derived from
    SECRET_KEY, so equal values give equal tokens (counts of distinct users stay right) and nobody
    without the key can test a guess. Changing SECRET_KEY changes every token."""
    return TOKEN_PREFIX + salted_hmac("clm.io.privacy.pseudonym", value, algorithm="sha256").hexdigest()[:40]


@dataclass
class Person:
    contact: Contact
    needles: list[str]  # the personal values to find and strip: name, email, phone
    user_keys: set[str] = field(default_factory=set)  # the product's ids for this person

    @property
    def email(self) -> str:
        return (self.contact.email or "").strip().lower()


def find_person(ref: str | int) -> Person:
    """The contact named by its id or its email address; refuses a missing or ambiguous one."""
    text = str(ref).strip()
    if text.isdigit():
        contact = Contact.objects.filter(pk=int(text)).first()
        if contact is None:
            raise PrivacyError(_("No contact has the id %(ref)s.") % {"ref": text})
    elif "@" in text:
        matches = list(Contact.objects.filter(email__iexact=text).order_by("pk")[:10])
        if not matches:
            raise PrivacyError(_("No contact has the email address %(ref)s.") % {"ref": text})
        if len(matches) > 1:
            ids = ", ".join(str(c.pk) for c in matches)
            raise PrivacyError(
                _("Several contacts have the email address %(ref)s (ids %(ids)s): name one by its id.")
                % {"ref": text, "ids": ids}
            )
        contact = matches[0]
    else:
        raise PrivacyError(_('Name the contact by its id or its email address, not "%(ref)s".') % {"ref": text})
    needles = [v.strip() for v in (contact.name, contact.email, contact.phone) if v and v.strip()]
    person = Person(contact=contact, needles=needles)
    person.user_keys = set(
        UsageEvent.objects.filter(contact_id=contact.pk).exclude(user_key="").values_list("user_key", flat=True).distinct()
    )
    if person.email:
        person.user_keys.add(person.email)
    return person


# --- scrubbing values --------------------------------------------------------------------------


def _pattern(needles: Iterable[str]) -> re.Pattern | None:
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles:
        return None
    return re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)


def scrub(value, needles: Iterable[str]):
    """The value (a string, or JSON of lists and dicts) with every occurrence of a needle replaced."""
    pattern = needles if isinstance(needles, re.Pattern) or needles is None else _pattern(needles)
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {scrub(k, pattern): scrub(v, pattern) for k, v in value.items()}
    return value


def quoting(field_name: str, needles: Iterable[str]) -> Q:
    """Rows whose text or JSON column mentions a needle. JSON is matched in both spellings, since
    SQLite keeps non-ASCII characters escaped (\\uXXXX) and PostgreSQL does not."""
    condition = Q(pk__in=[])
    for needle in needles:
        forms = {needle, json.dumps(needle)[1:-1]}
        for form in forms:
            condition |= Q(**{f"{field_name}__icontains": form})
    return condition


# --- the parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One kind of record: `export` lists the person's rows as JSON values; `erase` removes or
    pseudonymises them and returns how many rows it changed. Parts run in registration order, the
    contact itself last but one and the audit log last."""

    name: str
    label: str  # shown in the summary; translated when shown
    export: Callable[[Person], list[dict]]
    erase: Callable[[Person], int]


PARTS: list[Part] = []


def register(part: Part) -> Part:
    PARTS[:] = [p for p in PARTS if p.name != part.name]
    PARTS.append(part)
    return part


def rows(queryset, *fields) -> list[dict]:
    return [{k: audit.plain(v) for k, v in row.items()} for row in queryset.values(*fields)]


def _contact_export(person: Person) -> list[dict]:
    c = person.contact
    row = {"id": c.pk, "account_id": c.account_id, "account": c.account.name}
    row.update(audit.snapshot(c))
    row["created_at"] = audit.plain(c.created_at)
    return [row]


def _interactions(person):
    return Interaction.objects.filter(contact_id=person.contact.pk)


def _interactions_erase(person) -> int:
    # The meeting happened and counts for the account's history; what was said about the person goes.
    return _interactions(person).update(contact=None, summary=ERASED, outcome="")


def _tickets(person):
    return Ticket.objects.filter(contact_id=person.contact.pk)


def _tickets_erase(person) -> int:
    pattern = _pattern(person.needles)
    changed = 0
    for ticket in _tickets(person).only("pk", "subject"):
        ticket.subject = scrub(ticket.subject, pattern)
        ticket.contact = None
        ticket.save(update_fields=["subject", "contact"])
        changed += 1
    return changed


def _surveys(person):
    return SurveyResponse.objects.filter(contact_id=person.contact.pk)


def _surveys_erase(person) -> int:
    # The score stays in the account's NPS; the person's own words do not.
    return _surveys(person).update(contact=None, comment="")


def _feedback(person):
    condition = Q(contact_id=person.contact.pk)
    if person.email:
        condition |= Q(email__iexact=person.email)
    return FeedbackSubmission.objects.filter(condition)


def _feedback_erase(person) -> int:
    # The submission still counts in the themes (its category and product); what the person wrote,
    # and how to reach them, goes.
    return _feedback(person).update(contact=None, email="", values={}, reply="")


def _leads(person):
    condition = Q(contact_id=person.contact.pk)
    if person.email:
        condition |= Q(email__iexact=person.email)
    return Lead.objects.filter(condition)


def _leads_erase(person) -> int:
    return _leads(person).update(contact=None, name=ERASED, email="", phone="", title="")


def _events(person):
    condition = Q(contact_id=person.contact.pk)
    if person.user_keys:
        condition |= Q(account_id=person.contact.account_id, user_key__in=person.user_keys)
    return UsageEvent.objects.filter(condition)


def _events_erase(person) -> int:
    pattern = _pattern(person.needles)
    events = list(_events(person).only("pk", "user_key", "properties"))
    for event in events:
        event.user_key = pseudonym(event.user_key) if event.user_key else ""
        event.properties = scrub(event.properties, pattern)
        event.contact_id = None
    UsageEvent.objects.bulk_update(events, ["user_key", "properties", "contact"], batch_size=1000)
    changed = len(events)
    # The daily active-user rollup names the same users: the same token keeps its counts right.
    for key in person.user_keys:
        changed += UsageDailyUser.objects.filter(account_id=person.contact.account_id, user_key=key).update(
            user_key=pseudonym(key)
        )
    return changed


def _referrals(person):
    return Account.objects.filter(referred_by_contact_id=person.contact.pk)


def _account_notes(person):
    return Account.objects.filter(quoting("custom", person.needles))


def _account_notes_erase(person) -> int:
    pattern = _pattern(person.needles)
    accounts = list(_account_notes(person).only("pk", "custom"))
    for account in accounts:
        account.custom = scrub(account.custom, pattern)
    Account.objects.bulk_update(accounts, ["custom"])
    return len(accounts)


def _import_jobs(person):
    return ImportJob.objects.filter(quoting("report", person.needles))


def _import_jobs_erase(person) -> int:
    pattern = _pattern(person.needles)
    jobs = list(_import_jobs(person))
    for job in jobs:
        job.report = scrub(job.report, pattern)
        job.save(update_fields=["report"])
    return len(jobs)


def _contact_erase(person) -> int:
    Contact.objects.filter(pk=person.contact.pk).delete()
    return 1


PERSONAL_AUDIT_FIELDS = {
    "customers.contact": {"name", "email", "phone", "title", "custom", "external_id"},
    "customers.interaction": {"summary", "outcome"},
    "service.surveyresponse": {"comment"},
    "sales.lead": {"name", "email", "phone", "title", "external_id"},
}


def _audit_rows(person) -> Q:
    """The audit rows about the person's records, and any other row that quotes their values."""
    c = person.contact
    about = Q(model="customers.contact", object_id=str(c.pk))
    for model, queryset in (
        ("customers.interaction", _interactions(person)),
        ("service.ticket", _tickets(person)),
        ("service.surveyresponse", _surveys(person)),
        ("sales.lead", _leads(person)),
    ):
        ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        if ids:
            about |= Q(model=model, object_id__in=ids)
    return about | quoting("changes", person.needles) | quoting("object_repr", person.needles)


def _audit_export(person) -> list[dict]:
    return rows(
        AuditLog.objects.filter(_audit_rows(person)).order_by("at", "pk"),
        "at", "actor__username", "via", "action", "model", "object_id", "object_repr", "changes",
    )


def _audit_erase(person) -> int:
    pattern = _pattern(person.needles)
    changed = 0
    for log in AuditLog.objects.filter(_audit_rows(person)).iterator():
        personal = PERSONAL_AUDIT_FIELDS.get(log.model, set())
        is_person = log.model == "customers.contact" and log.object_id == str(person.contact.pk)
        changes = {}
        for name, value in (log.changes or {}).items():
            if name in personal and (is_person or log.model != "customers.contact"):
                value = [None if v in (None, "", [], {}) else ERASED for v in value] if isinstance(value, list) else ERASED
            changes[name] = scrub(value, pattern)
        log.changes = changes
        log.object_repr = f"{log.model.split('.')[-1]} #{log.object_id}" if is_person else scrub(log.object_repr, pattern)
        log.save(update_fields=["changes", "object_repr"])
        changed += 1
    return changed


register(Part("audit", gettext_noop("audit log entries"), _audit_export, _audit_erase))
register(Part("contact", gettext_noop("contact"), _contact_export, _contact_erase))
register(Part(
    "interactions", gettext_noop("interactions"),
    lambda p: rows(_interactions(p).order_by("occurred_at"), "id", "account_id", "type", "direction", "occurred_at", "summary", "outcome"),
    _interactions_erase,
))
register(Part(
    "tickets", gettext_noop("tickets"),
    lambda p: rows(_tickets(p).order_by("opened_at"), "id", "account_id", "subject", "category", "priority", "status", "opened_at", "resolved_at", "csat"),
    _tickets_erase,
))
register(Part(
    "survey_responses", gettext_noop("survey responses"),
    lambda p: rows(_surveys(p).order_by("responded_at"), "id", "account_id", "kind", "score", "comment", "responded_at"),
    _surveys_erase,
))
register(Part(
    "feedback", gettext_noop("feedback submissions"),
    lambda p: rows(_feedback(p).order_by("created_at", "pk"), "id", "account_id", "form__key", "values", "category",
                   "product", "status", "reply", "created_at"),
    _feedback_erase,
))
register(Part(
    "leads", gettext_noop("leads"),
    lambda p: rows(_leads(p).order_by("pk"), "id", "name", "email", "phone", "title", "company", "source_channel", "status", "mal_at", "converted_at"),
    _leads_erase,
))
register(Part(
    "usage_events", gettext_noop("usage events"),
    lambda p: rows(_events(p).order_by("occurred_at", "pk"), "id", "account_id", "user_key", "event", "feature", "occurred_at", "quantity", "duration_seconds", "properties"),
    _events_erase,
))
register(Part(
    "referrals", gettext_noop("accounts this person referred"),
    lambda p: rows(_referrals(p).order_by("pk"), "id", "name"),
    lambda p: _referrals(p).update(referred_by_contact=None),
))
register(Part(
    "account_attributes", gettext_noop("account attributes that quote this person"),
    lambda p: rows(_account_notes(p).order_by("pk"), "id", "name", "custom"),
    _account_notes_erase,
))
register(Part(
    "import_reports", gettext_noop("import reports that quote this person"),
    lambda p: rows(_import_jobs(p).order_by("pk"), "id", "kind", "original_name", "created_at"),
    _import_jobs_erase,
))


def _ordered() -> list[Part]:
    # The audit log first (it finds rows through the person's records), the contact's deletion last.
    rank = {"audit": 0, "contact": 2}
    return sorted(PARTS, key=lambda part: rank.get(part.name, 1))


# --- the operations ----------------------------------------------------------------------------


def export_person(ref: str | int) -> dict:
    """Everything CLM holds about the person, as JSON values, with a readable summary."""
    person = find_person(ref)
    sections = {part.name: part.export(person) for part in PARTS}
    data = {
        "contact_id": person.contact.pk,
        "generated_at": timezone.now().isoformat(),
        "sections": sections,
    }
    data["summary"] = summary(data)
    return data


def summary(data: dict) -> list[str]:
    labels = {part.name: part.label for part in PARTS}
    contact = (data["sections"].get("contact") or [{}])[0]
    lines = [
        _("Personal data held about contact %(id)s (%(name)s, %(email)s) of account %(account)s, as of %(at)s.")
        % {
            "id": data["contact_id"], "name": contact.get("name", ""), "email": contact.get("email") or "-",
            "account": contact.get("account", ""), "at": data["generated_at"],
        }
    ]
    for name, items in data["sections"].items():
        if name != "contact":
            lines.append(f"- {_(labels.get(name, name))}: {len(items)}")
    return lines


def erase_person(ref: str | int, *, actor=None, via: str = "cli") -> dict[str, int]:
    """Erase the person everywhere, in one transaction; return the rows changed per part."""
    with transaction.atomic():
        person = find_person(ref)
        Contact.objects.select_for_update().filter(pk=person.contact.pk).first()
        contact_id, account_id = person.contact.pk, person.contact.account_id
        counts = {part.name: part.erase(person) for part in _ordered()}
        AuditLog.objects.create(
            actor=actor if getattr(actor, "pk", None) else None,
            via=via,
            action=AuditLog.Action.DELETE,
            model="customers.contact",
            object_id=str(contact_id),
            object_repr=f"contact #{contact_id} (personal data erased)",
            changes={"erased": [None, counts]},
        )
        emit("contact.erased", actor=actor, contact_id=contact_id, account_id=account_id)
    return counts
