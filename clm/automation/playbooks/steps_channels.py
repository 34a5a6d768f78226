"""Playbook steps that reach the outside world through clm.automation.channels: an email, a
webhook call, a robot message. Each passes its key on as the delivery's idempotency key."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.automation.playbooks.steps import (
    StepFailed,
    at,
    check_text,
    localized,
    register,
    subject_account,
    unknown_keys,
)

# -- channels (clm.automation.channels) ---------------------------------------------------------


def _channel_lookup(model, value) -> dict:
    """A channel row by id, or by its key (email templates) or its name (webhooks and robots,
    which have no key)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"pk": value}
    return {"key" if any(f.name == "key" for f in model._meta.fields) else "name": value}


MISSING = {
    "EmailTemplate": gettext_lazy("no email template %(value)s"),
    "WebhookEndpoint": gettext_lazy("no webhook endpoint %(value)s"),
    "Robot": gettext_lazy("no robot %(value)s"),
}
AMBIGUOUS = {
    "EmailTemplate": gettext_lazy("%(count)s email templates are called %(value)s; give its id"),
    "WebhookEndpoint": gettext_lazy("%(count)s webhook endpoints are called %(value)s; give its id"),
    "Robot": gettext_lazy("%(count)s robots are called %(value)s; give its id"),
}


def _channel_row(model_name: str, value, name: str) -> list[str]:
    from clm.automation.models import channels as channel_models

    model = getattr(channel_models, model_name)
    found = (
        model.objects.filter(**_channel_lookup(model, value)).count() if isinstance(value, int | str) else 0
    )
    if not found:
        return [at(name, MISSING[model_name] % {"value": repr(value)})]
    if found > 1:
        return [at(name, AMBIGUOUS[model_name] % {"count": found, "value": repr(value)})]
    return []


def _channel_get(model_name: str, value):
    from clm.automation.models import channels as channel_models

    model = getattr(channel_models, model_name)
    return model.objects.get(**_channel_lookup(model, value))


def _recipient(enrollment):
    from clm.customers.models import Contact

    if enrollment.contact_id:
        return enrollment.contact
    account = subject_account(enrollment)
    contacts = account.contacts.filter(status=Contact.Status.ACTIVE).exclude(email="")
    return contacts.order_by("-is_key_person", "id").first()


class StillSending(Exception):
    """The step's delivery is claimed by another attempt that has not finished: try again later
    (retried by the engine; an attempt that died is given back by the sweep)."""


def _delivered(delivery) -> dict:
    """A delivery's outcome as the step's: sent and refused (no consent, switched off) go on; a
    failure ends the enrollment with the channel's error (the channel retried already, and the
    key will not send again)."""
    from clm.automation.models import Delivery

    if delivery.status == Delivery.Status.FAILED:
        raise StepFailed(f"{delivery.channel} delivery {delivery.key} failed: {delivery.error}")
    if delivery.status in (Delivery.Status.SENDING, Delivery.Status.QUEUED):
        raise StillSending(f"{delivery.channel} delivery {delivery.key} is {delivery.status}")
    return {"delivery_id": delivery.pk, "status": delivery.status}


def _variables(config) -> list[str]:
    """The values given for the template's declared variables: each one, and nothing else."""
    from clm.automation.models import EmailTemplate

    given = config.get("variables", {})
    if not isinstance(given, dict) or not all(isinstance(v, str | int | float) for v in given.values()):
        return [at("variables", _("expected an object of names to texts or numbers"))]
    template = config.get("template")
    lookup = (
        {"pk": template}
        if isinstance(template, int) and not isinstance(template, bool)
        else {"key": template}
    )
    declared = EmailTemplate.objects.filter(**lookup).values_list("variables", flat=True).first()
    if declared is None:
        return []  # said by the template check
    problems = [
        at(f"variables.{name}", _("the template %(template)s needs a value for it") % {"template": template})
        for name in declared
        if name not in given
    ]
    return problems + [
        at(f"variables.{name}", _("the template %(template)s has no such variable") % {"template": template})
        for name in given
        if name not in declared
    ]


@register("send_email", transactional=False)
class SendEmail:
    @staticmethod
    def validate(config, context):
        return [
            *unknown_keys(config, {"template", "variables"}),
            *_channel_row("EmailTemplate", config.get("template"), "template"),
            *_variables(config),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import channels

        contact = _recipient(enrollment)
        if contact is None:
            raise StepFailed("no contact with an email address to send to")
        delivery = channels.send_email(
            template=_channel_get("EmailTemplate", step["template"]),
            contact=contact,
            context=step.get("variables", {}),  # account, contact, owner and company are the channel's
            key=key,
        )
        return {**_delivered(delivery), "contact_id": contact.pk}


@register("webhook", transactional=False)
class Webhook:
    @staticmethod
    def validate(config, context):
        problems = [
            *unknown_keys(config, {"endpoint", "event"}),
            *_channel_row("WebhookEndpoint", config.get("endpoint"), "endpoint"),
        ]
        return problems + check_text(config, "event", required=False, max_length=100)

    @staticmethod
    def run(enrollment, step, key):
        from clm.automation import channels

        delivery = channels.call_webhook(
            endpoint=_channel_get("WebhookEndpoint", step["endpoint"]),
            event=step.get("event") or f"playbook.{enrollment.playbook.key}",
            payload={
                "playbook": enrollment.playbook.key,
                "enrollment_id": enrollment.pk,
                "account_id": enrollment.account_id,
                "lead_id": enrollment.lead_id,
                "step": step["id"],
            },
            key=key,
        )
        return _delivered(delivery)


@register("robot", transactional=False)
class Robot:
    @staticmethod
    def validate(config, context):
        return [
            *unknown_keys(config, {"robot", "title", "text"}),
            *_channel_row("Robot", config.get("robot"), "robot"),
            *check_text(config, "title", max_length=200),
            *check_text(config, "text", max_length=4000),
        ]

    @staticmethod
    def run(enrollment, step, key):
        from django.urls import reverse

        from clm.automation import channels

        account = enrollment.account
        name = getattr(account, "name", "")
        link = reverse("web:account", args=[account.pk]) if account is not None else None
        delivery = channels.notify_robot(
            robot=_channel_get("Robot", step["robot"]),
            title=localized(step["title"]).replace("{account}", name),
            text_markdown=localized(step["text"]).replace("{account}", name),
            link=link,
            key=key,
        )
        return _delivered(delivery)
