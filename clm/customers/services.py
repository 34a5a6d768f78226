"""Accounts and contacts: custom attributes validated against their registry; departures dated."""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone

from clm.core.bulk import in_batches
from clm.core.models import CustomField, Role
from clm.core.services import after_save
from clm.customers.models import Account, Contact


def validate_custom(target: str, values: dict, fields: list[CustomField] | None = None) -> dict:
    """Custom attributes checked and coerced against the registry; unknown keys are refused."""
    if not isinstance(values, dict):
        raise ValidationError({"custom": "must be an object of attribute: value"})
    fields = fields if fields is not None else list(CustomField.objects.filter(target=target))
    by_key = {f.key: f for f in fields}
    errors, clean = {}, {}
    for key, value in values.items():
        field = by_key.get(key)
        if field is None:
            errors[f"custom.{key}"] = (
                f"unknown custom attribute {key!r} (known: {', '.join(sorted(by_key)) or 'none'})"
            )
            continue
        try:
            clean[key] = coerce_custom(field, value)
        except (TypeError, ValueError) as exc:
            errors[f"custom.{key}"] = str(exc)
    for field in fields:
        if field.required and clean.get(field.key) in (None, ""):
            errors.setdefault(f"custom.{field.key}", "is required")
    if errors:
        raise ValidationError(errors)
    return clean


def coerce_custom(field: CustomField, value):
    if value is None or value == "":
        return None
    if field.type == CustomField.Type.NUMBER:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if field.type == CustomField.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "是", "y"):
            return True
        if text in ("false", "no", "0", "否", "n"):
            return False
        raise ValueError(f"{value!r} is not yes/no")
    if field.type == CustomField.Type.DATE:
        return dt.date.fromisoformat(str(value)).isoformat()
    if field.type == CustomField.Type.CHOICE:
        if value not in field.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, field.choices))}")
        return value
    return str(value)


def date_departures(contact_ids, today=None) -> int:
    """A contact marked as having left, with no date, left today. The one rule, applied in bulk:
    by the save hook to one contact, by imports to a file's contacts. Returns how many were dated."""
    today = today or timezone.localdate()
    return sum(
        Contact.objects.filter(pk__in=batch, status=Contact.Status.LEFT, left_on=None).update(left_on=today)
        for batch in in_batches(list(contact_ids))
    )


@after_save(Contact)
def date_departure(contact, before, actor):
    if contact.status == Contact.Status.LEFT and contact.left_on is None and date_departures([contact.pk]):
        contact.left_on = timezone.localdate()


def owners_by_default(actor) -> dict:
    """The owners a new account takes from the user who made it when none is given: a Sales user
    owns it, a CSM looks after it, so a user restricted to their own accounts still sees it."""
    if actor is None or not getattr(actor, "pk", None):
        return {}
    return {name: actor for name, role in (("sales_owner", Role.SALES), ("csm", Role.CSM)) if role in actor.roles}


@after_save(Account)
def default_owner(account, before, actor):
    if before is not None:
        return
    for name, user in owners_by_default(actor).items():
        if getattr(account, f"{name}_id") is None:
            setattr(account, name, user)
            Account.objects.filter(pk=account.pk).update(**{name: user})


def default_owners(account_ids, actor) -> int:
    """owners_by_default in bulk, for the accounts an import created; returns how many were set."""
    ids = list(account_ids)
    return sum(
        Account.objects.filter(pk__in=batch, **{name: None}).update(**{name: user})
        for name, user in owners_by_default(actor).items()
        for batch in in_batches(ids)
    )


_NOT_ALNUM = re.compile(r"[\W_]+")


def search_key(name: str) -> str:
    """The name as full pinyin and as initials, lower case, without spaces or punctuation:
    "华为技术" -> "huaweijishu hwjs". Latin letters and digits are kept as they are."""
    from pypinyin import Style, lazy_pinyin  # its dictionaries take a quarter second to load

    full = _NOT_ALNUM.sub("", "".join(lazy_pinyin(name or "")).lower())
    initials = _NOT_ALNUM.sub("", "".join(lazy_pinyin(name or "", style=Style.FIRST_LETTER)).lower())
    return f"{full} {initials}"


def search_term(text: str) -> str:
    """A user's query in the form search keys are stored in."""
    return _NOT_ALNUM.sub("", (text or "").lower())


@after_save(Account)
def keep_search_key(account, before, actor):
    if before is not None and before.get("name") == account.name and account.search_key is not None:
        return
    account.search_key = search_key(account.name)
    Account.objects.filter(pk=account.pk).update(search_key=account.search_key)


def fill_search_keys(*, only_missing: bool = True, batch: int = 2000) -> int:
    """Compute search keys in bulk, for accounts written without the service layer (the demo
    simulator, bulk imports); returns how many were filled."""
    queryset = Account.objects.order_by("pk")
    if only_missing:
        queryset = queryset.filter(search_key__isnull=True)
    filled, last = 0, 0
    while True:
        rows = list(queryset.filter(pk__gt=last).values_list("pk", "name")[:batch])
        if not rows:
            return filled
        last = rows[-1][0]
        Account.objects.bulk_update(
            [Account(pk=pk, search_key=search_key(name)) for pk, name in rows],
            ["search_key"],
            batch_size=batch,
        )
        filled += len(rows)
