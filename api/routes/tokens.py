"""Tokens, for admins: created (shown once), listed, revoked; every change audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.auth import Admin
from api.context import Rejected
from api.models import TokenCreated, TokenIn, TokenOut
from api.routes.common import Ctx, Reader, who
from store.tokens import TokenError, create_token, list_tokens, revoke_token

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
_ADMINISTRATION = "access management"


@router.get("", response_model=list[TokenOut], summary="Tokens (never their secrets)")
def tokens(principal: Admin, con: Reader) -> list[dict]:
    return [token.as_json() for token in list_tokens(con)]


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token")
def create(request: Request, principal: Admin, ctx: Ctx, new: TokenIn) -> dict:
    detail = who(principal, request, _ADMINISTRATION, token=new.name, role=new.role)
    try:
        with ctx.audit.change(principal.name, "tokens.create", detail) as con:
            info, secret = create_token(con, new.name, new.role, ctx.clock())
    except TokenError as exc:
        raise Rejected(409, str(exc)) from exc
    request.app.state.tokens.invalidate()
    return {**info.as_json(), "token": secret}


@router.delete("/{name}", response_model=TokenOut, summary="Revoke a token")
def revoke(
    request: Request,
    principal: Admin,
    ctx: Ctx,
    name: Annotated[str, Path(min_length=1, max_length=64)],
) -> dict:
    detail = who(principal, request, _ADMINISTRATION, token=name)
    try:
        with ctx.audit.change(principal.name, "tokens.revoke", detail) as con:
            info = revoke_token(con, name, ctx.clock())
    except TokenError as exc:
        raise Rejected(404, str(exc)) from exc
    request.app.state.tokens.invalidate()
    request.app.state.sessions.end_for(name)  # console sessions end with their token
    return info.as_json()
