"""OpenSSH / PAM syslog lines -> login events, column-wise.

One attempt is one event. OpenSSH with PAM describes a failed password twice (a
`pam_unix ... authentication failure` line, then `Failed password` from the same
pid), and an unknown name three times (`Invalid user`, the PAM line, `Failed
password for invalid user`). The `Failed` lines are the events; a PAM or
`Invalid user` line counts only when no `Failed` line of the same connection
(host and pid, within the login grace time) follows it.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ingest.canonical import conform, empty_quarantine
from ingest.context import ParseContext, Parsed
from ingest.timestamps import local_to_utc, parse_rfc3339_or_epoch

SSHD_PROGRAMS = ("sshd", "sshd-session")
# The tag of those programs: name, then `(pam_unix)`, `[pid]` or the colon.
_SSHD_TAG = r"^(?:sshd|sshd-session)[(\[:]"
_GRACE = timedelta(seconds=300)

HEADER = (
    r"^(?:(?P<bsd>[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?))"
    r" (?P<syshost>\S+) (?P<prog>[^\s\[(:]+)(?:\((?P<sub>[^)]*)\))?(?:\[(?P<pid>\d+)\])?:(?: |$)"
    r"(?P<msg>.*)$"
)
# What may start a message we count; everything else of sshd is skipped unread.
_MESSAGE_STARTS = (
    r"(?:Failed |Accepted |Invalid user |message repeated |pam_unix\([^)]*\):\s*authentication "
    r"failure;|authentication failure;)"
)
_CANDIDATE = "^" + _MESSAGE_STARTS
# Whether a line is syslog at all: the header alone (matching on to the end costs time).
_SYSLOG = HEADER.removesuffix("(?P<msg>.*)$")
_CANDIDATE_LINE = r"sshd[^:\s]*: " + _MESSAGE_STARTS
REPEATED = r"^message repeated (?P<times>\d+) times: \[\s?(?P<inner>.*)\]$"
# The three messages we count, each matched only against messages starting its way (one
# pattern with the three as alternatives costs 1.5x: captures go through every branch).
ATTEMPT = (
    r"^(?P<verb>Failed|Accepted) (?P<method>\S+) for (?P<invalid>invalid user )?(?P<u1>.*?)"
    r" from (?P<ip1>\S+) port \d+\b"
)
INVALID_USER = r"^Invalid user (?P<u2>.*?) from (?P<ip2>\S+)(?: port \d+)?\s*$"
PAM_FAILURE = r"^(?:pam_unix\([^)]*\):\s*)?authentication failure;(?P<pam>.*)$"
_PAM_START = r"^(?:pam_unix\([^)]*\):\s*)?authentication failure;"
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_IP_LIKE = r"^[0-9A-Fa-f:.]+$"


def looks_like(line: str) -> bool:
    import re

    return re.match(HEADER, line) is not None


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    """Lines (line_no, raw) plus a few following lines for pairing -> events."""
    both = pl.concat(
        [lines.with_columns(ahead=pl.lit(False)), lookahead.with_columns(ahead=pl.lit(True))]
    )
    # Two cheap scans first; only lines that may be attempts are taken apart.
    checked = both.with_columns(
        valid=pl.col("raw").str.contains(_SYSLOG),
        candidate=pl.col("raw").str.contains(_CANDIDATE_LINE),
    )
    unparsed = checked.filter(~pl.col("valid") & ~pl.col("ahead"))
    quarantine = (
        unparsed.select("line_no", "raw", pl.lit("not a syslog line").alias("reason"))
        if unparsed.height
        else empty_quarantine()
    )
    header = _split_header(checked.filter(pl.col("valid") & pl.col("candidate")))
    ours = header.filter(pl.col("ours") & pl.col("msg").str.contains(_CANDIDATE))
    classified = _classify(ours)
    classified = classified.with_columns(ts=_timestamps(classified, context))
    counted = _pam_details(_drop_duplicates(classified))
    events = _to_events(counted.filter(~pl.col("ahead")))
    mine = lines.height - unparsed.height
    lines_as_events = counted.filter(~pl.col("ahead")).height
    return Parsed(
        events=events,
        quarantine=quarantine,
        skipped=mine - lines_as_events,
    )


def _split_header(frame: pl.DataFrame) -> pl.DataFrame:
    """Syslog header fields by slicing and one split, not capturing: a regex with groups
    costs 10x more, and splitting the whole line into lists 5x more.

    `HEADER` (matched without captures) has said the line is syslog. A BSD stamp
    (`Dec 10 06:55:46`, `Jan  1 ...`) has no colon before its time, so it ends six
    characters after its first colon; an RFC 3339 stamp is the first token. The rest is
    host, tag (`sshd[pid]:`, `sshd(pam_unix)[pid]:`) and message. Each step is its own
    column: an expression used in several places would be evaluated in each.
    """
    raw, is_bsd, end = pl.col("raw"), pl.col("is_bsd"), pl.col("stamp_end")
    return (
        frame.lazy()
        .with_columns(is_bsd=raw.str.contains(r"^[A-Z][a-z]{2} "))
        .with_columns(
            stamp_end=pl.when(is_bsd)
            .then(raw.str.find(":", literal=True) + 6)
            .otherwise(raw.str.find(" ", literal=True))
        )
        .with_columns(
            stamp=raw.str.slice(0, end),
            rest=raw.str.slice(end + 1)
            .str.splitn(" ", 3)
            .struct.rename_fields(["syshost", "tag", "msg"]),
        )
        .unnest("rest")
        .with_columns(
            bsd=pl.when(is_bsd).then(pl.col("stamp").str.replace("  ", " ", literal=True, n=1)),
            iso=pl.when(~is_bsd).then(pl.col("stamp")),
            ours=pl.col("tag").str.contains(_SSHD_TAG),
            pid=pl.col("tag").str.extract(r"\[(\d+)\]:$"),
        )
        .drop("is_bsd", "stamp_end", "stamp", "tag")
        .collect()
    )


def _unwrap_repeated(frame: pl.DataFrame) -> pl.DataFrame:
    """`message repeated N times: [msg]` -> msg, times N; every other message once."""
    msg = pl.col("msg")
    if not frame["msg"].str.starts_with("message repeated ").any():
        return frame.with_columns(times=pl.lit(1, pl.Int32))  # spares a copy of every message
    repeated = pl.when(msg.str.starts_with("message repeated ")).then(msg)
    return (
        frame.with_columns(rep=repeated.str.extract_groups(REPEATED))
        .unnest("rep")
        .with_columns(
            msg=pl.coalesce("inner", "msg"),
            times=pl.col("times").cast(pl.Int32, strict=False).fill_null(1),
        )
    )


def _classify(frame: pl.DataFrame) -> pl.DataFrame:
    """Messages -> kind (accepted, failed, invalid, pam), user and address; others dropped."""
    frame = _unwrap_repeated(frame)
    msg = pl.col("msg")
    kind = (
        pl.when(pl.col("verb") == "Accepted")
        .then(pl.lit("accepted"))
        .when((pl.col("verb") == "Failed") & (pl.col("method") != "none"))
        .then(pl.lit("failed"))
        .when(pl.col("u2").is_not_null())
        .then(pl.lit("invalid"))
        .when(pl.col("pam"))
        .then(pl.lit("pam"))
    )
    attempt = msg.str.starts_with("Failed ") | msg.str.starts_with("Accepted ")
    return (
        frame.lazy()
        .with_columns(
            a=pl.when(attempt).then(msg).str.extract_groups(ATTEMPT),
            i=pl.when(msg.str.starts_with("Invalid user "))
            .then(msg)
            .str.extract_groups(INVALID_USER),
            # Only whether it is one: most PAM lines pair with a `Failed` line and are
            # dropped, so their user and host are read later, for the ones that stay.
            pam=~attempt & msg.str.contains(_PAM_START),
        )
        .unnest("a", "i")
        .with_columns(kind=kind)
        .filter(pl.col("kind").is_not_null())
        .with_columns(user=pl.coalesce("u1", "u2"), addr=pl.coalesce("ip1", "ip2"))
        .collect()
    )


def _pam_details(frame: pl.DataFrame) -> pl.DataFrame:
    """User and remote host of the PAM lines that stand for an attempt of their own."""
    details = pl.when(pl.col("kind") == "pam").then(pl.col("msg")).str.extract_groups(PAM_FAILURE)
    pam = details.struct.field("pam")
    return frame.with_columns(
        user=pl.coalesce("user", pam.str.extract(r"\buser=(\S*)"), pl.lit("")),
        addr=pl.coalesce("addr", pam.str.extract(r"rhost=(\S*)")),
    )


def _timestamps(frame: pl.DataFrame, context: ParseContext) -> pl.Expr | pl.Series:
    if frame.height == 0:
        return pl.lit(None, pl.Datetime("us"))
    iso = parse_rfc3339_or_epoch(pl.col("iso"))
    naive_iso = pl.col("iso").str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False
    )
    bsd = _bsd_times(frame, context)
    return frame.select(
        pl.coalesce(iso, local_to_utc(naive_iso, context.tz), local_to_utc(bsd, context.tz))
    ).to_series()


def _bsd_times(frame: pl.DataFrame, context: ParseContext) -> pl.Expr:
    """`Dec 10 06:55:46` has no year: the given one (rolling over at New Year) or the mtime's."""
    month = (
        pl.col("bsd").str.slice(0, 3).replace_strict(_MONTHS, default=None, return_dtype=pl.Int32)
    )
    if context.year is not None:
        year = _rolling_year(frame, month, context)
    else:
        year = pl.lit(context.mtime.year)
    text = pl.concat_str([year.cast(pl.String), pl.col("bsd")], separator=" ")
    stamp = text.str.to_datetime("%Y %b %-d %H:%M:%S", time_unit="us", strict=False)
    if context.year is not None:
        return stamp
    # A line stamped after the file was last written belongs to the year before.
    latest = context.mtime + timedelta(days=1)
    return pl.when(stamp > latest).then(stamp.dt.offset_by("-1y")).otherwise(stamp)


def _rolling_year(frame: pl.DataFrame, month: pl.Expr, context: ParseContext) -> pl.Expr:
    months = frame.select(month.alias("m"))["m"].forward_fill()
    previous = context.state.get("last_month")
    first = previous if previous is not None else months.drop_nulls().first()
    shifted = months.shift(1, fill_value=first).forward_fill()
    drops = ((shifted - months) >= 6).fill_null(False).cast(pl.Int32)
    wraps = drops.cum_sum() + int(context.state.get("wraps", 0))
    # The lookahead is read again with the next batch: the state stops before it.
    own = frame["ahead"].not_()
    last = months.filter(own).drop_nulls()
    if len(last):
        context.state["last_month"] = int(last[-1])
        context.state["wraps"] = int(wraps.filter(own)[-1])
    return pl.lit(context.year) + pl.lit(wraps)


def _drop_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep `Failed`/`Accepted` lines; PAM and `Invalid user` lines only when unpaired."""
    keyed = frame.with_row_index("row").with_columns(pl.col("pid").cast(pl.Int64, strict=False))
    kind = pl.col("kind")
    # Only PAM and `Invalid user` lines can be duplicates: only they look for partners.
    pam_or_invalid = keyed.filter(kind.is_in(["pam", "invalid"]))
    followed = _with_partner(pam_or_invalid, keyed.filter(kind == "failed"), "forward")
    preceded = _with_partner(
        pam_or_invalid.filter(kind == "pam"), keyed.filter(kind == "invalid"), "backward"
    )
    return keyed.filter(~pl.col("row").is_in(pl.concat([followed, preceded]).implode()))


def _with_partner(frame: pl.DataFrame, partners: pl.DataFrame, strategy: str) -> pl.Series:
    """Rows of `frame` with a partner line of the same connection within the grace time."""
    left = frame.select("row", "syshost", "pid", "ts").filter(pl.col("ts").is_not_null()).sort("ts")
    right = (
        partners.select("syshost", "pid", pl.col("ts").alias("partner_ts"))
        .drop_nulls()
        .sort("partner_ts")
    )
    joined = left.join_asof(
        right,
        left_on="ts",
        right_on="partner_ts",
        by=["syshost", "pid"],
        strategy=strategy,  # type: ignore[arg-type]
        tolerance=_GRACE,
        check_sortedness=False,
    )
    return joined.filter(pl.col("partner_ts").is_not_null())["row"]


def _to_events(frame: pl.DataFrame) -> pl.DataFrame:
    is_ip = pl.col("addr").str.contains(_IP_LIKE) & pl.col("addr").str.contains(r"[.:]")
    reason = (
        pl.when(pl.col("kind") == "accepted")
        .then(None)
        .when(pl.col("invalid").is_not_null() | (pl.col("kind") == "invalid"))
        .then(pl.lit("unknown_user"))
        .when(pl.col("method").is_in(["publickey", "hostbased"]))
        .then(pl.lit("bad_key"))
        .otherwise(pl.lit("bad_password"))
    )
    if frame["times"].gt(1).any():  # `message repeated N times`: N events of one line
        expanded = frame.with_columns(seq=pl.int_ranges(0, "times", dtype=pl.Int32)).explode("seq")
    else:
        expanded = frame.with_columns(seq=pl.lit(0, pl.Int32))
    events = expanded.select(
        "line_no",
        "seq",
        "ts",
        ts_raw=pl.coalesce("bsd", "iso"),
        event=pl.lit("login"),
        outcome=pl.when(pl.col("kind") == "accepted")
        .then(pl.lit("success"))
        .otherwise(pl.lit("failure")),
        user="user",
        ip=pl.when(is_ip).then("addr"),
        host=pl.when(~is_ip & (pl.col("addr") != "")).then("addr"),
        reason=reason,
        service=pl.lit("ssh"),
        raw="raw",
    )
    return conform(events)
