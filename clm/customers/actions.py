"""Named changes people make to accounts: assign, tag, untag, log an interaction. Each is one
transaction, checks the actor's permission on every account it touches, writes the audit log and
announces a domain event after commit. The workspace, the API and the CLI all call these."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from clm.core import audit, events, services
from clm.core.access import can_edit, visible_accounts
from clm.core.models import AuditLog
from clm.customers.models import Account, Interaction, Tag
from clm.customers.services import ROLES


def _editable(actor, ids) -> list[Account]:
    if not can_edit(actor, Account):
        raise PermissionDenied(_("You may not change accounts."))
    # accounts the actor cannot see are not there for them: left out, as if the ids were unknown
    return list(visible_accounts(actor).filter(pk__in=list(ids)).select_for_update(of=("self",)).order_by("pk"))


@transaction.atomic
def assign_accounts(actor, ids, role: str, assignee_id: int | None, *, via: str = "ui") -> int:
    """Make `assignee_id` (None: nobody) the sales owner (role "owner") or the CSM ("csm") of the
    visible accounts among `ids`; returns how many changed. All or nothing: one account the actor
    may not reassign refuses the whole change."""
    if role not in ROLES:
        raise ValidationError({"role": _("%(role)s is not owner or csm.") % {"role": role}})
    field = ROLES[role]
    moved = [a for a in _editable(actor, ids) if getattr(a, field) != assignee_id]
    if not moved:
        return 0
    Account.objects.filter(pk__in=[a.pk for a in moved]).update(**{field: assignee_id})
    # the write rules check that the actor may hand these accounts over, and to this person
    services.apply_rules(
        services.Written(
            Account,
            changed=[(a.pk, {f: getattr(a, f) for f in ROLES.values()}, {field: assignee_id}) for a in moved],
            actor=actor,
        )
    )
    audit.record_many(
        [
            audit.entry(actor, via, AuditLog.Action.UPDATE, a, {field: [getattr(a, field), assignee_id]})
            for a in moved
        ]
    )
    events.emit_many(
        "account.assigned",
        [
            {"account_id": a.pk, "role": role, "before": getattr(a, field), "after": assignee_id}
            for a in moved
        ],
        actor=actor,
    )
    return len(moved)


def _retag(actor, ids, tag: Tag, *, add: bool, via: str) -> int:
    accounts = _editable(actor, ids)
    through = Account.tags.through
    current: dict[int, set[int]] = {a.pk: set() for a in accounts}
    for account_id, tag_id in through.objects.filter(account_id__in=list(current)).values_list(
        "account_id", "tag_id"
    ):
        current[account_id].add(tag_id)
    touched = [a for a in accounts if (tag.pk in current[a.pk]) != add]
    if not touched:
        return 0
    pks = [a.pk for a in touched]
    if add:
        through.objects.bulk_create(
            [through(account_id=pk, tag_id=tag.pk) for pk in pks], ignore_conflicts=True
        )
    else:
        through.objects.filter(account_id__in=pks, tag_id=tag.pk).delete()
    after = {pk: current[pk] | {tag.pk} if add else current[pk] - {tag.pk} for pk in pks}
    audit.record_many(
        [
            audit.entry(
                actor, via, AuditLog.Action.UPDATE, a, {"tags": [sorted(current[a.pk]), sorted(after[a.pk])]}
            )
            for a in touched
        ]
    )
    events.emit_many(
        "account.tagged" if add else "account.untagged",
        [{"account_id": pk, "tag_id": tag.pk} for pk in pks],
        actor=actor,
    )
    return len(touched)


@transaction.atomic
def tag_accounts(actor, ids, tag: Tag, *, via: str = "ui") -> int:
    """Add `tag` to the visible accounts among `ids` that lack it; returns how many changed."""
    return _retag(actor, ids, tag, add=True, via=via)


@transaction.atomic
def untag_accounts(actor, ids, tag: Tag, *, via: str = "ui") -> int:
    """Take `tag` off the visible accounts among `ids` that carry it; returns how many changed."""
    return _retag(actor, ids, tag, add=False, via=via)


def log_interaction(actor, account: Account, data: dict, *, via: str = "ui") -> Interaction:
    """A note, call, meeting, visit or QBR on a visible account, owned by the actor who logs it."""
    if (
        not actor.has_perm("customers.add_interaction")
        or not visible_accounts(actor).filter(pk=account.pk).exists()
    ):
        raise PermissionDenied(_("You may not log interactions on this account."))
    return services.create(Interaction, {**data, "account": account, "owner": actor}, actor=actor, via=via)
