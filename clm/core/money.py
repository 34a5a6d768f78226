"""Money as people read it, the same on every page, in every explanation and in every email: the
workspace's currency sign and whole units with thousands separators ("¥24,000", "-$1,200"). The
currency is read from the workspace settings once per request or per digest run (see
clm.core.models.workspace_scope), not once per amount."""

from decimal import Decimal

from django.utils.translation import get_language

from clm.core.models import Workspace

# The signs people write before an amount; any other ISO code is written out ("SGD 1,200").
CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def workspace_currency() -> str:
    """The workspace's currency code (read once inside a workspace_scope)."""
    return Workspace.current().currency


def money(value, currency: str | None = None, *, compact: bool = False) -> str:
    """An amount in the workspace's currency (or `currency`), rounded to whole units; a dash for
    no value. `compact` (tiles, chart labels): on a Chinese page, amounts of 10,000 and more in
    万 and 亿 with one decimal ("¥12.5万", UI.md)."""
    if value is None or value == "":
        return "–"
    code = currency or workspace_currency()
    sign = CURRENCY_SIGNS.get(code, f"{code} ")
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    minus = "-" if amount < 0 else ""
    if compact and abs(amount) >= 10_000 and (get_language() or "").startswith("zh"):
        unit, size = ("亿", 100_000_000) if abs(amount) >= 100_000_000 else ("万", 10_000)
        return f"{minus}{sign}{abs(amount) / size:,.1f}{unit}"
    whole = f"{abs(amount):,.0f}"
    return f"{minus if whole != '0' else ''}{sign}{whole}"
