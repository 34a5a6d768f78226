"""Small template helpers of the workspace: sortable headers, links that keep the filters, labels.
(Money is every template's `money` filter: clm.core.money.)"""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from clm.lifecycle import words
from clm.web.labels import BAND_LABELS, ROLE_LABELS

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (None removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@register.simple_tag(takes_context=True)
def sort_header(context, label, key, criteria):
    """A column header that sorts by `key`, ascending first, descending when clicked again."""
    current = criteria.sort == key
    descending = current and not criteria.descending
    query = query_with(context, sort=f"-{key}" if descending else key, page=None)
    state = ("descending" if criteria.descending else "ascending") if current else "none"
    arrow = {"ascending": " ▲", "descending": " ▼", "none": ""}[state]
    return format_html(
        '<th aria-sort="{}"><a href="?{}" hx-get="?{}" hx-target="#account-table" hx-swap="outerHTML" '
        'hx-push-url="true" title="{}">{}{}</a></th>',
        state, query, query, _("Sort"), label, arrow,
    )


def display_name(username: str, first: str, last: str) -> str:
    """Family name first and no space for Chinese names, "First Last" otherwise, else the username."""
    first, last = (first or "").strip(), (last or "").strip()
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip() or username


@register.filter
def person(user):
    """A user's name (see display_name); a dash for nobody."""
    if user is None:
        return "–"
    return display_name(user.get_username(), user.first_name, user.last_name)


@register.filter
def signal_title(signal):
    """An early-warning signal's name in the user's language, by its kind."""
    return words.signal_title(signal.kind, signal.title) if signal else ""


@register.filter
def band_label(band):
    """The name of a health band (green, yellow, red) in the user's language."""
    return BAND_LABELS.get(band, "")


@register.simple_tag
def options(field):
    """The <option>s of a bound choice field, selected as submitted; one string join instead of a
    template per option (the owner and CSM lists of a large team have hundreds)."""
    value = field.value()
    chosen = {str(v) for v in value} if isinstance(value, list | tuple) else {"" if value is None else str(value)}
    return format_html_join(
        "", '<option value="{}"{}>{}</option>',
        ((key, " selected" if str(key) in chosen else "", label) for key, label in field.field.choices),
    )


def _choices():
    from clm.commerce.models import Payment
    from clm.service.models import Ticket

    return {"ticket_priority": Ticket.Priority, "ticket_status": Ticket.Status, "payment_status": Payment.Status}


@register.filter
def choice(value, kind):
    """The label of a stored choice value (timeline items carry the raw values)."""
    choices = _choices().get(kind)
    try:
        return choices(value).label if choices else value
    except ValueError:
        return value


@register.filter
def number(value):
    """A figure as read on a page: whole numbers without decimals, others to one decimal."""
    if value is None or value == "":
        return "–"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return value
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


@register.filter
def percent(value):
    """0.237 -> "24%"."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.0f}%"


@register.filter
def role_label(role):
    """A decision-chain role in the glossary's words; a dash for none."""
    return ROLE_LABELS.get(role, role) if role else "–"


@register.filter
def case_reason(reason):
    """A case's reason in words (see words.case_reason)."""
    return words.case_reason(reason)
