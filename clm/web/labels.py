"""Labels the workspace shows that other apps define (model choices, field names): marked here so
that the workspace's catalog carries their Chinese, until those apps have catalogs of their own."""

from django.utils.translation import gettext_noop as _
from django.utils.translation import pgettext_lazy

LABELS = (
    # customers: stages, health bands, decision-chain roles, contact status, interaction types
    _("Prospect"), _("Onboarding"), _("Growth"), _("Mature"), _("Declining"), _("At risk"), _("Dormant"), _("Churned"),
    _("Reactivated"), _("Healthy"), _("Watch"), _("Decision maker"), _("Economic buyer"), _("Influencer"),
    _("Champion"), _("User"), _("Active"), _("Left the company"), _("Email"), _("Call"), _("Meeting"),
    _("Visit"), _("QBR"), _("Training"), _("Event"), _("Note"), _("language"), _("time zone"),
    # commerce, service, sales
    _("Trial"), _("Cancelled"), _("Expired"), _("Low"), _("Normal"), _("High"), _("Urgent"), _("Open"),
    _("Pending"), _("Resolved"), _("Closed"), _("NPS (0–10)"), _("CSAT (1–5)"), _("Qualify"), _("Discovery"),
    _("Proposal"), _("Negotiation"), _("New business"), _("Expansion"), _("Renewal"), _("Paid"), _("Void"),
    _("New"), _("Contraction"), _("Churn"), _("Reactivation"), _("Other change"),
    # Django's own user fields, shown on the preferences page
    _("first name"), _("last name"), _("email address"),
    # django-axes' models, named in the admin
    _("access attempt"), _("access attempts"), _("access log"), _("access logs"), _("access failure"),
    _("access failures"),
)

# Health bands read in their own context (the red band "At risk" is 高风险; the stage 衰退期 reads
# "Declining"), so that a catalogue entry of one never translates the other.
BAND_LABELS = {
    "green": pgettext_lazy("health band", "Healthy"),
    "yellow": pgettext_lazy("health band", "Watch"),
    "red": pgettext_lazy("health band", "At risk"),
}

# Decision-chain roles in the glossary's words (Django's own catalog would read "User" as 用户).
ROLE_LABELS = {
    "decision_maker": pgettext_lazy("decision-chain role", "Decision maker"),
    "economic_buyer": pgettext_lazy("decision-chain role", "Economic buyer"),
    "influencer": pgettext_lazy("decision-chain role", "Influencer"),
    "champion": pgettext_lazy("decision-chain role", "Champion"),
    "user": pgettext_lazy("decision-chain role", "User"),
}


def delivery_problem(code: str) -> str:
    """Why an email (a survey invitation, a feedback reply) did not go, in words: the email
    channel's refusal reasons; anything else is a failed send."""
    from django.utils.translation import gettext

    from clm.automation.models import Delivery

    if not code:
        return ""
    if code in Delivery.Reason.values:
        return str(Delivery.Reason(code).label)
    return gettext("sending failed")
