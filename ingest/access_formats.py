"""The text shapes of web server lines: access lines (combined, or an nginx `log_format`),
the auth failures of nginx's and Apache's error logs, and a syslog wrapper around either.

Every reader gives the same columns (`FIELDS`), null where its shape has no such field.
"""

from __future__ import annotations

import re

import polars as pl

FIELDS = (
    "peer",  # the address the server saw (`$remote_addr`, `%h`)
    "ruser",  # HTTP auth user (`$remote_user`)
    "time_clf",  # `10/Oct/2000:13:55:36 -0700`
    "time_iso",  # RFC 3339 or epoch seconds (`$time_iso8601`, `$msec`)
    "request",  # `POST /login HTTP/1.1`
    "method",
    "target",  # path and query
    "status",
    "agent",
    "xff",  # X-Forwarded-For as received
    "forwarded",  # Forwarded (RFC 7239) as received
    "location",  # the response's Location header
    "user",  # a user name the record carries itself (JSON logs)
)

_QUOTED = r'(?:[^"\\]|\\.)*'
# Combined (nginx's and Apache's default), its common-log shorter form, and nginx's `main`
# format with `"$http_x_forwarded_for"` after the user agent. Whatever else follows is kept
# in the line, unread.
_CLF_TIME = r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"
# The remote user is the client's text (nginx fills it from any `Authorization: Basic`
# header, spaces unescaped): it ends at the first ` [` that a time follows.
COMBINED = (
    rf"^(?P<peer>\S+) \S+ (?P<ruser>.*?) \[(?P<time_clf>{_CLF_TIME})\] "
    rf'"(?P<request>{_QUOTED})" (?P<status>\d{{3}}) \S+'
    rf'(?: "{_QUOTED}" "(?P<agent>{_QUOTED})"(?: "(?P<xff>{_QUOTED})")?)?(?:\s.*)?$'
)

# nginx variables -> our fields; others are read over and dropped.
_VARIABLES = {
    "remote_addr": "peer",
    "binary_remote_addr": None,
    "remote_user": "ruser",
    "time_local": "time_clf",
    "time_iso8601": "time_iso",
    "msec": "time_iso",
    "request": "request",
    "request_method": "method",
    "request_uri": "target",
    "uri": "target",
    "status": "status",
    "http_user_agent": "agent",
    "http_x_forwarded_for": "xff",
    "http_forwarded": "forwarded",
    "sent_http_location": "location",
    "upstream_http_location": "location",
}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class LogFormatError(ValueError):
    """An `[access] log_format` vahti cannot read lines with."""


def compile_log_format(log_format: str) -> str:
    """An nginx `log_format` string -> a regex with our fields as named groups.

    A variable inside quotes reads up to the closing quote (escapes allowed), inside
    brackets up to `]`, anywhere else one token."""
    pieces = _VARIABLE.split(log_format)
    pattern, used = ["^"], set()
    # split gives: literal, {name}, name, literal, ...
    for index in range(0, len(pieces), 3):
        literal = pieces[index]
        pattern.append(re.escape(literal).replace(r"\ ", " "))
        if index + 2 >= len(pieces):
            break
        name = pieces[index + 1] or pieces[index + 2]
        field = _VARIABLES.get(name)
        before = literal[-1:]
        body = _QUOTED if before == '"' else r"[^\]]*" if before == "[" else r"\S*"
        if field and field not in used:
            used.add(field)
            pattern.append(f"(?P<{field}>{body})")
        else:
            pattern.append(f"(?:{body})")
    if "peer" not in used:
        raise LogFormatError("an [access] log_format needs $remote_addr (the client's address)")
    if not used & {"time_clf", "time_iso"}:
        raise LogFormatError("an [access] log_format needs $time_local, $time_iso8601 or $msec")
    if not used & {"request", "target"} or "status" not in used:
        raise LogFormatError("an [access] log_format needs $request (or $request_uri) and $status")
    pattern.append(r"(?:\s.*)?$")
    return "".join(pattern)


# Error-log lines of a failed HTTP authentication: (pattern, reason). The time is local.
NGINX_ERROR = (
    r"^(?P<stamp>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[\w+\] \d+#\d+: (?:\*\d+ )?"
    r'user "(?P<user>(?:[^"\\]|\\.)*)"(?P<what>: password mismatch| was not found in "[^"]*")'
    r", client: (?P<peer>[^,\s]+),.*$"
)
APACHE_ERROR = (
    r"^\[(?P<stamp>\w{3} \w{3} \d\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] "
    r"\[(?:auth_basic:|auth_digest:)?error\] (?:\[pid [^\]]*\] )?"
    r"\[client (?P<peer>[^\]\s]+)\] (?:AH0161[78]: )?"
    r"user (?P<user>.+?)(?P<what>: authentication failure for \"[^\"]*\": Password Mismatch"
    r"| not found)(?::.*)?$"
)
_AUTH_ERRORS = (
    (NGINX_ERROR, "%Y/%m/%d %H:%M:%S", False),
    (APACHE_ERROR, "%a %b %d %H:%M:%S%.f %Y", True),  # with the client's port
)

# `Sep 15 16:13:46 host nginx[2869]: <line>`, also without the host, with an RFC 3339
# stamp, or as RFC 5424 (`<190>1 2021-09-15T16:13:46Z host nginx 2869 - - <line>`).
SYSLOG_WRAPPER = (
    r"^(?:<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ (?:-|\[.*?\]) "
    r"|(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) (?:\S+ )?"
    r"[\w./-]+(?:\[\d+\])?: )"
)


def unwrapped(raw: pl.Expr) -> pl.Expr:
    """The line without a syslog wrapper, where it has one."""
    return raw.str.replace(SYSLOG_WRAPPER, "")


# Other lines of those error logs: no login event, but no garbage either.
ERROR_LOG_LINE = (
    r"^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] |\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)"
)


def read_text(lines: pl.DataFrame, pattern: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows whose `msg` the access `pattern` reads, with `FIELDS`; the rest)."""
    found = lines.with_columns(f=pl.col("msg").str.extract_groups(pattern)).unnest("f")
    hit = found["peer"].is_not_null()
    read = found.filter(hit)
    return _fields(read, lines.columns), lines.filter(~hit)


def read_auth_errors(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(failed HTTP authentications of nginx's and Apache's error logs, with `FIELDS`,
    `reason`, `stamp` and `local` (its local time); the rest)."""
    parts, rest = [], lines
    for pattern, stamp_format, with_port in _AUTH_ERRORS:
        found = rest.with_columns(f=pl.col("msg").str.extract_groups(pattern)).unnest("f")
        hit = found["peer"].is_not_null()
        read = found.filter(hit).with_columns(
            reason=pl.when(pl.col("what").str.contains("(?i)mismatch"))
            .then(pl.lit("bad_password"))
            .otherwise(pl.lit("unknown_user")),
            local=pl.col("stamp").str.to_datetime(stamp_format, time_unit="us", strict=False),
        )
        if with_port:
            read = read.with_columns(peer=without_port(read["peer"]))
        parts.append(_fields(read, [*lines.columns, "reason", "stamp", "local"]))
        rest = rest.filter(~hit)
    return pl.concat(parts, how="diagonal_relaxed"), rest


def _address_of(value: str) -> str:
    """`1.2.3.4:5678` -> `1.2.3.4`; Apache 2.4 writes an IPv6 client and its port the same
    way (`2001:db8::1:55812`): the port goes only where an address remains."""
    import ipaddress

    head, colon, port = value.rpartition(":")
    if not colon or not port.isdigit():
        return value
    try:
        ipaddress.ip_address(head.strip("[]"))
    except ValueError:
        return value
    return head.strip("[]")


def without_port(peers: pl.Series) -> pl.Series:
    distinct = peers.drop_nulls().unique().to_list()
    return peers.replace_strict({p: _address_of(p) for p in distinct}, default=None)


def _fields(frame: pl.DataFrame, keep: list[str]) -> pl.DataFrame:
    present = set(frame.columns)
    return frame.select(
        *keep,
        *[
            pl.col(name) if name in present else pl.lit(None, pl.String).alias(name)
            for name in FIELDS
            if name not in keep
        ],
    )
