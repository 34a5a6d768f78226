"""What the workspace changes, each through clm.core.services (validated, audited, hooks run) and
only on records the user may see."""

import csv
import io
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.db import transaction

from clm.core import services
from clm.core.access import can_edit, visible_accounts
from clm.customers.models import Account, Interaction, Tag
from clm.io import export
from clm.io.kinds import CLM_ID_PREFIX, KEY, get_kind


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


def export_accounts_csv(user, ids: list[int]) -> Iterator[bytes]:
    """The chosen accounts as the export service writes them (same columns, re-importable), as
    CSV pieces: its rows of the visible accounts, kept when their record key is one of the chosen."""
    kind = get_kind("accounts")
    fields = export.exported_fields(kind)
    key_column = next(i for i, f in enumerate(fields) if f.type == KEY)
    chosen = {
        external_id if external_id and source else f"{CLM_ID_PREFIX}{pk}"
        for pk, source, external_id in visible_accounts(user).filter(pk__in=ids).values_list("pk", "source", "external_id")
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.header(kind))
    yield "\ufeff".encode() + buffer.getvalue().encode()
    for chunk in export.rows(kind, user):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([export.text(v) for v in row] for row in chunk if export.text(row[key_column]) in chosen)
        yield buffer.getvalue().encode()
