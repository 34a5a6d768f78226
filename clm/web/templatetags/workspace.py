"""Small template helpers of the workspace: money, sortable headers, links that keep the filters."""

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from clm.web.labels import BAND_LABELS

register = template.Library()


@register.filter
def money(value):
    """12345.6 -> "12,346"; empty for no value."""
    if value in (None, ""):
        return "–"
    return f"{Decimal(value):,.0f}"


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


@register.filter
def person(user):
    """A user's full name, else their username; a dash for nobody."""
    if user is None:
        return "–"
    first, last = user.first_name.strip(), user.last_name.strip()
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"  # Chinese names: family name first, no space
    return user.get_full_name() or user.get_username()


@register.filter
def band_label(band):
    """The name of a health band (green, yellow, red) in the user's language."""
    return BAND_LABELS.get(band, "")
