"""`vahti user` and `vahti token`: the persons on the staff and the tokens issued to them."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from store import StoreBusyError
from store.audit import AuditTrail
from store.staff import add_person, disable_person, list_people, set_password, totp_uri
from store.tokens import ROLES, TokenError, create_token, list_tokens, revoke_token
from vahti.remote import through_server
from vahti.settings import load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    NotFound,
    UsageError,
    cli_actor,
    failures,
    now_utc,
    open_db,
    out,
    say,
)

token_app = typer.Typer(
    help="API tokens: create (shown once; issued to a person, or a service token), list, revoke.",
    no_args_is_help=True,
)
user_app = typer.Typer(
    help="Staff: persons with a password and a one-time code for the console; their tokens.",
    no_args_is_help=True,
)
_PURPOSE = "access management"
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="read the password from standard input")
]


def _refused(exc: TokenError) -> Exception:
    return NotFound(str(exc)) if str(exc).startswith("no ") else UsageError(str(exc))


def _changed(db: Any, config: Any, action: str, detail: dict[str, Any], change: Any) -> Any:
    """Run `change(con)` in one audited transaction on the local database."""
    with open_db(db, load_settings(config)) as store:
        try:
            with AuditTrail(store).change(cli_actor(), action, detail) as con:
                return change(con)
        except TokenError as exc:
            raise _refused(exc) from exc


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    text: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return text


def _show_second_factor(name: str, secret: str) -> None:
    say(f"{name}'s authenticator app scans this (shown only now):", error=True)
    sys.stdout.write(totp_uri(name, secret) + "\n")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="the person's name, as the audit log shows it")],
    role: Annotated[str, typer.Option(help="analyst, dpo, liaison or admin")],
    password_stdin: PasswordStdin = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Add a person: a password (argon2id) and a TOTP second factor for the console; the
    otpauth:// URI for their authenticator app is printed once."""
    with failures():
        if role not in ROLES:
            raise UsageError(f"--role: one of {', '.join(ROLES)}")
        password = _password(password_stdin)
        detail = {"person": name, "role": role, "purpose": _PURPOSE}
        try:
            _, secret = _changed(
                db, config, "users.add", detail,
                lambda con: add_person(con, name, role, password, None, now_utc()),
            )  # fmt: skip
            uri = totp_uri(name.strip(), secret)
        except StoreBusyError as busy:
            body = {"name": name, "role": role, "password": password}
            uri = through_server(db, busy).post("/api/v1/users", body)["totp_uri"]
        say(f"{name.strip()!r} ({role}) added; their authenticator app scans this once:", True)
        sys.stdout.write(uri + "\n")


@user_app.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="the person's name")],
    password_stdin: PasswordStdin = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """A new password and a new second factor (say, after a lost phone). At the server's
    machine only: no one resets a colleague's password over the API."""
    with failures():
        password = _password(password_stdin)
        detail = {"person": name, "purpose": _PURPOSE}
        secret = _changed(db, config, "users.password", detail,
                          lambda con: set_password(con, name, password))  # fmt: skip
        _show_second_factor(name, secret)


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="the person's name")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """The person can no longer sign in; every token issued to them stops working. The last
    admin cannot be disabled."""
    with failures():
        try:
            detail = {"person": name, "purpose": _PURPOSE}
            _changed(db, config, "users.disable", detail,
                     lambda con: disable_person(con, name, now_utc()))  # fmt: skip
        except StoreBusyError as busy:
            through_server(db, busy).delete(f"/api/v1/users/{name}")
        say(f"{name!r} disabled; their tokens are revoked")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """The staff with their roles, who added them and when (never their secrets)."""
    with failures():
        people = _listing(db, config, list_people, "/api/v1/users")
        _table(people, "Staff", as_json, ("name", "role", "created_by", "created_at",
                                          "disabled_at"))  # fmt: skip


def _listing(db: Any, config: Any, read: Any, path: str) -> list[dict[str, Any]]:
    """`read(con)`'s records as JSON, from the database or from the server holding it."""
    try:
        with open_db(db, load_settings(config)) as store:
            return [record.as_json() for record in read(store.con)]
    except StoreBusyError as busy:
        listed: list[dict[str, Any]] = through_server(db, busy).get(path)
        return listed


def _table(rows: list[dict[str, Any]], title: str, as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column.removesuffix("_at").replace("_", " "))
    for row in rows:
        table.add_row(*[_cell(row.get(column)) for column in columns])
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text[:19] + "Z" if len(text) >= 19 and text[10:11] == "T" else text


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="the token's name (say, where it is used)")],
    user: Annotated[
        str | None, typer.Option(help="the person it is issued to (it has their role)")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="a service token's role: analyst, dpo, liaison or admin")
    ] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Make a token; it is printed once, on the last line, and only its hash is stored."""
    with failures():
        if role is None and user is None:
            raise UsageError("--user PERSON (a person's token) or --role ROLE (a service token)")
        if role is not None and role not in ROLES:
            raise UsageError(f"--role: one of {', '.join(ROLES)}")
        detail = {"role": role, "token": name, "person": user, "purpose": _PURPOSE}
        try:
            info, secret = _changed(
                db, config, "tokens.create", detail,
                lambda con: create_token(con, name, role, now_utc(), user),
            )  # fmt: skip
            role = info.role
        except StoreBusyError as busy:
            body = {"name": name, "role": role, "person": user}
            made = through_server(db, busy).post("/api/v1/tokens", body)
            secret, role = made["token"], made["role"]
        holder = f", issued to {user}" if user else ""
        say(f"token {name.strip()!r} ({role}{holder}) created; it is shown only now:", True)
        sys.stdout.write(secret + "\n")


@token_app.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Tokens by name, role and person (their secrets are not stored, so cannot be shown)."""
    with failures():
        tokens = _listing(db, config, list_tokens, "/api/v1/tokens")
        _table(tokens, "API tokens", as_json, ("name", "role", "person", "created_by",
                                               "created_at", "revoked_at"))  # fmt: skip


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="the token's name")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Revoke a token: it stops working at once. The last admin's cannot be revoked."""
    with failures():
        try:
            _changed(db, config, "tokens.revoke", {"token": name, "purpose": _PURPOSE},
                     lambda con: revoke_token(con, name, now_utc()))  # fmt: skip
        except StoreBusyError as busy:
            through_server(db, busy).delete(f"/api/v1/tokens/{name}")
        say(f"token {name!r} revoked")
