"""REST resources for the channels: email templates (/email-templates), webhook endpoints
(/webhooks) and IM robots (/robots), each with a test send, and the delivery log (/deliveries).

Templates are readable by every user (playbook editors pick them); everything else, and every
write, is for administrators and managers (clm.automation.channels.library.can_configure). Secrets are write-only: a webhook's generated secret is shown once."""

import datetime as dt
from typing import Annotated, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from clm.automation.channels import deliveries, library, robots, webhooks
from clm.automation.models import Delivery, EmailTemplate, Robot, WebhookEndpoint
from clm.automation.models.channels import SECRET_ENV_PREFIX
from clm.core import services
from clm.core.crud import DEFAULT_LIMIT, InputSchema, Limit, Offset, Text, choice, one_or_404, paginate

router = Router()

Name = Annotated[Text, Field(min_length=1, max_length=100)]
# What the schema can say of what is checked before any DNS look-up (Django's URL validator and
# clm.core.outbound): http(s), a host name with a top-level domain, an optional port and path.
URL_PATTERN = r"^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(:[1-9][0-9]{0,3})?(/[^\s]*)?$"
Url = Annotated[Text, Field(min_length=1, max_length=500, json_schema_extra={"pattern": URL_PATTERN})]
SecretEnv = Annotated[str, Field(max_length=100, json_schema_extra={"pattern": rf"^({SECRET_ENV_PREFIX}[A-Z0-9_]+)?$"})]
Language = Literal[tuple(code for code, _ in settings.LANGUAGES)]  # type: ignore[valid-type]


def require_member(user) -> None:
    if not (user.is_superuser or user.roles):
        raise PermissionDenied(_("You have no role in this workspace."))


# --- email templates ---------------------------------------------------------------------------


class VariantIn(InputSchema):
    language: Language
    subject: Annotated[Text, Field(min_length=1, max_length=300)]
    html: Annotated[Text, Field(min_length=1)]
    text: Text = ""


class VariantOut(Schema):
    language: str
    subject: str
    html: str
    text: str


class TemplateIn(InputSchema):
    key: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")]
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    kind: choice(EmailTemplate.Kind) = EmailTemplate.Kind.MARKETING
    variables: list[Annotated[str, Field(max_length=50)]] = []
    variants: list[VariantIn]


class TemplatePatch(InputSchema):
    key: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")] | None = None
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    kind: choice(EmailTemplate.Kind) | None = None
    variables: list[Annotated[str, Field(max_length=50)]] | None = None
    variants: list[VariantIn] | None = None


class TemplateOut(Schema):
    id: int
    key: str
    name: str
    kind: str
    variables: list[str]
    variants: list[VariantOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_variants(obj):
        return list(obj.variants.all())


class TemplatePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TemplateOut]


def _templates():
    return EmailTemplate.objects.prefetch_related("variants").order_by("key", "pk")


def _set(payload: InputSchema) -> dict:
    data = payload.model_dump(exclude_unset=True)
    return {k: v for k, v in data.items() if v is not None}


@router.get(
    "/email-templates", operation_id="list_email_templates", response=TemplatePage, tags=["email templates"], summary="List email templates"
)
def list_templates(request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0):
    require_member(request.user)
    return paginate(_templates(), limit, offset)


@router.post(
    "/email-templates", operation_id="create_email_template",
    response={201: TemplateOut},
    tags=["email templates"],
    summary="Create an email template",
)
def create_template(request, payload: TemplateIn):
    library.require_configure(request.user, EmailTemplate)
    template = library.save_template(request.user, payload.model_dump())
    return Status(201, _templates().get(pk=template.pk))


@router.get(
    "/email-templates/{int:id}", operation_id="get_email_template", response=TemplateOut, tags=["email templates"], summary="One email template"
)
def get_template(request, id: int):
    require_member(request.user)
    return one_or_404(_templates(), id)


@router.patch(
    "/email-templates/{int:id}", operation_id="update_email_template",
    response=TemplateOut,
    tags=["email templates"],
    summary="Change an email template",
)
def update_template(request, id: int, payload: TemplatePatch):
    library.require_configure(request.user, EmailTemplate)
    template = one_or_404(_templates(), id)
    library.save_template(request.user, _set(payload), template)
    return _templates().get(pk=id)


@router.delete(
    "/email-templates/{int:id}", operation_id="delete_email_template",
    response={204: None},
    tags=["email templates"],
    summary="Delete an email template",
)
def delete_template(request, id: int):
    library.require_configure(request.user, EmailTemplate)
    services.delete(one_or_404(EmailTemplate.objects.all(), id), actor=request.user, via="api")
    return Status(204, None)


# --- deliveries (what a test send answers with, and the log) -------------------------------------


class DeliveryOut(Schema):
    id: int
    channel: str
    key: str
    status: str
    reason: str
    attempts: int
    failure: str = Field(description="why it was not sent, in the reader's language ('' when sent)")
    error: str = Field(description="the sender's raw detail (the receiver's answer, the exception), for administrators; '' for others")
    response_code: int | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    account_id: int | None
    contact_id: int | None
    template_id: int | None
    endpoint_id: int | None
    robot_id: int | None
    to: str
    subject: str
    event: str
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None


    @staticmethod
    def resolve_failure(obj):
        return deliveries.failure_text(obj)

    @staticmethod
    def resolve_error(obj, context):
        return obj.error if deliveries.sees_raw_errors(context["request"].user) else ""


class DeliveryPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[DeliveryOut]


class DeliveryFilters(Schema):
    channel: choice(Delivery.Channel) | None = None
    status: choice(Delivery.Status) | None = None
    account: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None


@router.get("/deliveries", operation_id="list_deliveries", response=DeliveryPage, tags=["deliveries"], summary="The delivery log")
def list_deliveries(
    request, filters: Query[DeliveryFilters], limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
):
    library.require_configure(request.user)
    qs = Delivery.objects.order_by("-created_at", "-id")
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.account:
        qs = qs.filter(account_id=filters.account)
    return paginate(qs, limit, offset)


# --- webhooks ----------------------------------------------------------------------------------


EventName = Annotated[str, Field(min_length=1, max_length=60)]


class WebhookIn(InputSchema):
    name: Name
    url: Url
    events: list[EventName] = []
    secret_env: SecretEnv = ""
    active: bool = True


class WebhookPatch(InputSchema):
    name: Name | None = None
    url: Url | None = None
    events: list[EventName] | None = None
    secret_env: SecretEnv | None = None
    active: bool | None = None


class WebhookOut(Schema):
    id: int
    name: str
    url: str = Field(description="the address, masked: scheme and host, then its last four characters")
    events: list[str]
    secret_env: str
    has_secret: bool
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_has_secret(obj):
        return bool(obj.secret or obj.secret_env)

    @staticmethod
    def resolve_url(obj):
        return deliveries.masked_url(obj.url)


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret; shown this once (empty when read from secret_env)")

    @staticmethod
    def resolve_secret(obj):
        return obj.shown_secret


class Secret(Schema):
    secret: str


@router.get("/webhooks", operation_id="list_webhooks", response=list[WebhookOut], tags=["webhooks"], summary="List webhook endpoints")
def list_webhooks(request):
    library.require_configure(request.user, WebhookEndpoint)
    return WebhookEndpoint.objects.order_by("name", "pk")


@router.post(
    "/webhooks", operation_id="create_webhook", response={201: WebhookCreated}, tags=["webhooks"], summary="Register a webhook endpoint"
)
def create_webhook(request, payload: WebhookIn):
    library.require_configure(request.user, WebhookEndpoint)
    endpoint, endpoint.shown_secret = webhooks.create_endpoint(request.user, payload.model_dump())
    return Status(201, endpoint)


@router.get("/webhooks/{int:id}", operation_id="get_webhook", response=WebhookOut, tags=["webhooks"], summary="One webhook endpoint")
def get_webhook(request, id: int):
    library.require_configure(request.user, WebhookEndpoint)
    return one_or_404(WebhookEndpoint.objects.all(), id)


@router.patch(
    "/webhooks/{int:id}", operation_id="update_webhook", response=WebhookOut, tags=["webhooks"], summary="Change a webhook endpoint"
)
def update_webhook(request, id: int, payload: WebhookPatch):
    library.require_configure(request.user, WebhookEndpoint)
    endpoint = one_or_404(WebhookEndpoint.objects.all(), id)
    return webhooks.change_endpoint(request.user, endpoint, _set(payload))


@router.delete(
    "/webhooks/{int:id}", operation_id="delete_webhook", response={204: None}, tags=["webhooks"], summary="Delete a webhook endpoint"
)
def delete_webhook(request, id: int):
    library.require_configure(request.user, WebhookEndpoint)
    services.delete(one_or_404(WebhookEndpoint.objects.all(), id), actor=request.user, via="api")
    return Status(204, None)


@router.post(
    "/webhooks/{int:id}/rotate-secret", operation_id="rotate_webhook_secret", response=Secret, tags=["webhooks"], summary="Generate a new secret"
)
def rotate_webhook_secret(request, id: int):
    library.require_configure(request.user, WebhookEndpoint)
    return {"secret": webhooks.rotate_secret(request.user, one_or_404(WebhookEndpoint.objects.all(), id))}


@router.post(
    "/webhooks/{int:id}/test", operation_id="test_webhook", response=DeliveryOut, tags=["webhooks"], summary="Send a test delivery"
)
def test_webhook(request, id: int):
    library.require_configure(request.user, WebhookEndpoint)
    return webhooks.send_test(one_or_404(WebhookEndpoint.objects.all(), id))


# --- robots ------------------------------------------------------------------------------------


class RobotIn(InputSchema):
    name: Name
    kind: choice(Robot.Kind)
    url: Url
    secret: Annotated[Text, Field(max_length=200)] = ""
    active: bool = True


class RobotPatch(InputSchema):
    name: Name | None = None
    kind: choice(Robot.Kind) | None = None
    url: Url | None = None
    secret: Annotated[Text, Field(max_length=200)] | None = None
    active: bool | None = None


class RobotOut(Schema):
    id: int
    name: str
    kind: str
    url: str = Field(description="the address, masked: scheme and host, then its last four characters (its access token)")
    has_secret: bool
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_has_secret(obj):
        return bool(obj.secret)

    @staticmethod
    def resolve_url(obj):
        return deliveries.masked_url(obj.url)


@router.get("/robots", operation_id="list_robots", response=list[RobotOut], tags=["robots"], summary="List IM robots")
def list_robots(request):
    library.require_configure(request.user, Robot)
    return Robot.objects.order_by("name", "pk")


@router.post("/robots", operation_id="create_robot", response={201: RobotOut}, tags=["robots"], summary="Add an IM robot")
def create_robot(request, payload: RobotIn):
    library.require_configure(request.user, Robot)
    return Status(201, library.save_robot(request.user, payload.model_dump()))


@router.get("/robots/{int:id}", operation_id="get_robot", response=RobotOut, tags=["robots"], summary="One IM robot")
def get_robot(request, id: int):
    library.require_configure(request.user, Robot)
    return one_or_404(Robot.objects.all(), id)


@router.patch("/robots/{int:id}", operation_id="update_robot", response=RobotOut, tags=["robots"], summary="Change an IM robot")
def update_robot(request, id: int, payload: RobotPatch):
    library.require_configure(request.user, Robot)
    return library.save_robot(request.user, _set(payload), one_or_404(Robot.objects.all(), id))


@router.delete("/robots/{int:id}", operation_id="delete_robot", response={204: None}, tags=["robots"], summary="Delete an IM robot")
def delete_robot(request, id: int):
    library.require_configure(request.user, Robot)
    services.delete(one_or_404(Robot.objects.all(), id), actor=request.user, via="api")
    return Status(204, None)


@router.post("/robots/{int:id}/test", operation_id="test_robot", response=DeliveryOut, tags=["robots"], summary="Send a test message")
def test_robot(request, id: int):
    library.require_configure(request.user, Robot)
    return robots.send_test(one_or_404(Robot.objects.all(), id))
