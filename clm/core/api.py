"""REST resources about the caller: who am I, and my personal API tokens (list, issue, revoke)."""

import datetime as dt
from typing import Annotated

from django.http import Http404
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from clm.core.crud import InputSchema, Text
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
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    is_active: bool


class IssuedToken(TokenOut):
    token: str = Field(description="the token itself; shown once, only its digest is stored")


class TokenIn(InputSchema):
    name: Annotated[Text, Field(min_length=1, max_length=100)]


@router.get("/me", response=MeOut, summary="The authenticated user")
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


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def list_tokens(request):
    return ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")


@router.post("/tokens", response={201: IssuedToken}, summary="Issue an API token")
def issue_token(request, payload: TokenIn):
    token, raw = ApiToken.issue(request.user, payload.name)
    token.token = raw
    return Status(201, token)


@router.delete("/tokens/{int:id}", response={204: None}, summary="Revoke one of my API tokens")
def revoke_token(request, id: int):
    token = ApiToken.objects.filter(user=request.user, pk=id).first() if 0 < id < 2**63 else None
    if token is None:
        raise Http404(f"No token with id {id}.")
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    return Status(204, None)
