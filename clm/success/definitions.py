"""Activation definitions kept by managers in the workspace: one definition and its milestones
saved together, in one transaction, each row validated and audited through clm.core.services."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from clm.core import services
from clm.success.models import ActivationDefinition, ActivationMilestone, OnboardingStep

DEFINITION_FIELDS = ("name", "name_zh", "product", "industry", "tier", "position", "active")
MILESTONE_FIELDS = ("position", "name", "name_zh", "kind", "target", "count", "days_allowed", "first_value")


@transaction.atomic
def save_definition(actor, definition: ActivationDefinition | None, data: dict, *, milestones: list[dict],
                    removed: list[ActivationMilestone] = (), via: str = "ui") -> ActivationDefinition:
    """Create or change a definition with its milestones: ``milestones`` are dicts of
    MILESTONE_FIELDS, with "instance" for one that exists; ``removed`` are deleted, unless an
    onboarding's checklist uses them (then say so: retire the definition instead)."""
    action = "add" if definition is None else "change"
    if actor is not None and not actor.has_perm(f"success.{action}_activationdefinition"):
        raise PermissionDenied(_("You may not change activation definitions."))
    kept = [m for m in milestones if m]
    if not kept:
        raise ValidationError({"milestones": _("A definition needs at least one milestone.")})
    used = [m for m in removed if OnboardingStep.objects.filter(milestone=m).exists()]
    if used:
        raise ValidationError({"milestones": _(
            "“%(name)s” is on onboarding checklists already and cannot be removed; change it, or retire "
            "the definition and write a new one.") % {"name": used[0].label()}})
    values = {k: data.get(k) for k in DEFINITION_FIELDS if k in data}
    if definition is None:
        definition = services.create(ActivationDefinition, values, actor=actor, via=via)
    else:
        services.update(definition, values, actor=actor, via=via)
    for milestone in removed:
        services.delete(milestone, actor=actor, via=via)
    for row in kept:
        instance = row.get("instance")
        fields = {k: row[k] for k in MILESTONE_FIELDS if k in row}
        if instance is None:
            services.create(ActivationMilestone, {**fields, "definition": definition}, actor=actor, via=via)
        else:
            services.update(instance, fields, actor=actor, via=via)
    return definition
