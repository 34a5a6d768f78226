"""What the workspace hands out beyond the named actions of the apps: the chosen accounts' export."""

import csv
import io
from collections.abc import Iterator

from clm.core.access import visible_accounts
from clm.io import export
from clm.io.kinds import CLM_ID_PREFIX, KEY, get_kind


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
