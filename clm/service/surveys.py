"""Surveys CLM sends: definitions, one-time invitations (token hashed, with an expiry), answers
recorded as SurveyResponse (so health and the NPS KPI read them as they read imported ones), the
reminder list and the response rate. Emailing is the automation layer's (clm.automation.surveys);
everything here is one transaction, permission-checked and audited."""

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from clm.core import audit, services
from clm.core.access import restrict, visible_records
from clm.core.events import emit_many
from clm.core.records import may
from clm.customers.models import Contact
from clm.service.models import Survey, SurveyInvitation, SurveyResponse, Ticket

TOKEN_SALT = "clm.service.survey-invitation"
COMMENT_MAX = 4000


def require(actor, action: str, model=Survey) -> None:
    if actor is not None and not may(actor, action, model):
        raise PermissionDenied(_("You may not manage surveys."))


# -- definitions --------------------------------------------------------------------------------


def save_survey(actor, data: dict, survey: Survey | None = None, *, via: str = "ui") -> Survey:
    """Create or change a survey; the roles must be decision-chain roles."""
    require(actor, "add" if survey is None else "change")
    roles = data.get("roles", survey.roles if survey else [])
    if not isinstance(roles, list) or any(r not in Contact.Role.values for r in roles):
        raise ValidationError({"roles": _("Choose roles of the decision chain: %(roles)s.") % {
            "roles": ", ".join(str(label) for label in Contact.Role.labels)}})
    if survey is None:
        return services.create(Survey, {**data, "created_by": actor}, actor=actor, via=via)
    return services.update(survey, data, actor=actor, via=via)


# -- tokens -------------------------------------------------------------------------------------


def token_for(invitation: SurveyInvitation) -> str:
    """The link's token: derived from the invitation's salt with the server's secret."""
    digest = salted_hmac(TOKEN_SALT, invitation.salt, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkProblem(Exception):
    """Why a survey link cannot be answered: unknown, expired, answered or closed."""

    def __init__(self, reason: str, invitation: SurveyInvitation | None = None):
        super().__init__(reason)
        self.reason, self.invitation = reason, invitation


def open_invitation(token: str, *, lock: bool = False) -> SurveyInvitation:
    """The invitation a link's token opens, or LinkProblem saying why it cannot be answered."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise LinkProblem("unknown")
    rows = SurveyInvitation.objects.select_related("survey", "contact", "account")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise LinkProblem("unknown")
    if invitation.answered_at is not None:
        raise LinkProblem("answered", invitation)
    if invitation.expires_at <= timezone.now():
        raise LinkProblem("expired", invitation)
    if not invitation.survey.active:
        raise LinkProblem("closed", invitation)
    return invitation


# -- invitations --------------------------------------------------------------------------------


def recipients(survey: Survey, contacts) -> list[Contact]:
    """The contacts of `contacts` a survey goes to: active, in the survey's roles (all roles when
    it names none), and not holding an open invitation to it already."""
    rows = contacts.filter(status=Contact.Status.ACTIVE)
    if survey.roles:
        rows = rows.filter(role__in=survey.roles)
    waiting = SurveyInvitation.objects.filter(
        survey=survey, answered_at=None, expires_at__gt=timezone.now()
    ).values("contact_id")
    return list(rows.exclude(pk__in=waiting).order_by("account_id", "pk"))


@transaction.atomic
def invite(
    actor, survey: Survey, contacts: list[Contact], *, channel: str, ticket: Ticket | None = None, via: str = "ui"
) -> list[SurveyInvitation]:
    """One invitation per contact, each with its own token; the caller emails them (channel
    email) or hands the links over (channel link). A contact the actor cannot see is refused."""
    require(actor, "add", SurveyInvitation)
    if channel not in SurveyInvitation.Channel.values:
        raise ValidationError({"channel": _("Send by email or by link.")})
    if not survey.active:
        raise ValidationError({"survey": _("The survey “%(name)s” is closed.") % {"name": survey.name}})
    if actor is not None:
        ids = {c.pk for c in contacts}
        seen = set(restrict(Contact.objects.filter(pk__in=ids), actor).values_list("pk", flat=True))
        if ids - seen:
            raise PermissionDenied(_("You may not survey contacts of accounts you cannot see."))
    now = timezone.now()
    made = []
    for contact in contacts:
        salt = secrets.token_hex(16)
        invitation = SurveyInvitation(
            survey=survey, account_id=contact.account_id, contact=contact, ticket=ticket, channel=channel,
            salt=salt, expires_at=now + dt.timedelta(days=survey.valid_days),
            sent_at=now if channel == SurveyInvitation.Channel.LINK else None,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        invitation.token_hash = hash_token(token_for(invitation))
        made.append(invitation)
    SurveyInvitation.objects.bulk_create(made)
    audit.record_many([
        audit.entry(actor, via, "create", i, {"survey": [None, survey.pk], "channel": [None, channel]}) for i in made
    ])
    emit_many("survey.invited", [
        {"invitation_id": i.pk, "survey_id": survey.pk, "account_id": i.account_id, "contact_id": i.contact_id,
         "channel": channel} for i in made
    ], actor=actor)
    return made


def mark_sent(results: list[tuple[SurveyInvitation, str]], *, reminder: bool = False) -> None:
    """After the emails went: each invitation with '' (sent) or why it was not delivered."""
    now = timezone.now()
    for invitation, problem in results:
        if reminder:
            invitation.reminded_at = now
        elif not problem:
            invitation.sent_at = now
        invitation.delivery_problem = problem[:300]
    SurveyInvitation.objects.bulk_update(
        [i for i, _ in results], ["reminded_at" if reminder else "sent_at", "delivery_problem"]
    )


def due_reminders(now: dt.datetime | None = None) -> list[SurveyInvitation]:
    """Emailed invitations not answered `reminder_days` after they went, still open, never
    reminded (one reminder each)."""
    now = now or timezone.now()
    rows = SurveyInvitation.objects.filter(
        channel=SurveyInvitation.Channel.EMAIL, answered_at=None, reminded_at=None, delivery_problem="",
        sent_at__isnull=False, expires_at__gt=now, survey__active=True, survey__reminder_days__gt=0,
    ).select_related("survey", "contact")
    return [i for i in rows if i.sent_at + dt.timedelta(days=i.survey.reminder_days) <= now]


# -- answers ------------------------------------------------------------------------------------


@dataclass
class Answer:
    score: int
    comment: str


def read_answer(survey: Survey, score, comment) -> Answer:
    """The score and comment from a form or an API body, or ValidationError naming the field."""
    low, high = survey.scale
    text = str(score).strip()
    value = int(text) if text.isdigit() and len(text) <= 3 else None
    if value is None or not low <= value <= high:
        raise ValidationError({"score": _("Choose a score from %(low)s to %(high)s.") % {"low": low, "high": high}})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": _("Keep the comment under %(n)s characters.") % {"n": COMMENT_MAX}})
    return Answer(value, comment)


@transaction.atomic
def answer(token: str, score, comment: str = "") -> SurveyResponse:
    """Record the answer behind a link, once: a SurveyResponse (said as survey.answered by its
    write rule) and the invitation marked answered. An unusable link raises LinkProblem and
    stores nothing."""
    invitation = open_invitation(token, lock=True)
    given = read_answer(invitation.survey, score, comment)
    now = timezone.now()
    response = services.create(SurveyResponse, {
        "account_id": invitation.account_id, "contact_id": invitation.contact_id, "kind": invitation.survey.kind,
        "score": given.score, "comment": given.comment, "responded_at": now, "survey": invitation.survey,
        "source": "clm-survey",
    }, via="survey")
    invitation.answered_at, invitation.response = now, response
    invitation.save(update_fields=["answered_at", "response"])
    return response


# -- reading ------------------------------------------------------------------------------------


def visible_surveys(user):
    return visible_records(Survey, user)


def visible_invitations(user):
    return visible_records(SurveyInvitation, user)


def response_rates(user, surveys=None) -> dict[int, dict]:
    """Per survey, among the invitations the user may see: invited, reached (link handed over or
    email sent), answered, reminded, and the response rate = answered / reached (None when none
    was reached)."""
    rows = visible_invitations(user)
    if surveys is not None:
        rows = rows.filter(survey__in=surveys)
    counts = rows.values("survey_id").annotate(
        invited=Count("pk"),
        reached=Count("pk", filter=Q(sent_at__isnull=False)),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        reminded=Count("pk", filter=Q(reminded_at__isnull=False)),
    )
    out = {}
    for row in counts:
        row = dict(row)
        row["rate"] = row["answered"] / row["reached"] if row["reached"] else None
        out[row.pop("survey_id")] = row
    return out


def transactional_survey() -> Survey | None:
    """The survey sent after a ticket closes: the newest active transactional one."""
    return Survey.objects.filter(active=True, purpose=Survey.Purpose.TRANSACTIONAL).order_by("-created_at", "-pk").first()
