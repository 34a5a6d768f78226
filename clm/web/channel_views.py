"""The channel pages: email templates (with a preview of each language for a chosen contact),
webhooks and IM robots; for administrators and managers, creating, editing, switching off and
sending a test. Every change goes through the channel services the API uses
(clm.automation.channels), whose refusals come back beside the field, form filled. Secrets are
never shown back: addresses are masked, and a webhook's generated secret is shown once, on the
page after the change."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clm.automation.channels import deliveries, email, library, robots, webhooks
from clm.automation.channels.deliveries import masked_url as masked
from clm.automation.models import Delivery, EmailTemplate, Robot, WebhookEndpoint
from clm.core import services
from clm.core.access import visible_records
from clm.core.crud import one_or_404
from clm.customers.models import Contact
from clm.web.channel_forms import RobotForm, TemplateForm, WebhookForm

KINDS = {"webhooks": WebhookEndpoint, "robots": Robot}


def _member(request) -> None:
    user = request.user
    if not (user.is_superuser or user.roles):
        raise PermissionDenied(_("You have no role in this workspace."))


def _refused(form, error: ValidationError, field_of=None) -> None:
    """The service's refusal beside the fields it names (the rest above the form)."""
    for path, problems in error.message_dict.items():
        name = field_of(path) if field_of else (path if path in form.fields else None)
        for problem in problems:
            form.add_error(name, problem)


def _delivery_message(request, delivery: Delivery) -> None:
    if delivery.status == Delivery.Status.SENT:
        messages.success(request, _("Test sent (HTTP %(code)s).") % {"code": delivery.response_code})
    else:
        reason = deliveries.failure_text(delivery)
        messages.error(
            request,
            _("The test was not sent: %(status)s — %(reason)s")
            % {"status": delivery.get_status_display(), "reason": reason},
        )


# -- the list -----------------------------------------------------------------------------------


@login_required
def channel_list(request):
    _member(request)
    templates = EmailTemplate.objects.prefetch_related("variants").order_by("key")
    return render(request, "web/channels/list.html", {
        "templates": [(t, sorted(v.get_language_display() for v in t.variants.all())) for t in templates],
        "webhooks": [(w, masked(w.url)) for w in WebhookEndpoint.objects.order_by("name", "pk")],
        "robots": [(r, masked(r.url)) for r in Robot.objects.order_by("name", "pk")],
        "can_edit": library.can_configure(request.user),
        "nav": "channels",
    })


# -- email templates ----------------------------------------------------------------------------


def _sample_contact(request):
    """The contact a preview is rendered for: the one asked for, else the first with an email
    address, among those the user may see."""
    contacts = visible_records(Contact, request.user).select_related("account")
    asked = request.GET.get("contact", "")
    chosen = contacts.filter(pk=int(asked)).first() if asked.isdigit() and len(asked) < 19 else None
    return chosen or contacts.exclude(email="").order_by("-is_key_person", "id").first()


def _in_reading_order(previews: list[dict]) -> list[dict]:
    """The user's own language first."""
    own = translation.get_language() or ""
    return sorted(previews, key=lambda p: p["language"][:2] != own[:2])


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request, pk=None):
    _member(request)
    template = one_or_404(EmailTemplate.objects.prefetch_related("variants"), pk) if pk else None
    can_edit = library.can_configure(request.user, EmailTemplate)
    form = TemplateForm(initial=TemplateForm.initial_of(template) if template else {"kind": EmailTemplate.Kind.MARKETING})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Only administrators and managers may configure channels."))
        form = TemplateForm(request.POST)
        if form.is_valid():
            try:
                saved = library.save_template(request.user, form.data_for_service(), template, via="ui")
            except ValidationError as error:
                _refused(form, error, form.field_of)
            else:
                messages.success(request, _("The email template is saved."))
                return redirect("web:channel_template", pk=saved.pk)
    contact = _sample_contact(request) if template else None
    return render(request, "web/channels/template.html", {
        "template": template, "form": form, "can_edit": can_edit, "nav": "channels",
        "contact": contact, "previews": _in_reading_order(email.preview(template, contact)) if contact else [],
        "contacts": visible_records(Contact, request.user).exclude(email="").select_related("account")
        .order_by("-is_key_person", "id")[:50] if template else [],
    }, status=422 if form.errors else 200)


@login_required
@require_POST
def template_delete(request, pk):
    template = one_or_404(EmailTemplate.objects.all(), pk)
    library.require_configure(request.user, EmailTemplate)
    services.delete(template, actor=request.user, via="ui")
    messages.success(request, _("The email template is deleted."))
    return redirect("web:channels")


# -- webhooks and robots ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request, pk=None):
    _member(request)
    endpoint = one_or_404(WebhookEndpoint.objects.all(), pk) if pk else None
    can_edit = library.can_configure(request.user, WebhookEndpoint)
    initial = {"active": True}
    if endpoint:
        initial = {"name": endpoint.name, "events": ", ".join(endpoint.events), "secret_env": endpoint.secret_env,
                   "active": endpoint.active}
    form = WebhookForm(initial=initial, editing=endpoint is not None)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Only administrators and managers may configure channels."))
        form = WebhookForm(request.POST, editing=endpoint is not None)
        if form.is_valid():
            try:
                if endpoint is None:
                    endpoint, secret = webhooks.create_endpoint(request.user, form.data_for_service(), via="ui")
                    _show_once(request, endpoint, secret)
                else:
                    webhooks.change_endpoint(request.user, endpoint, form.data_for_service(), via="ui")
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(request, _("The webhook is saved."))
                return redirect("web:channel_webhook", pk=endpoint.pk)
    shown = request.session.pop(SHOWN_SECRET, None) if endpoint and request.method == "GET" else None
    secret = shown["secret"] if shown and shown.get("pk") == endpoint.pk else ""
    return _channel_page(request, "webhook", endpoint, form, can_edit, secret=secret)


SHOWN_SECRET = "channels:new-secret"


def _show_once(request, endpoint, secret: str) -> None:
    """A generated secret, kept in the session until the next page of this endpoint shows it (so
    a reload neither sends the form again nor shows the secret twice)."""
    if secret:
        request.session[SHOWN_SECRET] = {"pk": endpoint.pk, "secret": secret}


@login_required
@require_http_methods(["GET", "POST"])
def robot_edit(request, pk=None):
    _member(request)
    robot = one_or_404(Robot.objects.all(), pk) if pk else None
    can_edit = library.can_configure(request.user, Robot)
    initial = {"name": robot.name, "kind": robot.kind, "active": robot.active} if robot else {"active": True}
    form = RobotForm(initial=initial, editing=robot is not None)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Only administrators and managers may configure channels."))
        form = RobotForm(request.POST, editing=robot is not None)
        if form.is_valid():
            try:
                robot = library.save_robot(request.user, form.data_for_service(), robot, via="ui")
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(request, _("The robot is saved."))
                return redirect("web:channel_robot", pk=robot.pk)
    return _channel_page(request, "robot", robot, form, can_edit)


def _channel_page(request, kind: str, channel, form, can_edit: bool, *, secret: str = ""):
    recent = []
    if channel is not None and can_edit:
        recent = Delivery.objects.filter(**{"endpoint" if kind == "webhook" else "robot": channel}).order_by("-id")[:10]
        raw = deliveries.sees_raw_errors(request.user)
        recent = [(d, deliveries.failure_text(d), d.error if raw else "") for d in recent]
    return render(request, f"web/channels/{kind}.html", {
        "channel": channel, "form": form, "can_edit": can_edit, "secret": secret, "nav": "channels",
        "address": masked(channel.url) if channel else "", "recent": recent,
        "has_secret": bool(channel and (channel.secret or getattr(channel, "secret_env", ""))),
    }, status=422 if form.errors else 200)


def _channel(request, kind: str, pk: int):
    if kind not in KINDS:
        raise PermissionDenied(_("Unknown change."))
    model = KINDS[kind]
    channel = one_or_404(model.objects.all(), pk)
    library.require_configure(request.user, model)
    return channel


def _back(kind: str, channel):
    return redirect("web:channel_webhook" if kind == "webhooks" else "web:channel_robot", pk=channel.pk)


@login_required
@require_POST
def channel_active(request, kind, pk):
    channel = _channel(request, kind, pk)
    on = request.POST.get("active") == "1"
    if kind == "webhooks":
        webhooks.change_endpoint(request.user, channel, {"active": on}, via="ui")
    else:
        library.save_robot(request.user, {"active": on}, channel, via="ui")
    messages.success(request, _("It is on.") if on else _("It is off: nothing is sent through it."))
    return _back(kind, channel)


@login_required
@require_POST
def channel_test(request, kind, pk):
    channel = _channel(request, kind, pk)
    _delivery_message(request, webhooks.send_test(channel) if kind == "webhooks" else robots.send_test(channel))
    return _back(kind, channel)


@login_required
@require_POST
def webhook_rotate(request, pk):
    endpoint = _channel(request, "webhooks", pk)
    _show_once(request, endpoint, webhooks.rotate_secret(request.user, endpoint, via="ui"))
    messages.success(request, _("A new secret is made; the old one no longer signs."))
    return redirect("web:channel_webhook", pk=endpoint.pk)


@login_required
@require_POST
def channel_delete(request, kind, pk):
    channel = _channel(request, kind, pk)
    services.delete(channel, actor=request.user, via="ui")
    messages.success(request, _("Deleted."))
    return redirect("web:channels")
