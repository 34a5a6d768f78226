"""Tasks and cases on the account timeline: two more sources for the customer 360 read model."""

from clm.automation.models import Case, Task
from clm.customers import timeline


class Tasks(timeline.Source):
    kind, rank, model, time_field = "task", 8, Task, "created_at"
    related = ("assignee",)

    def item(self, row):
        return timeline.Item(self.kind, row.created_at, row.pk, row.title, {
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "assignee": row.assignee,
            "due_at": row.due_at,
            "outcome": row.outcome,
            "case_id": row.case_id,
        }, self.rank)


class Cases(timeline.Source):
    kind, rank, model, time_field = "case", 7, Case, "created_at"
    related = ("owner", "root_cause")

    def item(self, row):
        return timeline.Item(self.kind, row.created_at, row.pk, row.reason, {
            "type_label": str(row.get_type_display()),
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "outcome_label": str(row.get_outcome_display()) if row.outcome else "",
            "root_cause": row.root_cause.label() if row.root_cause else "",
            "owner": row.owner,
        }, self.rank)


def sources() -> list[timeline.Source]:
    return [Tasks(), Cases()]


def register() -> None:
    """Add the sources to the timeline (called once, when the app is ready)."""
    timeline.SOURCES.update({source.kind: source for source in sources()})
