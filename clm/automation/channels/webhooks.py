"""Webhooks: signed JSON to an endpoint an administrator registered, through clm.core.outbound."""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clm.automation.channels import templates
from clm.automation.channels.deliveries import claim, finish
from clm.automation.models import Delivery, WebhookEndpoint
from clm.automation.models.channels import new_secret
from clm.core import audit, outbound, services
from clm.customers.models import Account

# The outbound guard's refusals, said in the user's language.
REFUSALS = {
    "invalid": gettext_lazy("%(url)s is not a valid URL"),
    "scheme": gettext_lazy("%(url)s is not an http:// or https:// URL"),
    "no_host": gettext_lazy("%(url)s names no host"),
    "credentials": gettext_lazy("%(url)s carries a user name or password; CLM does not send those"),
    "address": gettext_lazy(
        "%(host)s is %(kind)s; an administrator may allow this host in CLM_OUTBOUND_ALLOWED_HOSTS"
    ),
}
ADDRESS_KINDS = {
    "a loopback address": gettext_lazy("a loopback address"),
    "a link-local address": gettext_lazy("a link-local address"),
    "a multicast address": gettext_lazy("a multicast address"),
    "an unspecified address": gettext_lazy("an unspecified address"),
    "a private address": gettext_lazy("a private address"),
    "a reserved address": gettext_lazy("a reserved address"),
}


def check_address(url: str, field: str = "url") -> None:
    """ValidationError naming the field when CLM would refuse to call the URL (for robots too)."""
    try:
        outbound.check_url(url)
    except outbound.Refused as exc:
        values = dict(exc.values)
        if "kind" in values:
            values["kind"] = ADDRESS_KINDS.get(values["kind"], values["kind"])
        message = REFUSALS[exc.why] % values if exc.why in REFUSALS else str(exc)
        raise ValidationError({field: message}) from None
    except outbound.Unreachable:
        pass  # a name that does not resolve today may tomorrow; sending will say so


@transaction.atomic
def create_endpoint(actor, data: dict, *, via: str = "api") -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown this once (empty when read from secret_env)."""
    check_address(data.get("url", ""))
    secret = "" if data.get("secret_env") else new_secret()
    endpoint = services.create(WebhookEndpoint, {**data, "secret": secret}, actor=actor, via=via)
    return endpoint, secret


@transaction.atomic
def change_endpoint(actor, endpoint: WebhookEndpoint, data: dict, *, via: str = "api") -> WebhookEndpoint:
    if "url" in data:
        check_address(data["url"])
    if data.get("secret_env") == "" and endpoint.secret_env and not endpoint.secret:
        raise ValidationError({"secret_env": _("an endpoint needs a secret: rotate it to generate one")})
    return services.update(endpoint, data, actor=actor, via=via)


@transaction.atomic
def rotate_secret(actor, endpoint: WebhookEndpoint, *, via: str = "api") -> str:
    secret = new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret=secret, secret_env="", updated_at=timezone.now()
    )
    audit.record(actor, via, "update", endpoint, {"secret": ["…", "rotated"]})
    endpoint.secret, endpoint.secret_env = secret, ""
    return secret


TEST_EVENT = "clm.test"


def send_test(endpoint: WebhookEndpoint) -> Delivery:
    """A test delivery an administrator asks for, whatever events the endpoint takes."""
    key = f"test:webhook:{endpoint.pk}:{uuid.uuid4().hex}"
    return call_webhook(
        endpoint=endpoint, event=TEST_EVENT, payload={"message": "CLM test delivery"}, key=key
    )


def _refusal(endpoint: WebhookEndpoint, event: str):
    if not endpoint.active:
        return Delivery.Reason.INACTIVE, f"webhook {endpoint.name!r} is switched off"
    if event != TEST_EVENT and not endpoint.receives(event):
        return Delivery.Reason.NOT_SUBSCRIBED, f"webhook {endpoint.name!r} does not take {event!r}"
    return None


def _is_account(value) -> bool:
    """Whether a payload's account_id names an account (the delivery then shows on its timeline)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        return False
    return Account.objects.filter(pk=value).exists()


def call_webhook(*, endpoint: WebhookEndpoint, event: str, payload: dict, key: str) -> Delivery:
    """POST {"key", "event", "sent_at", "data"} signed with the endpoint's secret, once per key."""
    account_id = payload.get("account_id") if isinstance(payload, dict) else None
    delivery, mine = claim(
        key,
        Delivery.Channel.WEBHOOK,
        refusal=lambda: _refusal(endpoint, event),
        endpoint=endpoint,
        event=str(event)[:60],
        to=outbound.parse(endpoint.url).host if endpoint.url.startswith(("http://", "https://")) else "",
        account_id=account_id if _is_account(account_id) else None,
    )
    if not mine:
        return delivery
    secret = endpoint.signing_secret()
    if not secret:
        return finish(
            delivery,
            Delivery.Status.FAILED,
            error=f"the environment variable {endpoint.secret_env} is not set",
        )
    try:
        body = {
            "key": key,
            "event": event,
            "sent_at": timezone.now().isoformat(),
            "data": templates.plain(payload, "payload"),
        }
    except templates.TemplateProblem as exc:
        return finish(delivery, Delivery.Status.FAILED, error=str(exc))
    return post(
        delivery, endpoint.url, body, secret=secret, headers={"X-CLM-Event": event, "X-CLM-Delivery": key}
    )


def post(
    delivery: Delivery, url: str, body, *, secret: str | None = None, headers=None, check=None
) -> Delivery:
    """Send through the outbound client and record the outcome; `check(response)` may name a
    failure hidden in a 2xx answer (the IM robots answer errors with 200 and a code)."""
    try:
        response = outbound.post_json(url, body, secret=secret, headers=headers)
    except outbound.Refused as exc:
        return finish(
            delivery,
            Delivery.Status.REFUSED,
            error=str(exc),
            reason=Delivery.Reason.ADDRESS_REFUSED,
            attempts=exc.attempts or 1,
        )
    except outbound.OutboundError as exc:
        return finish(delivery, Delivery.Status.FAILED, error=str(exc), attempts=exc.attempts)
    problem = None if response.ok else f"HTTP {response.status}: {response.text()}"
    if problem is None and check is not None:
        problem = check(response)
    status = Delivery.Status.FAILED if problem else Delivery.Status.SENT
    return finish(
        delivery, status, error=problem or "", response_code=response.status, attempts=response.attempts
    )
