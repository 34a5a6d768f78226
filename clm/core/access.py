"""Record visibility, enforced here and only here: every view, API endpoint and export asks
`visible_records` (or `visible_accounts`, or `restrict` for records reached through an account).

This module decides who is restricted (sales and CSM users, when the workspace limits them to
their own and their team's records). Each model says what a restricted user sees of it, with a
classmethod `visible_to_restricted(user, prefix) -> Q` (Account: the accounts they or their team
own or look after; Lead: also the unassigned pool). A model without one that has an `account`
foreign key follows its account; a model with neither (products, tags) is not restricted."""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet

from clm.core.models import Role, Workspace

RESTRICTED_ROLES = (Role.SALES, Role.CSM)

# By label, as Django's auth names AUTH_USER_MODEL: the platform layer does not import the data apps.
ACCOUNT_MODEL = "customers.Account"


def account_model() -> type[Model]:
    return apps.get_model(ACCOUNT_MODEL)


def sees_everything(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_role(Role.ADMIN, Role.MANAGER, Role.MARKETING, Role.VIEWER):
        return True
    if not user.has_role(*RESTRICTED_ROLES):
        return False
    # kept on the user object, which lives for one request (as its roles do): one query, not one per panel
    if not hasattr(user, "_sees_all_accounts"):
        user._sees_all_accounts = Workspace.current().record_visibility == Workspace.Visibility.ALL
    return user._sees_all_accounts


def account_path(model) -> str | None:
    """The lookup from a model to the Account it belongs to ('' for Account, None if it has none)."""
    if model._meta.label == ACCOUNT_MODEL:
        return ""
    try:
        field = model._meta.get_field("account")
    except FieldDoesNotExist:
        return None
    return "account" if field.is_relation and field.related_model._meta.label == ACCOUNT_MODEL else None


def is_scoped(model) -> bool:
    return hasattr(model, "visible_to_restricted") or account_path(model) is not None


def visibility(model, user, prefix: str = "") -> Q | None:
    """The condition a record of `model` (reached through `prefix`) must meet to be visible to
    `user`: an empty Q for all of them, None for none. A model with a rule of its own for every
    user (`visibility_for`: private records such as tasks) decides alone."""
    own = getattr(model, "visibility_for", None)
    if own is not None:
        return own(user, prefix)
    if not is_scoped(model) or sees_everything(user):
        return Q()
    if not user.is_authenticated or not user.is_active or not user.has_role(*RESTRICTED_ROLES):
        return None
    own_rule = getattr(model, "visible_to_restricted", None)
    if own_rule is not None:
        return own_rule(user, prefix)
    return account_model().visible_to_restricted(user, f"{prefix}account__")


def visible_records(model, user) -> QuerySet:
    """Every record of `model` the user may see: the one entry point for views, API and exports."""
    return _apply(model._default_manager.all(), visibility(model, user))


def visible_accounts(user) -> QuerySet:
    return visible_records(account_model(), user)


def restrict(queryset: QuerySet, user, account_path: str = "account") -> QuerySet:
    """Limit any queryset of account-owned records (contacts, orders, tickets...) to the visible
    accounts. account_path is the lookup from the model to its Account ('' for Account itself)."""
    return _apply(queryset, visibility(account_model(), user, f"{account_path}__" if account_path else ""))


def _apply(queryset: QuerySet, condition: Q | None) -> QuerySet:
    if condition is None:
        return queryset.none()
    return queryset.filter(condition) if condition else queryset


def can_edit(user, model) -> bool:
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
