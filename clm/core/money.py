"""Money as people read it, the same on every page, in every explanation and in every email: the
workspace's currency sign and whole units with thousands separators ("¥24,000", "-$1,200"). The
currency is read from the workspace settings once per request or per digest run (see
clm.core.models.workspace_scope), not once per amount."""

from decimal import Decimal

from clm.core.models import Workspace

# The signs people write before an amount; any other ISO code is written out ("SGD 1,200").
CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


def workspace_currency() -> str:
    """The workspace's currency code (read once inside a workspace_scope)."""
    return Workspace.current().currency


def money(value, currency: str | None = None) -> str:
    """An amount in the workspace's currency (or `currency`), rounded to whole units; a dash for
    no value."""
    if value is None or value == "":
        return "–"
    code = currency or workspace_currency()
    sign = CURRENCY_SIGNS.get(code, f"{code} ")
    amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    whole = f"{abs(amount):,.0f}"
    return f"{'-' if amount < 0 and whole != '0' else ''}{sign}{whole}"
