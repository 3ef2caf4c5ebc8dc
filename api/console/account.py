"""A person's own API tokens in the console: made by the person after signing in with
password and one-time code, so nobody else ever saw the secret (such a token can decide an
extract: four eyes holds), and revoked by them. A session opened with a token cannot make
tokens: a stolen token must not be able to outlive its revocation."""

from __future__ import annotations

from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import context
from api.console.pages import Session, _guard, back, page, session_of
from api.context import Rejected
from api.routes.common import Reader
from store.tokens import TokenError, TokenInfo, create_token, list_tokens, revoke_token

router = APIRouter(include_in_schema=False)
Signed = Annotated[Session, Depends(session_of)]
_PURPOSE = "access management"


def _own(con: duckdb.DuckDBPyConnection, person: str) -> list[TokenInfo]:
    return [t for t in list_tokens(con) if t.person == person]


def _person(session: Session) -> str:
    if session.principal.token is not None:
        raise Rejected(403, "sign in with your password and code to manage your tokens")
    return session.principal.name


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: Signed, con: Reader) -> HTMLResponse:
    return page(request, "account.html", session, tokens=_own(con, session.principal.name),
                made=None, error="", by_password=session.principal.token is None)  # fmt: skip


@router.post("/account/tokens", response_class=HTMLResponse)
def make_token(
    request: Request, session: Signed, name: Annotated[str, Form()], csrf: Annotated[str, Form()]
) -> HTMLResponse:
    _guard(session, csrf)
    person, ctx = _person(session), context(request)
    detail = {"role": session.principal.role, "token": name, "person": person,
              "purpose": _PURPOSE, "route": "POST /account/tokens"}  # fmt: skip
    made, error = None, ""
    try:
        with ctx.audit.change(person, "tokens.create", detail) as con:
            _, made = create_token(con, name, None, ctx.clock(), person, created_by=person)
    except TokenError as exc:
        error = str(exc)
    request.app.state.tokens.invalidate()
    cursor = ctx.store.cursor()
    try:
        mine = _own(cursor, person)
    finally:
        cursor.close()
    return page(request, "account.html", session, tokens=mine, made=made, error=error,
                by_password=True)  # fmt: skip


@router.post("/account/tokens/{name}/revoke")
def revoke_own(
    request: Request, session: Signed, name: str, csrf: Annotated[str, Form()]
) -> Response:
    _guard(session, csrf)
    person, ctx = _person(session), context(request)
    cursor = ctx.store.cursor()
    try:
        theirs = any(t.name == name for t in _own(cursor, person))
    finally:
        cursor.close()
    if not theirs:
        raise Rejected(404, f"you have no token named {name!r}")
    detail = {"token": name, "person": person, "purpose": _PURPOSE}
    with ctx.audit.change(person, "tokens.revoke", detail) as con:
        revoke_token(con, name, ctx.clock())
    request.app.state.tokens.invalidate()
    request.app.state.sessions.end_for(token=name)
    return back("/account")
