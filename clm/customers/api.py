"""REST resources for accounts, contacts, interactions and the scene tag library."""

from typing import Annotated, Literal

from ninja import Field, FilterLookup, FilterSchema, Router, Schema

from clm.core.crud import Id, LocalDatetime, Resource, Text, choice, one_or_404, register
from clm.customers import actions
from clm.customers.models import (
    Account,
    Contact,
    HealthBand,
    Interaction,
    LifecycleStage,
    Tag,
    TagCategory,
)
from clm.customers.services import validate_custom

router = Router()


class AccountFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup(["name__icontains", "domain__icontains"])] = None
    industry: Annotated[Text | None, FilterLookup("industry")] = None
    region: Annotated[Text | None, FilterLookup("region")] = None
    province: Annotated[Text | None, FilterLookup("province")] = None
    city: Annotated[Text | None, FilterLookup("city")] = None
    lifecycle_stage: Annotated[choice(LifecycleStage) | None, FilterLookup("lifecycle_stage")] = None
    health_band: Annotated[choice(HealthBand) | None, FilterLookup("health_band")] = None
    sales_owner: Annotated[Id | None, FilterLookup("sales_owner_id")] = None
    csm: Annotated[Id | None, FilterLookup("csm_id")] = None
    parent: Annotated[Id | None, FilterLookup("parent_id")] = None
    tag: Annotated[Id | None, FilterLookup("tags")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None
    updated_since: Annotated[LocalDatetime | None, FilterLookup("updated_at__gte")] = None


class ContactFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    q: Annotated[Text | None, FilterLookup(["name__icontains", "email__icontains"])] = None
    email: Annotated[Text | None, FilterLookup("email__iexact")] = None
    role: Annotated[choice(Contact.Role) | None, FilterLookup("role")] = None
    status: Annotated[choice(Contact.Status) | None, FilterLookup("status")] = None
    is_key_person: Annotated[bool | None, FilterLookup("is_key_person")] = None
    external_id: Annotated[Text | None, FilterLookup("external_id")] = None
    updated_since: Annotated[LocalDatetime | None, FilterLookup("updated_at__gte")] = None


class InteractionFilters(FilterSchema):
    account: Annotated[Id | None, FilterLookup("account_id")] = None
    contact: Annotated[Id | None, FilterLookup("contact_id")] = None
    type: Annotated[choice(Interaction.Type) | None, FilterLookup("type")] = None
    owner: Annotated[Id | None, FilterLookup("owner_id")] = None
    since: Annotated[LocalDatetime | None, FilterLookup("occurred_at__gte")] = None
    until: Annotated[LocalDatetime | None, FilterLookup("occurred_at__lt")] = None


class TagFilters(FilterSchema):
    category: Annotated[Id | None, FilterLookup("category_id")] = None
    q: Annotated[Text | None, FilterLookup("value__icontains")] = None


class TagCategoryFilters(FilterSchema):
    q: Annotated[Text | None, FilterLookup("name__icontains")] = None


def custom_attributes(target: str):
    def prepare(data, user, instance, children):
        if "custom" in data:
            data["custom"] = validate_custom(target, data["custom"])
        return data

    return prepare


ENGINE_FIELDS = ("lifecycle_stage", "lifecycle_stage_since", "health_score", "health_band")

RESOURCES = [
    Resource(
        Account,
        "accounts",
        AccountFilters,
        read_only=ENGINE_FIELDS,
        hidden=("search_key",),
        prefetch_related=("tags",),
        m2m=("tags",),
        prepare=custom_attributes("account"),
    ),
    Resource(Contact, "contacts", ContactFilters, prepare=custom_attributes("contact")),
    Resource(Interaction, "interactions", InteractionFilters),
    Resource(TagCategory, "tag-categories", TagCategoryFilters),
    Resource(Tag, "tags", TagFilters, select_related=("category",)),
]

for resource in RESOURCES:
    register(router, resource)


class AssignIn(Schema):
    ids: list[Id] = Field(
        ..., max_length=10_000, description="accounts to assign (those you cannot see are left out)"
    )
    role: Literal["owner", "csm"]
    user: Id | None = Field(None, description="the new sales owner or CSM; null for nobody")


class TagIn(Schema):
    ids: list[Id] = Field(
        ..., max_length=10_000, description="accounts to tag (those you cannot see are left out)"
    )
    tag: Id
    remove: bool = Field(False, description="take the tag off instead of adding it")


class Changed(Schema):
    changed: int


@router.post(
    "/accounts/assign",
    response=Changed,
    summary="Give accounts a sales owner or CSM",
    operation_id="assign_accounts",
)
def assign(request, payload: AssignIn):
    return {
        "changed": actions.assign_accounts(request.user, payload.ids, payload.role, payload.user, via="api")
    }


@router.post(
    "/accounts/tag",
    response=Changed,
    summary="Add a tag to accounts, or take it off",
    operation_id="tag_accounts",
)
def tag(request, payload: TagIn):
    found = one_or_404(Tag.objects.all(), payload.tag)
    retag = actions.untag_accounts if payload.remove else actions.tag_accounts
    return {"changed": retag(request.user, payload.ids, found, via="api")}
