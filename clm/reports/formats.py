"""A KPI's value and change as read on a page or in an email, in the reader's language."""

from django.utils.translation import gettext as _

from clm.core.money import money


def figure(value, unit: str) -> str:
    """A KPI's value as read on the page, in the user's language."""
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return money(value, compact=True)
    if unit in ("days", "months"):
        return _("%(n)s days") % {"n": f"{value:,.1f}"} if unit == "days" else _("%(n)s months") % {"n": f"{value:,.1f}"}
    if unit == "multiple":
        return f"{value:,.1f}×"
    return f"{value:,.0f}" if float(value).is_integer() or unit == "score" else f"{value:,.1f}"


def change(value, unit: str) -> str:
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if unit == "percent":
        return _("%(sign)s%(n)s pts") % {"sign": sign, "n": f"{abs(value) * 100:.1f}"}
    return sign + figure(abs(value), unit)
