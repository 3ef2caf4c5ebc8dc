"""Tokens and staff, for admins: persons added, disabled; tokens issued to a person (or a
service), listed, revoked; every change audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.auth import Admin, Principal
from api.context import Rejected
from api.models import PersonAdded, PersonIn, PersonOut, TokenCreated, TokenIn, TokenOut
from api.routes.common import Ctx, Reader, refusals, who
from store.staff import add_person, disable_person, list_people, totp_uri
from store.tokens import OPERATOR_TOKEN, TokenError, create_token, list_tokens, revoke_token

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
people = APIRouter(prefix="/api/v1/users", tags=["tokens"])
_ADMINISTRATION = "access management"
NameInPath = Annotated[str, Path(min_length=1, max_length=64)]


def _maker(principal: Principal) -> str | None:
    """Who made a token or account, for four eyes: a person or service token, or None for
    the operator at the server's machine (the token `vahti serve` leaves there), who holds
    the database file itself and so stands outside four eyes, as at the shell."""
    return None if (principal.token or "").startswith(OPERATOR_TOKEN) else principal.name


def _status(exc: TokenError) -> int:
    return 404 if str(exc).startswith("no ") else 409


@router.get("", response_model=list[TokenOut], summary="Tokens (never their secrets)")
def tokens(principal: Admin, con: Reader) -> list[dict]:
    return [token.as_json() for token in list_tokens(con)]


_CREATE_REFUSALS = refusals(
    not_found="no such person", conflict="the name is taken, or the role is not the person's"
)


@router.post("", response_model=TokenCreated, status_code=201, summary="Create a token",
             responses=_CREATE_REFUSALS)  # fmt: skip
def create(request: Request, principal: Admin, ctx: Ctx, new: TokenIn) -> dict:
    detail = who(principal, request, _ADMINISTRATION, token=new.name, role=new.role,
                 person=new.person)  # fmt: skip
    try:
        with ctx.audit.change(principal.name, "tokens.create", detail) as con:
            info, secret = create_token(
                con, new.name, new.role, ctx.clock(), new.person, created_by=_maker(principal)
            )
    except TokenError as exc:
        raise Rejected(_status(exc), str(exc)) from exc
    request.app.state.tokens.invalidate()
    return {**info.as_json(), "token": secret}


@router.delete("/{name}", response_model=TokenOut, summary="Revoke a token",
               responses=refusals(not_found="no such token", conflict="last admin"))  # fmt: skip
def revoke(request: Request, principal: Admin, ctx: Ctx, name: NameInPath) -> dict:
    detail = who(principal, request, _ADMINISTRATION, token=name)
    try:
        with ctx.audit.change(principal.name, "tokens.revoke", detail) as con:
            info = revoke_token(con, name, ctx.clock())
    except TokenError as exc:
        raise Rejected(_status(exc), str(exc)) from exc
    request.app.state.tokens.invalidate()
    request.app.state.sessions.end_for(token=name)  # console sessions end with their token
    return info.as_json()


@people.get("", response_model=list[PersonOut], summary="Staff (never their secrets)")
def persons(principal: Admin, con: Reader) -> list[dict]:
    return [person.as_json() for person in list_people(con)]


@people.post("", response_model=PersonAdded, status_code=201, summary="Add a person",
             responses=refusals(conflict="the name is taken"))  # fmt: skip
def add(request: Request, principal: Admin, ctx: Ctx, new: PersonIn) -> dict:
    detail = who(principal, request, _ADMINISTRATION, person=new.name, role=new.role)
    try:
        with ctx.audit.change(principal.name, "users.add", detail) as con:
            person, secret = add_person(
                con, new.name, new.role, new.password, _maker(principal), ctx.clock()
            )
    except TokenError as exc:
        raise Rejected(_status(exc), str(exc)) from exc
    return {**person.as_json(), "totp_uri": totp_uri(person.name, secret)}


@people.delete("/{name}", response_model=PersonOut, summary="Disable a person (and their tokens)",
               responses=refusals(not_found="no such person", conflict="last admin"))  # fmt: skip
def disable(request: Request, principal: Admin, ctx: Ctx, name: NameInPath) -> dict:
    detail = who(principal, request, _ADMINISTRATION, person=name)
    try:
        with ctx.audit.change(principal.name, "users.disable", detail) as con:
            person = disable_person(con, name, ctx.clock())
    except TokenError as exc:
        raise Rejected(_status(exc), str(exc)) from exc
    request.app.state.tokens.invalidate()
    request.app.state.sessions.end_for(person=name)
    return person.as_json()
