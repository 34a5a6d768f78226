"""The API describes itself: OpenAPI at /api/v1/openapi.json lists every endpoint with its
schemas, and the interactive docs are at /api/v1/docs."""

import json
import re

import pytest
from django.test import Client
from ninja.responses import NinjaJSONEncoder

from clm.api import api

pytestmark = pytest.mark.django_db

RESOURCES = [
    "accounts",
    "contacts",
    "interactions",
    "tag-categories",
    "tags",
    "products",
    "subscriptions",
    "orders",
    "payments",
    "tickets",
    "survey-responses",
    "leads",
    "opportunities",
    "channel-spend",
    "features",
]


@pytest.fixture(scope="module")
def spec():
    # As served: through JSON, so status codes are strings.
    return json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


def test_the_schema_is_served_without_authentication(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "CLM API"


def test_the_docs_page_works_offline_with_the_swagger_ui_served_by_clm(db):
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=[\"'](https?:)?//", html), "the docs page loads something from outside"
    assets = re.findall(r"(?:src|href)=[\"'](/static/[^\"']+)", html)
    assert {"/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui.css"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_resource_has_list_create_get_update_and_delete_with_schemas(spec, resource):
    collection = spec["paths"][f"/api/v1/{resource}"]
    item = spec["paths"][f"/api/v1/{resource}/{{id}}"]
    assert set(collection) == {"get", "post"} and set(item) == {"get", "patch", "delete"}
    assert "$ref" in collection["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" in item["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" in collection["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    params = {p["name"] for p in collection["get"]["parameters"]}
    assert {"limit", "offset"} <= params


def test_the_other_endpoints_are_listed(spec):
    for path in (
        "/events",
        "/me",
        "/tokens",
        "/tokens/{id}",
        "/subscriptions/{id}/changes",
        "/opportunities/{id}/stage-history",
        "/surveys/{id}/send",
        "/feedback-forms/{key}/submissions",
        "/feedback/{id}/status",
        "/feedback/themes",
    ):
        assert f"/api/v1{path}" in spec["paths"], path
    body = spec["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    event = body["oneOf"][0]["items"]
    assert {"account", "account_external_id", "event", "timestamp", "idempotency_key"} <= set(
        event["properties"]
    )
    assert (
        "$ref"
        in spec["paths"]["/api/v1/events"]["post"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]
    )


def test_enum_fields_list_their_values(spec):
    deal_type = spec["components"]["schemas"]["OpportunityCreate"]["properties"]["type"]
    assert deal_type["enum"] == ["new", "expansion", "renewal"]
    # a deal's stage is one of its pipeline's (clm.sales.models.Pipeline), checked when written
    assert "enum" not in spec["components"]["schemas"]["OpportunityCreate"]["properties"]["stage"]


# What an operation does, as the first word(s) of its id: what a generated client calls it.
VERBS = (
    "list", "get", "create", "update", "replace", "delete", "assign", "tag", "ingest", "start", "export",
    "issue", "revoke", "complete", "cancel", "reassign", "snooze", "close", "erase", "rotate", "test", "set",
    "enroll", "dry_run", "redeem", "move", "submit", "send", "accept", "decline", "decide", "convert",
)


def test_every_operation_has_a_unique_snake_case_verb_noun_id(spec):
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    shapeless = [i for i in ids if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", i)]
    assert not shapeless, shapeless
    no_verb = [i for i in ids if not any(i.startswith(f"{verb}_") for verb in VERBS)]
    assert not no_verb, no_verb
    assert {"list_accounts", "get_account", "get_cac", "ingest_events", "issue_token"} <= set(ids)


def test_every_operation_id_is_given_explicitly_so_renaming_a_function_keeps_it(spec):
    implicit = [
        f"{op.methods} {path}"
        for _prefix, router in api._routers
        for path, view in router.path_operations.items()
        for op in view.operations
        if not op.operation_id
    ]
    assert not implicit, implicit


def test_token_authentication_is_documented(spec):
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} >= {"http", "apiKey"}
