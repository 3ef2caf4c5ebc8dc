"""Web server logs -> login events: requests to the login path are attempts.

Lines: combined access lines (nginx, Apache; nginx's `main` format with
`"$http_x_forwarded_for"`, or the operator's own `[access] log_format`), JSON access lines
(nginx `escape=json`, Caddy), either wrapped in syslog, and the failed HTTP authentications
of nginx's and Apache's error logs. A file may mix them.

Which request is a login, and how it went, is configuration (`[access]`): the path and
method make it a login; a `Location` prefix the portal redirects to (when the log has it)
says success or failure before the status does. The client is the peer, or, behind a
configured trusted proxy, the forwarded header's client (ingest/forwarded.py).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

import orjson
import polars as pl

from ingest.access_formats import (
    COMBINED,
    ERROR_LOG_LINE,
    SYSLOG_WRAPPER,
    compile_log_format,
    read_auth_errors,
    read_text,
    unwrapped,
)
from ingest.access_json import read_json
from ingest.canonical import conform
from ingest.context import ParseContext, Parsed
from ingest.forwarded import client_address
from ingest.timestamps import local_to_utc, parse_rfc3339_or_epoch

_UNREADABLE_AUTH_FAILURE = (
    r'^\d{4}/\d\d/\d\d .* user ".*(?:: password mismatch| was not found in ")'
)
_UNREADABLE_REASON = "an HTTP auth failure with a quote in its user name: its client is ambiguous"
_REQUEST_KEYS = {"request", "request_uri", "request_method", "uri"}
_EVENT_KEYS = {"event", "outcome", "event.outcome", "event.action"}


def looks_like(line: str) -> bool:
    message = re.sub(SYSLOG_WRAPPER, "", line, count=1)
    if message.startswith("{"):
        return _is_json_request(message)
    return any(re.match(p, message) for p in (COMBINED, ERROR_LOG_LINE))


def _is_json_request(message: str) -> bool:
    """A JSON object with a status and a request, and none of a login event's own keys."""
    try:
        record = orjson.loads(message)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(record, dict):
        return False
    keys = set(record)
    return "status" in keys and bool(keys & _REQUEST_KEYS) and not keys & _EVENT_KEYS


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    frame = lines.select("line_no", "raw", msg=unwrapped(pl.col("raw")))
    is_json = frame["msg"].str.starts_with("{")
    pattern = (
        compile_log_format(context.access.log_format) if context.access.log_format else COMBINED
    )
    requests, rest = read_text(frame.filter(~is_json), pattern)
    auth_errors, rest = read_auth_errors(rest)
    # nginx writes a user name as it came, quotes too: such a failure cannot be read
    # safely (the client's text could pose as the client field), so it is kept to be seen.
    unreadable = rest["msg"].str.contains(_UNREADABLE_AUTH_FAILURE)
    other_errors = rest["msg"].str.contains(ERROR_LOG_LINE) & ~unreadable
    quarantine = [
        rest.filter(~other_errors).select(
            "line_no",
            "raw",
            reason=pl.when(unreadable.filter(~other_errors))
            .then(pl.lit(_UNREADABLE_REASON))
            .otherwise(pl.lit(_not_read(context))),
        )
    ]
    skipped = int(other_errors.sum())
    if is_json.any():
        from_json, bad_json, skipped_json = read_json(frame.filter(is_json), context)
        requests = pl.concat([requests, from_json], how="vertical_relaxed")
        quarantine.append(bad_json)
        skipped += skipped_json
    logins = _logins(requests, context)
    events = pl.concat([logins, _auth_failures(auth_errors, context)], how="diagonal_relaxed")
    skipped += requests.height - logins.height
    return Parsed(
        events=conform(events.sort("line_no")),
        quarantine=pl.concat(quarantine, how="vertical_relaxed"),
        skipped=skipped,
    )


def _not_read(context: ParseContext) -> str:
    if context.access.log_format:
        return "not a web log line of the configured [access] log_format"
    return "not a web access log line (combined, JSON) or HTTP auth error"


def _split_request(frame: pl.DataFrame) -> pl.DataFrame:
    """`POST /login?x=1 HTTP/1.1` -> method and target, where the log gave only the line;
    `path`: the target's path as the server routes it (see `routed_path`)."""
    parts = pl.col("request").str.extract_groups(r"^(?P<m>[A-Za-z]+) (?P<t>\S+)")
    target = pl.coalesce("target", pl.col("parts").struct.field("t"))
    split = (
        frame.with_columns(parts=parts)
        .with_columns(
            method=pl.coalesce("method", pl.col("parts").struct.field("m")).str.to_uppercase(),
            target=target,
        )
        .drop("parts")
    )
    return split.with_columns(path=_routed_paths(split["target"]))


_ODD_PATH = r"%|//|/\.|;|./$"


def routed_path(target: str) -> str:
    """The path a web server routes a request target to: without scheme and host, query
    and fragment, `;` parameters, %-escapes, repeated slashes, `.` and `..` segments and a
    final slash. `//login`, `/./login`, `/%6Cogin` and `/login;a=1` reach the same handler
    as `/login`, and an attacker's login attempts must not slip past by spelling it so."""
    path = re.sub(r"^[a-zA-Z][\w+.-]*://[^/?#]*", "", target)
    path = re.split(r"[?#]", path, maxsplit=1)[0]
    path = unquote(re.sub(r";[^/]*", "", path))
    path = posixpath.normpath("/" + re.sub(r"/+", "/", path).lstrip("/"))
    return path


def _routed_paths(targets: pl.Series) -> pl.Series:
    """`routed_path` of each target; only the unusual ones (and each once) in Python."""
    plain = targets.str.replace(r"^[a-zA-Z][\w+.-]*://[^/?#]*", "").str.replace(r"[?#].*$", "")
    odd = plain.str.contains(_ODD_PATH).fill_null(False)
    if not odd.any():
        return plain.rename("path")
    distinct = targets.filter(odd).unique().drop_nulls().to_list()
    fixed = targets.replace_strict({t: routed_path(t) for t in distinct}, default=None)
    return pl.select(pl.when(odd).then(fixed).otherwise(plain)).to_series().rename("path")


def _location_path(location: pl.Expr) -> pl.Expr:
    return location.str.replace(r"^[a-zA-Z][\w+.-]*://[^/?#]*", "")


def _matches_any(location: pl.Expr, prefixes: tuple[str, ...]) -> pl.Expr:
    """A Location that starts with any prefix: paths against its path, URLs against it."""
    if not prefixes:
        return pl.lit(False)
    tests = [
        (_location_path(location) if prefix.startswith("/") else location).str.starts_with(prefix)
        for prefix in prefixes
    ]
    return pl.any_horizontal(tests).fill_null(False)


def _logins(requests: pl.DataFrame, context: ParseContext) -> pl.DataFrame:
    frame = _split_request(requests)
    status = pl.col("status").cast(pl.Int32, strict=False)
    success_at = _matches_any(pl.col("location"), context.access.success_location)
    failure_at = _matches_any(pl.col("location"), context.access.failure_location)
    by_status_success = status.is_in(list(context.access.success_status))
    decided = (
        success_at
        | failure_at
        | by_status_success
        | status.is_in(list(context.access.failure_status))
    )
    login_paths = [routed_path(p) for p in context.access.login_paths]
    login = frame.filter(
        pl.col("path").is_in(login_paths)
        & pl.col("method").is_in(list(context.access.methods))
        & decided
    )
    header = "forwarded" if context.access.forwarded_header == "forwarded" else "xff"
    client = client_address(
        login.select("peer", forwarded=header),
        context.access.trusted_proxies,
        context.access.forwarded_header,
    )
    success = (
        pl.when(success_at).then(True).when(failure_at).then(False).otherwise(by_status_success)
    )
    named = [pl.when(~pl.col(c).is_in(["-", ""])).then(c) for c in ("from_query", "ruser", "user")]
    return login.with_columns(client=client, from_query=_query_user(login, context)).select(
        "line_no",
        "raw",
        seq=pl.lit(0, pl.Int32),
        ts_raw=pl.coalesce("time_clf", "time_iso"),
        ts=pl.coalesce(
            pl.col("time_clf")
            .str.to_datetime("%d/%b/%Y:%H:%M:%S %z", time_zone="UTC", time_unit="us", strict=False)
            .dt.replace_time_zone(None),
            parse_rfc3339_or_epoch(pl.col("time_iso")),
        ),
        event=pl.lit("login"),
        outcome=pl.when(success).then(pl.lit("success")).otherwise(pl.lit("failure")),
        user=pl.coalesce(*named, pl.lit("-")),
        **_source(pl.col("client")),
        user_agent=pl.when(~pl.col("agent").is_in(["-", ""])).then("agent"),
        service=pl.lit(context.access.service or None, pl.String),
        # Which answer decided it: a form login's failure has no reason of the vocabulary.
        extra=pl.struct(http_status=status, location="location").struct.json_encode(),
    )  # fmt: skip


def _source(address: pl.Expr) -> dict[str, pl.Expr]:
    """An address is `ip`; a name (Apache with HostnameLookups) is `host`."""
    is_ip = address.str.contains(r"^[0-9A-Fa-f:.]+$") & address.str.contains(r"[.:]")
    return {"ip": pl.when(is_ip).then(address), "host": pl.when(~is_ip).then(address)}


def _auth_failures(errors: pl.DataFrame, context: ParseContext) -> pl.DataFrame:
    """Failed HTTP authentications of the error logs: each is a failed login."""
    return errors.select(
        "line_no",
        "raw",
        seq=pl.lit(0, pl.Int32),
        ts_raw="stamp",
        ts=local_to_utc(pl.col("local"), context.tz),
        event=pl.lit("login"),
        outcome=pl.lit("failure"),
        user=pl.col("user").str.replace_all(r'\\"', '"', literal=True),
        **_source(pl.col("peer")),
        reason="reason",
        service=pl.lit(context.access.service or None, pl.String),
    )


def _query_user(login: pl.DataFrame, context: ParseContext) -> pl.Series:
    """The `user_param` of the query string, %-decoded (each distinct name once)."""
    from urllib.parse import unquote_plus

    if not context.access.user_param:
        return pl.Series("from_query", [None] * login.height, dtype=pl.String)
    param = re.escape(context.access.user_param)
    names = login["target"].str.extract(rf"[?&]{param}=([^&#]*)").rename("from_query")
    encoded = [n for n in names.unique().to_list() if n is not None and ("%" in n or "+" in n)]
    if not encoded:
        return names
    return names.replace({n: unquote_plus(n) for n in encoded})
