"""Money as people read it, the same on every page, in every explanation and in every email: the
workspace's currency sign and whole units with thousands separators ("¥24,000", "-$1,200"). The
currency is read from the workspace settings once per request or per batch of emails
(`currency_scope`), not once per amount."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

# The signs people write before an amount; any other ISO code is written out ("SGD 1,200").
CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}

_scope: ContextVar[dict | None] = ContextVar("clm_currency_scope", default=None)


def workspace_currency() -> str:
    """The workspace's currency code: read once inside a currency_scope, else read now."""
    from clm.core.models import Workspace

    memo = _scope.get()
    if memo is None:
        return Workspace.current().currency
    if "code" not in memo:
        memo["code"] = Workspace.current().currency
    return memo["code"]


@contextmanager
def currency_scope() -> Iterator[None]:
    """Everything formatted inside reads the workspace's currency once (on first use). Nested
    scopes share the outer one's."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


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
