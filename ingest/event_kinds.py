"""What an event is, from the words other systems use for it.

Elastic Common Schema describes an event by `event.action` (the system's own word:
`user_login`, `logged-in`, `authentication_failure`), `event.category` (`authentication`,
`session`, `iam`) and `event.type` (`start`, `end`, `info`, `change`). vahti's kinds are the
contract's: login, logout, session_activity, password_reset, password_change, mfa, probe.

An action word is read after lower-casing and turning `_-.:/` into spaces; words that carry
an outcome (`failed`, `success`, ...) are set aside and give the outcome where the record
has none. An action no table knows falls back on the category and type; a record with
neither keeps its word and is quarantined as an unknown event, naming it.
"""

from __future__ import annotations

import polars as pl

from ingest.canonical import EVENT_TYPES

_KINDS: dict[str, tuple[str, ...]] = {
    "login": (
        "login", "log in", "logged in", "logon", "log on", "logged on", "sign in", "signin",
        "signed in", "user login", "user logon", "user logged in", "user log in",
        "user signed in", "user sign in", "authentication", "authenticate", "authenticated",
        "auth", "user authentication", "user auth", "ssh login", "web login", "interactive login",
        "credential validation",
    ),
    "logout": (
        "logout", "log out", "logged out", "logoff", "log off", "logged off", "sign out",
        "signout", "signed out", "user logout", "user logoff", "user logged out",
        "user signed out", "session end", "session ended", "session closed",
        "session terminated", "session expired",
    ),
    "password_reset": (
        "password reset", "reset password", "user password reset", "password reset requested",
        "forgot password", "password recovery", "password reset request",
    ),
    "password_change": (
        "password change", "password changed", "change password", "changed password",
        "user password change", "user password changed", "password update",
        "password updated", "update password", "user changed password",
    ),
    "mfa": (
        "mfa", "mfa challenge", "mfa verify", "mfa verification", "2fa", "two factor",
        "two factor authentication", "otp", "otp verify", "totp", "multi factor authentication",
        "second factor", "mfa authentication", "user mfa",
    ),
    "session_activity": (
        "session activity", "session refresh", "session refreshed", "session renewed",
        "session active", "activity", "session start", "session started", "session opened",
    ),
}  # fmt: skip
WORDS = {word: kind for kind, words in _KINDS.items() for word in words}
_FAILURE = ("failed", "failure", "fail", "failing", "denied", "rejected", "invalid", "error")
_SUCCESS = ("success", "successful", "succeeded", "successfully", "accepted", "granted", "ok")
_NOISE = ("attempt", "attempted", "event")
_ASIDE = rf"\b(?:{'|'.join((*_FAILURE, *_SUCCESS, *_NOISE))})\b"


def _words(action: pl.Expr) -> pl.Expr:
    return action.str.to_lowercase().str.replace_all(r"[_\-.:/]+", " ").str.strip_chars()


def _kind_of_words(words: pl.Expr) -> pl.Expr:
    core = words.str.replace_all(_ASIDE, "").str.replace_all(r"\s+", " ").str.strip_chars()
    return core.replace_strict(WORDS, default=None, return_dtype=pl.String)


def _outcome_of_words(words: pl.Expr) -> pl.Expr:
    failed = words.str.contains(rf"\b(?:{'|'.join(_FAILURE)})\b")
    succeeded = words.str.contains(rf"\b(?:{'|'.join(_SUCCESS)})\b")
    return (
        pl.when(failed & ~succeeded)
        .then(pl.lit("failure"))
        .when(succeeded & ~failed)
        .then(pl.lit("success"))
    )


def _kind_of_category(category: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """ECS category and type (each a string or a JSON array of strings) -> a kind."""
    in_category = category.str.contains
    is_type = kind.fill_null("").str.contains
    return (
        pl.when(in_category(r"\bauthentication\b") & is_type(r"\bend\b"))
        .then(pl.lit("logout"))
        .when(in_category(r"\bauthentication\b"))
        .then(pl.lit("login"))
        .when(in_category(r"\bsession\b") & is_type(r"\bend\b"))
        .then(pl.lit("logout"))
        .when(in_category(r"\bsession\b"))
        .then(pl.lit("session_activity"))
    )


def classified(
    frame: pl.DataFrame, category: str | None = None, kind: str | None = None
) -> pl.DataFrame:
    """`event` as one of the contract's kinds where its words, or the ECS category and type
    columns named, say which; `outcome` filled from the action's words where missing."""
    event = frame["event"]
    unknown = event.is_not_null() & ~event.is_in(EVENT_TYPES)
    # Without a category, only an event of no known kind can change (a third of a small
    # batch's parse went here for canonical lines, which name none)
    no_category = category is None or frame[category].is_null().all()
    if no_category and not unknown.any():
        return frame
    words = _words(pl.col("event"))
    by_category = (
        _kind_of_category(pl.col(category), pl.col(kind) if kind else pl.lit(None, pl.String))
        if category
        else pl.lit(None, pl.String)
    )
    known = pl.col("event").is_in(EVENT_TYPES)
    return frame.with_columns(
        event=pl.when(known)
        .then(pl.col("event"))
        .otherwise(pl.coalesce(_kind_of_words(words), by_category, pl.col("event"))),
        outcome=pl.when(known | pl.col("outcome").is_not_null())
        .then(pl.col("outcome"))
        .otherwise(_outcome_of_words(words)),
    )
