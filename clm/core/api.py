"""REST resources about the caller: who am I, and my personal API tokens (list, issue, revoke)."""

import datetime as dt
from typing import Annotated

from django.http import Http404
from ninja import Router, Schema, Status
from pydantic import Field

from clm.core import tokens
from clm.core.crud import InputSchema, LocalDatetime, Text, choice
from clm.core.models import ApiToken

router = Router(tags=["me"])


class MeOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    team: str | None
    roles: list[str]
    language: str
    time_zone: str
    is_superuser: bool


class TokenOut(Schema):
    id: int
    name: str
    hint: str = Field(description="the token's first characters, to recognise it")
    scope: str = Field(description="full, read (read-only requests) or events (usage events only)")
    expires_at: dt.datetime | None = Field(description="when it stops working; null: never")
    survives_password_change: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    is_active: bool


class IssuedToken(TokenOut):
    token: str = Field(description="the token itself; shown once, only its digest is stored")


class TokenIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    scope: choice(ApiToken.Scope) = Field(
        ApiToken.Scope.FULL.value,
        description="full; read: only GET requests; events: only POST /events (for ingestion)",
    )
    expires_at: LocalDatetime | None = Field(None, description="in the future, within five years; null: never")
    survives_password_change: bool = Field(
        False, description="keep working after the owner's password changes (an integration's token)"
    )


@router.get("/me", operation_id="get_me", response=MeOut, summary="The authenticated user")
def me(request):
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "team": user.team.name if user.team_id else None,
        "roles": sorted(user.roles),
        "language": user.language,
        "time_zone": user.time_zone,
        "is_superuser": user.is_superuser,
    }


@router.get("/tokens", operation_id="list_tokens", response=list[TokenOut], summary="My API tokens")
def list_tokens(request):
    return ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")


@router.post(
    "/tokens",
    response={201: IssuedToken},
    operation_id="issue_token",
    summary="Issue an API token (from a signed-in session only)",
    description="A token cannot issue tokens: call this from the workspace's session, or use `clm issue_token`.",
)
def issue_token(request, payload: TokenIn):
    token, raw = tokens.issue_token(
        request.user,
        payload.name,
        scope=payload.scope,
        expires_at=payload.expires_at,
        survives_password_change=payload.survives_password_change,
        via="api",
        with_token=hasattr(request, "api_token"),
    )
    token.token = raw
    return Status(201, token)


@router.delete(
    "/tokens/{int:id}", response={204: None}, operation_id="revoke_token", summary="Revoke one of my API tokens"
)
def revoke_token(request, id: int):
    token = ApiToken.objects.filter(user=request.user, pk=id).first() if 0 < id < 2**63 else None
    if token is None:
        raise Http404(f"No token with id {id}.")
    tokens.revoke_token(token, actor=request.user, via="api")
    return Status(204, None)
