"""Saving the channels' configuration (email templates with their language variants, robots) and
who may change it. Each save is one transaction through clm.core.services (validated, audited);
errors name the field, with variants as variants.<n>.<field>."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from clm.automation.channels.webhooks import check_address
from clm.automation.models import EmailTemplate, EmailTemplateVariant, Robot
from clm.core import services
from clm.core.access import can_edit


def can_configure(user, model=EmailTemplate) -> bool:
    """Administrators and managers configure the channels (their role's model permission, as
    clm.core.access reads it); everyone else with a role sees them, secrets masked."""
    return bool(user and user.is_authenticated and user.is_active and can_edit(user, model))


def require_configure(user, model=EmailTemplate) -> None:
    if not can_configure(user, model):
        raise PermissionDenied(_("Only administrators and managers may configure channels."))


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    return ValidationError({f"{prefix}.{field}": messages for field, messages in exc.message_dict.items()})


@transaction.atomic
def save_template(
    actor, data: dict, template: EmailTemplate | None = None, *, via: str = "api"
) -> EmailTemplate:
    """Create a template (template None) or change one; `variants`, when given, replaces them all."""
    data = dict(data)
    variants = data.pop("variants", None)
    key = data.get("key")
    if key and EmailTemplate.objects.filter(key=key).exclude(pk=getattr(template, "pk", None)).exists():
        raise ValidationError({"key": _("another template has the key %(key)s") % {"key": repr(key)}})
    if template is None and not variants:
        raise ValidationError({"variants": _("give at least one language variant")})
    if variants is not None and not variants:
        raise ValidationError({"variants": _("a template keeps at least one language variant")})
    if template is None:
        template = services.create(EmailTemplate, data, actor=actor, via=via)
    elif data:
        template = services.update(template, data, actor=actor, via=via)
    if variants is None:
        # the declared variables may have changed: the variants must still render
        for i, variant in enumerate(template.variants.all()):
            try:
                variant.full_clean(validate_constraints=False)
            except ValidationError as exc:
                raise _prefixed(exc, f"variants.{i}") from None
        return template
    seen = set()
    for i, row in enumerate(variants):
        if row.get("language") in seen:
            reason = _("%(language)s is given twice") % {"language": row["language"]}
            raise ValidationError({f"variants.{i}.language": reason})
        seen.add(row.get("language"))
    for old in template.variants.all():
        services.delete(old, actor=actor, via=via)
    for i, row in enumerate(variants):
        try:
            services.create(EmailTemplateVariant, {**row, "template": template}, actor=actor, via=via)
        except ValidationError as exc:
            raise _prefixed(exc, f"variants.{i}") from None
    return template


@transaction.atomic
def save_robot(actor, data: dict, robot: Robot | None = None, *, via: str = "api") -> Robot:
    if "url" in data:
        check_address(data["url"])
    if robot is None:
        return services.create(Robot, data, actor=actor, via=via)
    return services.update(robot, data, actor=actor, via=via)
