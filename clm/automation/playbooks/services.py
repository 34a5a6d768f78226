"""Named operations on playbooks, shared by the API, the CLI and the daily run: save a document as
a new version, enable a template, export and load, enroll by hand."""

from __future__ import annotations

import json
from importlib import resources

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.automation.models import Enrollment, Playbook, PlaybookVersion
from clm.automation.playbooks import definition as documents
from clm.automation.playbooks import engine, subjects
from clm.automation.playbooks.triggers import Subject
from clm.core import audit
from clm.core.models import Role

EDITOR_ROLES = (Role.ADMIN, "Manager")


def can_edit(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_role(*EDITOR_ROLES))


def require_editor(user) -> None:
    if user is not None and not can_edit(user):
        raise PermissionDenied(_("Only administrators and managers may change playbooks."))


def enroll_graph(exclude_key: str = "") -> dict[str, set[str]]:
    """Which playbooks each playbook's current version enrolls into (to refuse loops)."""
    graph: dict[str, set[str]] = {}
    for playbook in Playbook.objects.prefetch_related("versions"):
        if playbook.key == exclude_key or not playbook.versions.all():
            continue
        latest = max(playbook.versions.all(), key=lambda v: v.number)
        graph[playbook.key] = {
            s.get("playbook") for s in latest.definition["steps"] if s.get("type") == "enroll"
        }
    return graph


def check(doc) -> dict:
    key = doc.get("key", "") if isinstance(doc, dict) else ""
    return documents.check_document(doc, fields=subjects.fields(), enrolls=enroll_graph(key))


@transaction.atomic
def save_document(doc, *, actor=None, via: str = "system", template: str = "") -> tuple[Playbook, bool]:
    """Create the playbook the document names, or update it; a changed definition becomes a new
    version (running enrollments keep theirs). Returns (playbook, created)."""
    require_editor(actor)
    clean = check(doc)
    playbook = Playbook.objects.select_for_update().filter(key=clean["key"]).first()
    created = playbook is None
    before = {} if created else audit.snapshot(playbook)
    playbook = playbook or Playbook(
        key=clean["key"], created_by=actor if getattr(actor, "pk", None) else None
    )
    playbook.name_zh, playbook.name_en = clean["name"]["zh"], clean["name"]["en"]
    playbook.description = clean["description"]
    playbook.template = template or playbook.template
    playbook.holdout = clean["holdout"]
    playbook.reentry, playbook.reentry_days = clean["reentry"]["policy"], clean["reentry"]["days"]
    playbook.outcome, playbook.outcome_days = clean["outcome"]["kind"], clean["outcome"]["days"]
    playbook.trigger_type = clean["definition"]["trigger"]["type"]
    if clean["active"] and not playbook.active:
        playbook.enabled_at = timezone.now()
    playbook.active = clean["active"]
    playbook.save()
    current = None if created else playbook.current
    if current is None or current.definition != clean["definition"]:
        PlaybookVersion.objects.create(
            playbook=playbook,
            number=(current.number + 1) if current else 1,
            definition=clean["definition"],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    changes = audit.diff(before, audit.snapshot(playbook))
    audit.record(actor, via, "create" if created else "update", playbook, changes)
    transaction.on_commit(_changed)
    return playbook, created


def _changed() -> None:
    from clm.automation.playbooks import dispatch

    dispatch.cache.clear()


def document(playbook: Playbook, version: PlaybookVersion | None = None) -> dict:
    """The playbook as the JSON document the API takes and `clm playbook load` reads."""
    version = version or playbook.current
    return {
        "key": playbook.key,
        "name": {"zh": playbook.name_zh, "en": playbook.name_en},
        "description": playbook.description,
        "active": playbook.active,
        "holdout": playbook.holdout,
        "reentry": {"policy": playbook.reentry, "days": playbook.reentry_days},
        "outcome": {"kind": playbook.outcome, "days": playbook.outcome_days},
        "definition": version.definition if version else None,
    }


@transaction.atomic
def set_active(playbook: Playbook, active: bool, *, actor=None, via: str = "system") -> Playbook:
    require_editor(actor)
    if playbook.active != active:
        before = audit.snapshot(playbook)
        playbook.active = active
        if active:
            playbook.enabled_at = timezone.now()
        playbook.save(update_fields=["active", "enabled_at", "updated_at"])
        audit.record(actor, via, "update", playbook, audit.diff(before, audit.snapshot(playbook)))
        transaction.on_commit(_changed)
    return playbook


# -- templates ----------------------------------------------------------------------------------


def templates() -> dict[str, dict]:
    """The shipped templates by key (JSON files in clm/automation/playbooks/templates)."""
    found = {}
    for item in sorted(
        resources.files("clm.automation.playbooks").joinpath("templates").iterdir(), key=lambda p: p.name
    ):
        if item.name.endswith(".json"):
            doc = json.loads(item.read_text(encoding="utf-8"))
            found[doc["key"]] = doc
    return found


def enable_template(key: str, *, holdout: float | None = None, actor=None, via: str = "system") -> Playbook:
    """An active playbook made from a template (its key is the template's)."""
    shipped = templates()
    if key not in shipped:
        reason = _("no template is called %(key)s (templates: %(shipped)s)")
        raise ValidationError({"key": reason % {"key": repr(key), "shipped": ", ".join(shipped)}})
    doc = {**shipped[key], "active": True}
    if holdout is not None:
        doc["holdout"] = holdout
    playbook, _version = save_document(doc, actor=actor, via=via, template=key)
    return playbook


# -- enrolling by hand --------------------------------------------------------------------------


def enroll_accounts(
    playbook: Playbook, account_ids: list[int], *, actor=None, via: str = "system"
) -> list[Enrollment]:
    """Manual enrollment, of one account or many (the accounts list's bulk action)."""
    if not playbook.active:
        raise ValidationError({"playbook": _("playbook %(key)s is not active") % {"key": repr(playbook.key)}})
    stamp = timezone.now().isoformat()
    actor_id = getattr(actor, "pk", None)
    found = [
        Subject(a, f"manual:{a}:{stamp}", {"type": "manual", "by": actor_id, "via": via})
        for a in dict.fromkeys(account_ids)
    ]
    rule = playbook.current.definition.get("conditions")
    if rule:
        from clm.automation.playbooks.dispatch import admitted

        found = admitted(rule, found, timezone.localdate())
    return engine.enroll_many(playbook, found)


def resolve(key_or_id: str) -> Playbook:
    """A playbook by its key or its id (the CLI's and the API's argument)."""
    query = Playbook.objects.filter(key=key_or_id)
    if key_or_id.isdigit():
        query = Playbook.objects.filter(pk=int(key_or_id)) | query
    playbook = query.first()
    if playbook is None:
        raise Playbook.DoesNotExist(f"No playbook {key_or_id!r}.")
    return playbook


@transaction.atomic
def delete(playbook: Playbook, *, actor=None, via: str = "system") -> None:
    """Delete a playbook that never enrolled anyone (one that did is turned off instead: its
    enrollments are its history and its uplift)."""
    require_editor(actor)
    if playbook.enrollments.exists():
        raise ValidationError(
            {"playbook": _("%(key)s has enrollments: turn it off instead of deleting it") % {"key": playbook.key}}
        )
    log = audit.entry(actor, via, "delete", playbook, {})
    playbook.delete()
    log.save()
    transaction.on_commit(_changed)
