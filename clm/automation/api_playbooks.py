"""REST resources of the playbook engine: playbooks as JSON documents (the same ones `clm playbook
export` writes), their versions, enrollments and step logs, manual enrollment, dry run and uplift.
Everyone may read; administrators and managers change."""

import datetime as dt
from typing import Annotated, Any, Literal

from django.db.models import Count
from ninja import Body, Query, Router, Schema, Status
from pydantic import Field

from clm.automation.models import Enrollment, Playbook, PlaybookVersion, StepRun
from clm.automation.playbooks import dryrun, outcomes, services
from clm.core.access import restrict, visible_accounts
from clm.core.crud import ApiError, Id, Json, one_or_404

router = Router(tags=["playbooks"])

Document = Annotated[dict[str, Any], Body(description="a playbook document (see GET /playbooks/{id})")]


class PlaybookOut(Schema):
    id: int
    key: str
    name: dict[str, str]
    description: str
    active: bool
    holdout: float
    reentry: dict[str, Any]
    outcome: dict[str, Any]
    template: str
    version: int | None
    definition: dict[str, Any] | None
    enrollments: dict[str, int] = Field(description="by status")
    at_step: dict[str, int] = Field(description="active enrollments at each step")


class VersionOut(Schema):
    number: int
    definition: dict[str, Any]
    created_at: dt.datetime
    created_by: int | None = Field(None, alias="created_by_id")


class EnrollmentOut(Schema):
    id: int
    playbook: int = Field(alias="playbook_id")
    version: int = Field(alias="version.number")
    account: int | None = Field(alias="account_id")
    lead: int | None = Field(alias="lead_id")
    contact: int | None = Field(alias="contact_id")
    held_out: bool
    status: str
    current_step: str
    trigger: dict[str, Any]
    reason: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


class EnrollmentPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[EnrollmentOut]


class StepRunOut(Schema):
    id: int
    step_id: str
    step_type: str
    key: str
    status: str
    why: str
    due_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int
    result: dict[str, Any]
    error: str


class EnrollIn(Schema):
    accounts: Annotated[list[Id], Field(min_length=1, max_length=10_000)]


class EnrollOut(Schema):
    enrolled: int
    held_out: int
    skipped: int = Field(description="not eligible: already enrolled, re-entry policy, or entry conditions")
    enrollments: list[int]


class DryRunIn(Schema):
    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")


class ActiveIn(Schema):
    active: bool


def _playbook(playbook_id: int) -> Playbook:
    return one_or_404(Playbook.objects.all(), playbook_id)


def _out(playbook: Playbook) -> dict:
    doc = services.document(playbook)
    counts = dict(playbook.enrollments.values_list("status").annotate(n=Count("id")).order_by())
    at_step = dict(
        playbook.enrollments.filter(status=Enrollment.Status.ACTIVE)
        .values_list("current_step")
        .annotate(n=Count("id"))
        .order_by()
    )
    current = playbook.current
    return {
        "id": playbook.pk,
        **doc,
        "template": playbook.template,
        "version": current.number if current else None,
        "enrollments": {s: counts.get(s, 0) for s in Enrollment.Status.values},
        "at_step": at_step,
    }


@router.get("/playbooks", operation_id="list_playbooks", response=list[PlaybookOut], summary="Playbooks")
def list_playbooks(request, active: bool | None = None):
    rows = Playbook.objects.all()
    if active is not None:
        rows = rows.filter(active=active)
    return [_out(p) for p in rows]


@router.post("/playbooks", operation_id="create_playbook", response={201: PlaybookOut}, summary="Create a playbook from a document")
def create_playbook(request, doc: Document):
    if Playbook.objects.filter(key=doc.get("key")).exists():
        raise ApiError(
            409, "conflict", f"A playbook called {doc.get('key')!r} exists; PUT /playbooks/{{id}} changes it."
        )
    playbook, _ = services.save_document(_plain(doc), actor=request.user, via="api")
    return Status(201, _out(playbook))


def _plain(doc: dict) -> dict:
    from clm.core.schemas import _plain_json

    try:
        return _plain_json(doc)
    except ValueError as error:
        raise ApiError(422, "invalid_data", f"The document is not valid: {error}.") from None


@router.get(
    "/playbooks/{int:playbook_id}", operation_id="get_playbook", response=PlaybookOut, summary="A playbook, with its current definition"
)
def get_playbook(request, playbook_id: int):
    return _out(_playbook(playbook_id))


@router.put(
    "/playbooks/{int:playbook_id}", operation_id="update_playbook",
    response=PlaybookOut,
    summary="Change a playbook (a new version if the definition changed)",
)
def update_playbook(request, playbook_id: int, doc: Document):
    playbook = _playbook(playbook_id)
    if doc.get("key", playbook.key) != playbook.key:
        raise ApiError(
            422,
            "invalid_data",
            "The key of a playbook does not change.",
            [{"loc": ["key"], "message": "must stay " + playbook.key}],
        )
    playbook, _ = services.save_document(_plain({**doc, "key": playbook.key}), actor=request.user, via="api")
    return _out(playbook)


@router.post("/playbooks/{int:playbook_id}/active", operation_id="set_playbook_active", response=PlaybookOut, summary="Turn a playbook on or off")
def set_active(request, playbook_id: int, payload: ActiveIn):
    return _out(services.set_active(_playbook(playbook_id), payload.active, actor=request.user, via="api"))


@router.delete(
    "/playbooks/{int:playbook_id}", operation_id="delete_playbook",
    response={204: None},
    summary="Delete a playbook that never enrolled anyone",
)
def delete_playbook(request, playbook_id: int):
    playbook = _playbook(playbook_id)
    services.delete(playbook, actor=request.user, via="api")
    return Status(204, None)


@router.get(
    "/playbooks/{int:playbook_id}/versions", operation_id="list_playbook_versions", response=list[VersionOut], summary="A playbook's versions"
)
def list_versions(request, playbook_id: int):
    return list(_playbook(playbook_id).versions.order_by("number"))


@router.get("/playbooks/{int:playbook_id}/versions/{int:number}", operation_id="get_playbook_version", response=VersionOut, summary="One version")
def get_version(request, playbook_id: int, number: int):
    version = PlaybookVersion.objects.filter(playbook=_playbook(playbook_id), number=number).first()
    if version is None:
        raise ApiError(404, "not_found", f"No version {number} of this playbook.")
    return version


class EnrollmentFilter(Schema):
    status: Literal[tuple(Enrollment.Status.values)] | None = None  # type: ignore[valid-type]
    account: Id | None = None
    held_out: bool | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=2**31 - 1)


def _enrollments(user):
    return restrict(Enrollment.objects.select_related("version"), user, "account")


@router.get(
    "/playbooks/{int:playbook_id}/enrollments", operation_id="list_playbook_enrollments", response=EnrollmentPage, summary="A playbook's enrollments"
)
def list_enrollments(request, playbook_id: int, filters: Query[EnrollmentFilter]):
    rows = _enrollments(request.user).filter(playbook=_playbook(playbook_id))
    for name in ("status", "held_out"):
        if getattr(filters, name) is not None:
            rows = rows.filter(**{name: getattr(filters, name)})
    if filters.account is not None:
        rows = rows.filter(account_id=filters.account)
    rows = rows.order_by("-started_at", "-id")
    return {
        "count": rows.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(rows[filters.offset : filters.offset + filters.limit]),
    }


@router.get("/playbooks/enrollments/{int:enrollment_id}", operation_id="get_playbook_enrollment", response=EnrollmentOut, summary="One enrollment")
def get_enrollment(request, enrollment_id: int):
    return one_or_404(_enrollments(request.user), enrollment_id)


@router.get(
    "/playbooks/enrollments/{int:enrollment_id}/steps", operation_id="list_enrollment_steps",
    response=list[StepRunOut],
    summary="An enrollment's step log",
)
def list_steps(request, enrollment_id: int):
    enrollment = one_or_404(_enrollments(request.user), enrollment_id)
    return list(StepRun.objects.filter(enrollment=enrollment).order_by("id"))


@router.post(
    "/playbooks/{int:playbook_id}/enroll", operation_id="enroll_accounts", response={201: EnrollOut}, summary="Enroll accounts by hand"
)
def enroll(request, playbook_id: int, payload: EnrollIn):
    playbook = _playbook(playbook_id)
    services.require_editor(request.user)
    wanted = list(dict.fromkeys(payload.accounts))
    visible = set(visible_accounts(request.user).filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [a for a in wanted if a not in visible]
    if missing:
        raise ApiError(
            422,
            "invalid_data",
            "Some accounts do not exist or are not visible to you.",
            [{"loc": ["accounts"], "message": f"no account {a}"} for a in missing[:20]],
        )
    created = services.enroll_accounts(playbook, wanted, actor=request.user, via="api")
    return Status(
        201,
        {
            "enrolled": sum(not e.held_out for e in created),
            "held_out": sum(e.held_out for e in created),
            "skipped": len(wanted) - len(created),
            "enrollments": [e.pk for e in created],
        },
    )


@router.post(
    "/playbooks/{int:playbook_id}/dry-run", operation_id="dry_run_playbook",
    response=dict[str, Json],
    summary="Whom it would have enrolled, sending nothing",
)
def dry_run(request, playbook_id: int, payload: DryRunIn):
    try:
        return dryrun.dry_run(_playbook(playbook_id), payload.start, payload.end)
    except dryrun.DryRunError as error:
        raise ApiError(422, "invalid_data", str(error)) from None


@router.get(
    "/playbooks/{int:playbook_id}/uplift", operation_id="get_playbook_uplift",
    response=dict[str, Json],
    summary="Treated vs held out, with a 95% interval",
)
def uplift(request, playbook_id: int):
    return outcomes.report(_playbook(playbook_id))


@router.get("/playbook-templates", operation_id="list_playbook_templates", response=list[dict[str, Json]], summary="The shipped playbook templates")
def list_templates(request):
    return list(services.templates().values())
