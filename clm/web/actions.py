"""What the workspace changes, each through clm.core.services (validated, audited, hooks run) and
only on records the user may see."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from clm.core import services
from clm.core.access import can_edit, visible_accounts
from clm.customers.models import Account, Interaction, Tag


def log_interaction(user, account: Account, data: dict) -> Interaction:
    """A note, call, meeting, visit or QBR on the account, by the user."""
    if not user.has_perm("customers.add_interaction"):
        raise PermissionDenied
    return services.create(Interaction, {**data, "account": account, "owner": user}, actor=user, via="ui")


@transaction.atomic
def bulk_assign(user, ids: list[int], role: str, assignee_id: int) -> int:
    """Set the sales owner (role="owner") or the CSM (role="csm") of the visible accounts among ids."""
    if not can_edit(user, Account):
        raise PermissionDenied
    field = {"owner": "sales_owner_id", "csm": "csm_id"}[role]
    accounts = list(visible_accounts(user).filter(pk__in=ids))
    for account in accounts:
        services.update(account, {field: assignee_id}, actor=user, via="ui")
    return len(accounts)


@transaction.atomic
def bulk_tag(user, ids: list[int], tag: Tag) -> int:
    """Add a tag to the visible accounts among ids (those that have it already are left alone)."""
    if not can_edit(user, Account):
        raise PermissionDenied
    accounts = list(visible_accounts(user).filter(pk__in=ids).exclude(tags=tag).prefetch_related("tags"))
    for account in accounts:
        services.update(account, {}, actor=user, via="ui", m2m={"tags": [*account.tags.all(), tag]})
    return len(accounts)
