"""The early warning in words, in the user's language: each default signal kind's title and what
it means, and what each warning level says. The API and the workspace both read them; stored
signals keep their stable kind, so they read translated whatever title was stored."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The default signals (clm.analytics.warning) by kind: a short title, and a sentence saying what it means.
SIGNALS = {
    "churn_risk_high": (
        gettext_lazy("High churn risk"),
        gettext_lazy("The churn model puts this account's risk above the threshold at which it flags accounts"),
    ),
    "login_drop": (
        gettext_lazy("Logins fell by half"),
        gettext_lazy("Logins fell by half against the account's own baseline"),
    ),
    "core_usage_falling": (
        gettext_lazy("Core-feature use falling"),
        gettext_lazy("Time in core features is falling"),
    ),
    "key_contact_left": (
        gettext_lazy("Key contact left"),
        gettext_lazy("A key contact or champion left"),
    ),
    "tickets_rising": (
        gettext_lazy("Tickets rising"),
        gettext_lazy("Tickets or complaints are rising"),
    ),
    "overdue_payment": (
        gettext_lazy("Payment overdue"),
        gettext_lazy("A payment is overdue"),
    ),
    "no_reply_before_renewal": (
        gettext_lazy("No reply before renewal"),
        gettext_lazy("No reply from the customer with a renewal coming up"),
    ),
    "health_red": (
        gettext_lazy("Health red"),
        gettext_lazy("Health score is red"),
    ),
    "usage_decline": (
        gettext_lazy("Usage declining"),
        gettext_lazy(
            "Usage is declining: logins and core-feature time both down on the account's own baseline"
        ),
    ),
}



def signal_title(kind: str, title: str = "") -> str:
    """A signal's short name in the user's language: the default kinds from the catalogue, a
    workspace's own signal by the title it was given (translated when the catalogue has it)."""
    if kind in SIGNALS:
        return str(SIGNALS[kind][0])
    return _(title) if title else kind


def case_reason(reason: str) -> str:
    """A case's reason as written; a default signal's kind or a stage (a rule-opened case) in words."""
    from clm.customers.models import LifecycleStage

    if reason in LifecycleStage.values:
        return str(LifecycleStage(reason).label)
    return signal_title(reason) if reason in SIGNALS else reason


def signal_explanation(kind: str, title: str = "") -> str:
    """What a signal means, as a sentence in the user's language."""
    if kind in SIGNALS:
        return str(SIGNALS[kind][1])
    return _(title) if title else ""


WARNING_SUMMARIES = {
    1: gettext_lazy("Early-warning signals fire, but no churn-risk signal has held long enough to be confirmed."),
    2: gettext_lazy(
        "A churn-risk signal has held for its confirmation period, but nothing corroborates it yet: watch "
        "closely. This is not a churn warning."
    ),
    3: gettext_lazy(
        "Churn warning: the churn model's risk has stayed above its flag threshold, or a confirmed churn-risk "
        "signal is corroborated by more signals or by the churn risk (without a churn model, a confirmed "
        "churn-risk signal is enough)."
    ),
}



def warning_summary(level: int) -> str:
    """What a warning level (1 watch, 2 watch closely, 3 churn warning) says, as a sentence."""
    return str(WARNING_SUMMARIES.get(level, ""))
