"""A KPI's value and change as read on a page or in an email, in the reader's language."""

from django.utils.translation import gettext as _

from clm.core.money import money


def figure(value, unit: str, digits: int = 1) -> str:
    """A KPI's value as read on the page, in the user's language (``digits`` after the point)."""
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value * 100:.{digits}f}%"
    if unit == "money":
        return money(value, compact=True)
    if unit in ("days", "months"):
        n = f"{value:,.{digits}f}"
        return _("%(n)s days") % {"n": n} if unit == "days" else _("%(n)s months") % {"n": n}
    if unit == "multiple":
        return f"{value:,.{digits}f}×"
    return f"{value:,.0f}" if float(value).is_integer() or unit == "score" else f"{value:,.{digits}f}"


def against_target(value, target, unit: str) -> tuple[str, str]:
    """A value and its target as read side by side: with one more digit (up to three) while they
    would read alike but differ, so that a KPI marked as missing its target never shows the target's
    own figure (2.04% against 2.0% reads "2.04% · target 2.00%", not "2.0% · target 2.0%")."""
    digits = 1
    while digits < 3 and value != target and figure(value, unit, digits) == figure(target, unit, digits):
        digits += 1
    return figure(value, unit, digits), figure(target, unit, digits)


def change(value, unit: str) -> str:
    if value is None:
        return ""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if unit == "percent":
        return _("%(sign)s%(n)s pts") % {"sign": sign, "n": f"{abs(value) * 100:.1f}"}
    return sign + figure(abs(value), unit)


def read_against_target(row) -> dict:
    """A KPI row's value and target as a page or the digest reads them (apart where they differ, see
    against_target); "no data yet" for a value not known."""
    value = figure(row.result.value, row.kpi.unit) if row.result.has_value else _("no data yet")
    if row.target is None:
        return {"value": value, "target": ""}
    if not row.result.has_value:
        return {"value": value, "target": figure(row.target, row.kpi.unit)}
    value, target = against_target(row.result.value, row.target, row.kpi.unit)
    return {"value": value, "target": target}
