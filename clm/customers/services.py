"""Accounts and contacts: custom attributes validated against their registry; departures dated."""

import datetime as dt
import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clm.core import audit
from clm.core.bulk import in_batches
from clm.core.models import AuditLog, CustomField, Role, User
from clm.core.services import Written, announce_created, announce_moves, delete_rule, write_rule
from clm.customers.models import Account, Contact, Interaction, Tag, TagCategory


def validate_custom(target: str, values: dict, fields: list[CustomField] | None = None) -> dict:
    """Custom attributes checked and coerced against the registry; unknown keys are refused."""
    if not isinstance(values, dict):
        raise ValidationError({"custom": _("must be an object of attribute: value")})
    fields = fields if fields is not None else list(CustomField.objects.filter(target=target))
    by_key = {f.key: f for f in fields}
    errors, clean = {}, {}
    for key, value in values.items():
        field = by_key.get(key)
        if field is None:
            errors[f"custom.{key}"] = _("unknown custom attribute %(key)r (known: %(known)s)") % {
                "key": key, "known": ", ".join(sorted(by_key)) or _("none"),
            }
            continue
        try:
            clean[key] = coerce_custom(field, value)
        except (TypeError, ValueError) as exc:
            errors[f"custom.{key}"] = str(exc)
    for field in fields:
        if field.required and clean.get(field.key) in (None, ""):
            errors.setdefault(f"custom.{field.key}", _("is required"))
    if errors:
        raise ValidationError(errors)
    return clean


def coerce_custom(field: CustomField, value):
    if value is None or value == "":
        return None
    if field.type == CustomField.Type.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("%(value)r is not a number") % {"value": value})
        return float(value)
    if field.type == CustomField.Type.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "是", "y"):
            return True
        if text in ("false", "no", "0", "否", "n"):
            return False
        raise ValueError(_("%(value)r is not yes/no") % {"value": value})
    if field.type == CustomField.Type.DATE:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(_("%(value)r is not a date (YYYY-MM-DD)") % {"value": value}) from None
    if field.type == CustomField.Type.CHOICE:
        if value not in field.choices:
            raise ValueError(_("%(value)r is not one of %(choices)s") % {
                "value": value, "choices": ", ".join(map(str, field.choices)),
            })
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


@write_rule(Contact)
def date_written_departures(written: Written) -> None:
    date_departures(written.ids, timezone.localdate(written.now))


@write_rule(Account)
def announce_accounts(written: Written) -> None:
    announce_created(written, "account.created", "account_id")


@write_rule(Contact)
def announce_contacts(written: Written) -> None:
    announce_created(written, "contact.created", "contact_id", "account_id")
    announce_moves(written, "contact.left", "contact_id", "status", "account_id", to=(Contact.Status.LEFT,))


@write_rule(Interaction)
def announce_interactions(written: Written) -> None:
    announce_created(written, "interaction.logged", "interaction_id", "account_id", "type")


ROLES = {"owner": "sales_owner_id", "csm": "csm_id"}
# who may hold each role on an account
HOLDERS = {
    "sales_owner_id": (Role.SALES, Role.MANAGER, Role.ADMIN),
    "csm_id": (Role.CSM, Role.MANAGER, Role.ADMIN),
}


def manages_accounts(user) -> bool:
    return user.is_superuser or user.has_role(Role.ADMIN, Role.MANAGER)


def may_reassign(actor, field: str, before: dict, assignee_id: int | None) -> bool:
    """Managers and admins may give any account to anyone; otherwise the current holder of the
    role (or, for the CSM, the account's sales owner) may hand it over, and an account with no
    holder may be claimed by the actor for themselves."""
    if manages_accounts(actor):
        return True
    holder = before.get(field)
    if holder is None:
        return assignee_id == actor.pk
    return holder == actor.pk or (field == "csm_id" and before.get("sales_owner_id") == actor.pk)


@write_rule(Account)
def check_reassignments(written: Written) -> None:
    """Who gets an account, and who may give it: however the change arrives (a bulk action, the
    API, the admin, an import), an owner or CSM changed by a person follows the same rule."""
    actor = written.human_actor
    if actor is None:
        return
    for field, holders in HOLDERS.items():
        moves = written.moved(field)
        assignees = {a for _, _, a, _ in moves if a is not None}
        able = set(
            User.objects.filter(pk__in=assignees, is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name__in=holders))
            .values_list("pk", flat=True)
        )
        if assignees - able:
            raise ValidationError(
                {field.removesuffix("_id"): _("This person cannot be given accounts in this role.")}
            )
        before = {pk: b for pk, b, _ in written.changed}
        refused = [pk for pk, _, a, _ in moves if not may_reassign(actor, field, before[pk], a)]
        if refused:
            raise PermissionDenied(
                _("%(count)s of the chosen accounts are not yours to reassign; ask a manager.")
                % {"count": len(refused)}
            )


@write_rule(Interaction)
def check_interaction_owners(written: Written) -> None:
    """An interaction is owned by the person who logs it (one logged with no owner becomes
    theirs); giving it to someone else follows the accounts' rule (may_reassign), however the
    change arrives: the API, the admin or an import."""
    actor = written.human_actor
    if actor is None:
        return
    refused = 0
    for batch in in_batches(written.created):
        Interaction.objects.filter(pk__in=batch, owner=None).update(owner=actor)
        if not manages_accounts(actor):
            refused += Interaction.objects.filter(pk__in=batch).exclude(owner=actor).count()
    refused += sum(
        1
        for _, holder, after, _ in written.moved("owner_id")
        if not may_reassign(actor, "owner_id", {"owner_id": holder}, after)
    )
    if refused:
        raise PermissionDenied(
            _("Only a manager may log or hand over interactions in someone else's name (%(count)s refused).")
            % {"count": refused}
        )


@write_rule(Account)
def default_owner(written: Written) -> None:
    """New accounts written by a Sales or CSM user with no owner given become theirs, so a user
    restricted to their own accounts can still see what they just created or imported."""
    actor = written.human_actor
    if actor is None or not written.created:
        return
    for role, name in ((Role.SALES, "sales_owner"), (Role.CSM, "csm")):
        if role in actor.roles:
            for batch in in_batches(written.created):
                Account.objects.filter(pk__in=batch, **{name: None}).update(**{name: actor})


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


# Up to this many accounts get their search key at once; past it (an import), the keys are
# cleared and filled in bulk before the next search, which costs the import nothing.
KEYS_AT_ONCE = 1000


@write_rule(Account)
def refresh_search_keys(written: Written) -> None:
    renamed = [pk for pk, *_ in written.moved("name")]
    if len(written.created) + len(renamed) <= KEYS_AT_ONCE:
        fill_search_keys(only_missing=False, ids=[*written.created, *renamed])
    else:
        for batch in in_batches(renamed):
            Account.objects.filter(pk__in=batch).update(search_key=None)


def fill_search_keys(*, only_missing: bool = True, ids: list[int] | None = None, batch: int = 2000) -> int:
    """Compute search keys in bulk (all accounts, or those in `ids`), for accounts written without
    them (the demo simulator, large imports); returns how many were filled."""
    queryset = Account.objects.order_by("pk")
    if ids is not None:
        if not ids:
            return 0
        queryset = queryset.filter(pk__in=ids)
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


# -- the tag library: a tag renamed or deleted changes every account that carries it, so each of
# those accounts gets its own audit row (who changed the library, and what the account lost).


def _carriers(tag_ids) -> dict[int, set[int]]:
    """{account id: its tag ids} for the accounts carrying any of `tag_ids`."""
    through = Account.tags.through
    accounts = set(through.objects.filter(tag_id__in=list(tag_ids)).values_list("account_id", flat=True))
    current: dict[int, set[int]] = {pk: set() for pk in accounts}
    for batch in in_batches(sorted(accounts)):
        for account_id, tag_id in through.objects.filter(account_id__in=batch).values_list("account_id", "tag_id"):
            current[account_id].add(tag_id)
    return current


def _audit_accounts(actor, via: str, changes: dict[int, dict]) -> None:
    for batch in in_batches(sorted(changes)):
        audit.record_many(
            [
                audit.entry(actor, via, AuditLog.Action.UPDATE, account, changes[account.pk])
                for account in Account.objects.filter(pk__in=batch).only("pk", "name")
            ]
        )


def untag_everywhere(tag_ids, actor, via: str) -> None:
    """Audit, per account, the removal of tags about to be deleted."""
    gone = set(tag_ids)
    _audit_accounts(
        actor,
        via,
        {pk: {"tags": [sorted(tags), sorted(tags - gone)]} for pk, tags in _carriers(gone).items()},
    )


@delete_rule(Tag)
def audit_tag_deletion(tag: Tag, actor, via: str) -> None:
    untag_everywhere([tag.pk], actor, via)


@delete_rule(TagCategory)
def audit_category_deletion(category: TagCategory, actor, via: str) -> None:
    untag_everywhere(list(category.tags.values_list("pk", flat=True)), actor, via)


def _audit_renames(written: Written, old_names: dict[int, str]) -> None:
    """Each account carrying a renamed tag gets an audit row with the tags' old and new names."""
    new_names = {pk: str(tag) for pk, tag in Tag.objects.select_related("category").in_bulk(list(old_names)).items()}
    changes = {}
    for account, carried in _carriers(old_names).items():
        renamed = sorted(carried & set(old_names))
        changes[account] = {
            "tags_renamed": [[old_names[pk] for pk in renamed], [new_names[pk] for pk in renamed]]
        }
    _audit_accounts(written.human_actor, written.via, changes)


@write_rule(Tag)
def audit_tag_renames(written: Written) -> None:
    """A tag renamed or moved to another category now says something else of every account
    carrying it."""
    before = {pk: b for pk, b, a in written.changed if (b["value"], b["category_id"]) != (a["value"], a["category_id"])}
    if before:
        categories = TagCategory.objects.in_bulk({b["category_id"] for b in before.values()})
        _audit_renames(written, {pk: f"{categories[b['category_id']].name}:{b['value']}" for pk, b in before.items()})


@write_rule(TagCategory)
def audit_category_renames(written: Written) -> None:
    for pk, old, _new, _row in written.moved("name"):
        values = Tag.objects.filter(category_id=pk).values_list("pk", "value")
        _audit_renames(written, {tag: f"{old}:{value}" for tag, value in values})
