"""Approvers hear of the quotes waiting for them: a task on the account (due the next working
day) and an email in their language; the quote's author hears the decision by email."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clm.automation import tasks, work
from clm.automation.digest import site_url
from clm.automation.models import Priority, Task
from clm.core.events import listen
from clm.sales.models import Approval, Quote


@listen("quote.approval_requested")
def ask_the_approver(event) -> None:
    approval = Approval.objects.select_related("quote__opportunity__account", "approver").get(
        pk=event.payload["approval_id"]
    )
    quote, approver = approval.quote, approval.approver
    link = site_url(reverse("web:quote", args=[quote.pk]))
    with translation.override(approver.language or settings.LANGUAGE_CODE):
        title = _("Approve quote %(number)s v%(version)s for %(account)s") % {
            "number": quote.number, "version": quote.version, "account": quote.opportunity.account.name,
        }  # fmt: skip
        note = _("Needed because of %(reason)s. Total %(total)s. %(link)s") % {
            "reason": approval.reason, "total": quote.total, "link": link,
        }  # fmt: skip
        work.create_task(
            None, title=title[:200], account=quote.opportunity.account, assignee=approver,
            due_at=timezone.now() + dt.timedelta(days=1), priority=Priority.HIGH, source=Task.Source.APPROVAL,
            note=note,
        )  # fmt: skip
        if approver.email:
            tasks.send_notice(f"CLM: {title}", note, [approver.email])


@listen("quote.approved", "quote.rejected")
def tell_the_author(event) -> None:
    quote = Quote.objects.select_related("created_by", "opportunity__account").get(pk=event.payload["quote_id"])
    author = quote.created_by
    if author is None or not author.email:
        return
    link = site_url(reverse("web:quote", args=[quote.pk]))
    with translation.override(author.language or settings.LANGUAGE_CODE):
        if event.name == "quote.approved":
            subject = _("Quote %(number)s v%(version)s is approved") % {"number": quote.number, "version": quote.version}
            body = _("It can be sent to %(account)s now: %(link)s") % {
                "account": quote.opportunity.account.name, "link": link}  # fmt: skip
        else:
            subject = _("Quote %(number)s v%(version)s was rejected") % {"number": quote.number, "version": quote.version}
            body = _("The approver said: %(comment)s. Revise it and submit it again: %(link)s") % {
                "comment": event.payload.get("comment", ""), "link": link}  # fmt: skip
        tasks.send_notice(f"CLM: {subject}", body, [author.email])
