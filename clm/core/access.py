"""Record visibility, enforced here and only here: every view, API endpoint and export asks
`visible_accounts` (or `restrict`, for records that belong to an account)."""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet

from clm.core.models import Role, Workspace
from clm.customers.models import Account

RESTRICTED_ROLES = (Role.SALES, Role.CSM)


def sees_everything(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.has_role(Role.ADMIN, Role.MARKETING, Role.VIEWER):
        return True
    if not user.has_role(*RESTRICTED_ROLES):
        return False
    return Workspace.current().record_visibility == Workspace.Visibility.ALL


def account_filter(user, prefix: str = "") -> Q | None:
    """The condition an account (reached through `prefix`) must meet to be visible to `user`:
    an empty Q for everything, None for nothing."""
    if sees_everything(user):
        return Q()
    if not user.is_authenticated or not user.is_active or not user.has_role(*RESTRICTED_ROLES):
        return None
    mine = Q(**{f"{prefix}sales_owner": user}) | Q(**{f"{prefix}csm": user})
    if user.team_id:
        mine |= Q(**{f"{prefix}sales_owner__team_id": user.team_id}) | Q(**{f"{prefix}csm__team_id": user.team_id})
    return mine


def visible_accounts(user) -> QuerySet[Account]:
    return restrict(Account.objects.all(), user, "")


def restrict(queryset: QuerySet, user, account_path: str = "account") -> QuerySet:
    """Limit any queryset of account-owned records (contacts, orders, tickets...) to the visible
    accounts. account_path is the lookup from the model to its Account ('' for Account itself)."""
    condition = account_filter(user, prefix=f"{account_path}__" if account_path else "")
    if condition is None:
        return queryset.none()
    return queryset.filter(condition) if condition else queryset


def account_path(model) -> str | None:
    """The lookup from a model to the Account it belongs to ('' for Account, None if it has none)."""
    if model is Account:
        return ""
    try:
        field = model._meta.get_field("account")
    except FieldDoesNotExist:
        return None
    return "account" if field.is_relation and field.related_model is Account else None


def visible_records(model, user) -> QuerySet:
    """Every record of `model` the user may see: the one entry point for views, API and exports.

    Leads are the exception to "follow the account": before conversion they have none, so a
    restricted user sees leads of visible accounts, leads they or their team own, and the pool of
    unassigned leads."""
    if hasattr(model, "visible_to"):  # a model with its own rule (tasks and cases: see automation)
        return model.visible_to(user)
    queryset = model._default_manager.all()
    if model.__name__ == "Lead" and model._meta.app_label == "sales":
        condition = account_filter(user, prefix="account__")
        if condition is None:
            return queryset.none()
        if not condition:
            return queryset
        owned = Q(owner=user) | (Q(owner__team_id=user.team_id) if user.team_id else Q(pk__in=[]))
        return queryset.filter(condition | owned | Q(account__isnull=True, owner__isnull=True))
    path = account_path(model)
    return queryset if path is None else restrict(queryset, user, path)


def can_edit(user, model) -> bool:
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
