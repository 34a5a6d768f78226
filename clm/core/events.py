"""Domain events: what changed, said after the transaction that changed it commits.

Services call `emit` (or `emit_many` for a bulk change) inside their transaction; listeners,
registered with `@listen`, hear the events only once that transaction has committed, and never for
one that rolled back. Lower layers emit, higher layers (automation, reports) listen, so no lower
layer knows who reacts. Payloads are plain JSON values (ids, codes, numbers, ISO dates), so a
listener can hand an event on to the task queue as it is.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

# The catalogue: every event a service may emit, with what its payload carries.
CATALOGUE: dict[str, str] = {
    "account.created": "account_id",
    "account.assigned": "account_id, role (owner|csm), before, after (user ids)",
    "account.tagged": "account_id, tag_id",
    "account.untagged": "account_id, tag_id",
    "account.stage_changed": "account_id, before, after (stage codes), on (date), rule",
    "health.band_changed": "account_id, before, after (band codes), score, on (date)",
    "health.scored": "account_id, score, band, on (date)",
    "signal.opened": "account_id, signal_id, kind, on (date)",
    "signal.closed": "account_id, signal_id, kind, on (date)",
    "contact.created": "contact_id, account_id",
    "contact.left": "contact_id, account_id, before, after (status codes)",
    "contact.erased": "contact_id, account_id (the person's data was erased; the contact is gone)",
    "interaction.logged": "interaction_id, account_id, type",
    "ticket.opened": "ticket_id, account_id",
    "ticket.closed": "ticket_id, account_id, before, after (status codes)",
    "survey.answered": "response_id, account_id, contact_id, kind, score",
    "survey.invited": "invitation_id, survey_id, account_id, contact_id, channel (email|link)",
    "feedback.submitted": "submission_id, form (key), account_id, contact_id, category, product, owner_id, team_id",
    "feedback.closed": "submission_id, account_id, status (done|declined)",
    "lead.created": "lead_id",
    "form.submitted": "submission_id, form (key), account_id, contact_id, lead_id, fields {name: value}",
    "lead.status_changed": "lead_id, before, after (status codes)",
    "lead.stage_changed": "lead_id, before, after (status codes), reason, automatic (bool)",
    "lead.fit_changed": "lead_id, before, after (fit 0-100), band_before, band_after (0-4, bands of 20)",
    "lead.assigned": "lead_id, before, after (user ids), rule (assignment rule id or null)",
    "lead.converted": "lead_id, account_id, contact_id, merged (an existing account was matched)",
    "opportunity.stage_changed": "opportunity_id, account_id, before, after",
    "opportunity.forecast_changed": "opportunity_id, account_id, before, after (forecast categories)",
    "quote.created": "quote_id, opportunity_id",
    "quote.approval_requested": "quote_id, approval_id, approver_id, account_id",
    "quote.approved": "quote_id",
    "quote.rejected": "quote_id, approval_id, comment",
    "quote.sent": "quote_id, account_id",
    "quote.accepted": "quote_id, account_id, subscription_ids, order_id",
    "quote.declined": "quote_id, reason",
    "subscription.changed": "subscription_id, account_id, kind (ledger entry kind), mrr_before, mrr_after",
    "usage.events_ingested": "account_ids, count, names, events [[account, contact, name, properties JSON, key]]",
    "lifecycle.run_finished": "run_id, as_of (date)",
    "email.sent": "delivery_id, contact_id, account_id, template (key)",
    "email.opened": "delivery_id, key (the sender's idempotency key), contact_id, account_id, template (key); the first open only",
    "email.clicked": "delivery_id, key (the sender's idempotency key), contact_id, account_id, template (key), url",
    "email.suppressed": "address, reason (unsubscribed|bounced|complained), contact_id, account_id",
    "task.created": "task_id, account_id, assignee_id, case_id, enrollment_id, source",
    "task.completed": "task_id, account_id, assignee_id, case_id, enrollment_id, outcome",
    "case.opened": "case_id, account_id, type, reason, owner_id, rule, signal_id, enrollment_id",
    "case.closed": "case_id, account_id, type, outcome (closed_success|closed_lost), root_cause (code)",
    "winback.opened": "winback_id, case_id, account_id, signal (kind)",
    "winback.cause_recorded": "winback_id, case_id, account_id, cause (root cause code)",
    "winback.planned": "winback_id, case_id, account_id, offer (code), discount_percent, approved_by_id, evaluate_on",
    "winback.evaluated": "winback_id, case_id, account_id, result (retained|renewed|churned), cause, offer, arr_won_back",
    "referral.attributed": "referral_id, referrer_id (account), referrer_contact_id, account_id, lead_id, channel",
    "referral.rewarded": "reward_id, referral_id, account_id (the referrer), referred_account_id, kind, points, cost",
    "onboarding.started": "onboarding_id, account_id, started_on (date)",
    "onboarding.milestone_completed": "onboarding_id, step_id, account_id, milestone, kind, completed_on, via (usage|hand), late",
    "onboarding.activated": "onboarding_id, account_id, activated_on (date), days (from the contract start)",
    "success_plan.created": "plan_id, account_id",
    "success_plan.status_changed": "plan_id, account_id, before, after (on_track|behind|stuck), rule",
    "success_plan.milestone_completed": "plan_id, milestone_id, account_id, done_on (date)",
    "qbr.held": "qbr_id, plan_id, account_id, held_on (date), next_steps (task ids)",
}


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict
    actor_id: int | None = None
    at: dt.datetime = field(default_factory=timezone.now)


Listener = Callable[[Event], None]
_listeners: dict[str, list[Listener]] = {}


class UnknownEvent(ValueError):
    pass


def listen(*names: str):
    """Register a listener for the named events ("*" hears all of them)."""
    for name in names:
        if name != "*" and name not in CATALOGUE:
            raise UnknownEvent(f"no domain event is called {name!r}")

    def register(fn: Listener) -> Listener:
        for name in names:
            _listeners.setdefault(name, []).append(fn)
        return fn

    return register


def unlisten(fn: Listener) -> None:
    for listeners in _listeners.values():
        if fn in listeners:
            listeners.remove(fn)


def emit(name: str, *, actor=None, **payload) -> None:
    """Say, once the current transaction commits, that `name` happened."""
    emit_many(name, [payload], actor=actor)


def emit_many(name: str, payloads: Iterable[dict], *, actor=None) -> None:
    """One event per payload, heard in order after the current transaction commits."""
    if name not in CATALOGUE:
        raise UnknownEvent(f"no domain event is called {name!r}")
    actor_id, at = getattr(actor, "pk", None), timezone.now()
    events = [Event(name, payload, actor_id, at) for payload in payloads]
    if events:
        transaction.on_commit(lambda: _deliver(events))


def _deliver(events: list[Event]) -> None:
    for event in events:
        for fn in (*_listeners.get(event.name, ()), *_listeners.get("*", ())):
            try:
                fn(event)
            except Exception:  # one listener's failure must not stop the others or the caller
                log.exception("listener %s failed on %s", getattr(fn, "__qualname__", fn), event.name)
