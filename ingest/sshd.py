"""OpenSSH / PAM syslog lines -> login and probe events, column-wise.

Dialects: RFC 3164 (`Dec 10 06:55:46 host sshd[24]: ...`, also without the host, and the
odd `[sshd]:` tag), RFC 3339/ISO 8601 stamps with fractions and offsets (rsyslog's default,
`journalctl -o short-iso`), macOS stamps (`2020-03-23 06:47:42.801612-0700  host ...`),
RFC 5424 (`<38>1 2019-07-08T17:40:16Z host sshd 57915 - [sd] msg`) and `journalctl -o json`
lines. Each line is told apart on its own, so a file mixing them (or a file that changes
dialect as it grows) reads the same.

One attempt is one event: which messages count, and how lines of one connection (host and
pid, within the login grace time) pair, is in ingest/sshd_messages.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import polars as pl

from ingest.canonical import conform, empty_quarantine
from ingest.context import ParseContext, Parsed
from ingest.sshd_messages import FAMILIES, PREFIX, Family
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
# Whether a line is syslog at all: the header alone (matching on to the end costs time).
_SYSLOG = HEADER.removesuffix("(?P<msg>.*)$")
_STARTS = "|".join(re.escape(s) for s in dict.fromkeys(f.start for f in FAMILIES))
_MESSAGE_STARTS = PREFIX.removeprefix("^") + rf"(?:message repeated |{_STARTS})"
_CANDIDATE = "^" + _MESSAGE_STARTS
_CANDIDATE_LINE = r"sshd[^:\s]*: " + _MESSAGE_STARTS
REPEATED = r"^message repeated (?P<times>\d+) times: \[\s?(?P<inner>.*)\]$"
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_IP_LIKE = r"^[0-9A-Fa-f:.]+$"

# Other dialects, rewritten into the RFC 3164/3339 shape the header split reads.
_RFC5424 = (
    r"^<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) \S+ "
    r"(?:-|(?:\[(?:[^\]\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+) ?(.*)$"
)
_MACOS = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?)\s+(\S+) (.*)$"
_NO_HOST = (
    r"^([A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}) "
    r"(?:\[(sshd)\]:?|((?:sshd|sshd-session)(?:\[\d+\])?):)"
)
# BusyBox syslogd writes the facility and level between host and tag.
_BUSYBOX = (
    r"^([A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d \S+) [a-z0-9]+\.[a-z]+ "
    r"((?:sshd|sshd-session)[\[(:])"
)
# sshd's own output stamped by a supervisor (runit's svlogd, s6, socklog): a stamp, maybe
# `facility.level:`, then sshd's message, no tag. Read only for messages sshd writes.
_TAGLESS = (
    r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+"
    rf"(?:[a-z0-9]+\.[a-z]+: )?({_MESSAGE_STARTS}.*)$"
)
# A journal export's `host sshd[pid]: msg`, with no stamp at all.
_BARE = r"^([^\s<{\[]+) ((?:sshd|sshd-session)(?:\[\d+\])?: .*)$"


def looks_like(line: str) -> bool:
    text = _normalise_one(line)
    return re.match(HEADER, text) is not None


def _normalise_one(line: str) -> str:
    """One line as `_normalise` rewrites it (for format detection)."""
    frame = _normalise(pl.DataFrame({"raw": [line]}, schema={"raw": pl.String}))
    return str(frame["text"][0])


_ODD = (
    r"^(?:<|\{|\d{4}-\d\d-\d\d |\d{4}-\d\d-\d\dT\S+ (?:[a-z0-9]+\.[a-z]+: )?"
    rf"(?:{_MESSAGE_STARTS})"
    r"|[A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d "
    r"(?:\[sshd\]|sshd)[\[: -]|[^\s<{\[]+ sshd(?:-session)?\[\d+\]: "
    r"|[A-Z][a-z]{2}\s+\d{1,2} \d\d:\d\d:\d\d \S+ [a-z0-9]+\.[a-z]+ sshd)"
)


def _normalise(frame: pl.DataFrame, undated: str = "1970-01-01T00:00:00Z") -> pl.DataFrame:
    """`text`: the line in the RFC 3164/3339 shape. Most lines already are: one anchored
    scan finds the others, and only they are rewritten. Lines without any stamp (a journal
    export's `host sshd[pid]: msg`) get `undated`: the file's modification time."""
    odd = frame["raw"].str.contains(_ODD)
    if not odd.any():
        return frame.with_columns(text=pl.col("raw"))
    raw = pl.col("raw")
    text = (
        pl.when(raw.str.starts_with("<"))
        .then(raw.str.replace(_RFC5424, "${1} ${2} ${3}[${4}]: ${5}"))
        .when(raw.str.starts_with("{"))
        .then(_journal_json(pl.lit(_journal_text(frame["raw"]))))
        .when(raw.str.contains(_TAGLESS))
        .then(raw.str.replace(_TAGLESS, "${1}T${2} - sshd: ${3}"))
        .when(raw.str.contains(r"^\d{4}-\d\d-\d\d "))
        .then(raw.str.replace(_MACOS, "${1}T${2} ${3} ${4}"))
        .when(raw.str.contains(_BARE))
        .then(raw.str.replace(_BARE, f"{undated} ${{1}} ${{2}}"))
        .when(raw.str.contains(_BUSYBOX))
        .then(raw.str.replace(_BUSYBOX, "${1} ${2}"))
        .otherwise(raw.str.replace(_NO_HOST, "${1} - ${2}${3}:"))
    )
    return (
        frame.with_columns(odd=odd)
        .with_columns(text=pl.when("odd").then(text).otherwise(raw))
        .drop("odd")
    )


def _journal_text(raw: pl.Series) -> pl.Series:
    """journald writes a message that is not UTF-8 (a user name of raw bytes, say) as an
    array of its bytes: such lines (few) get the message as text, bad bytes replaced, so a
    client cannot hide its failures by the bytes of its name."""
    binary = raw.str.contains(r'"MESSAGE"\s*:\s*\[').fill_null(False)
    if not binary.any():
        return raw
    fixed = {}
    for line in raw.filter(binary).unique().to_list():
        try:
            record = orjson.loads(line)
            record["MESSAGE"] = bytes(record["MESSAGE"]).decode("utf-8", errors="replace")
            fixed[line] = orjson.dumps(record).decode()
        except (orjson.JSONDecodeError, TypeError, ValueError):
            continue
    return raw.replace(fixed)


_NOT_JOURNAL = "a journal JSON line needs a numeric __REALTIME_TIMESTAMP and a MESSAGE string"


def _journal_json(raw: pl.Expr) -> pl.Expr:
    """`journalctl -o json`: stamp (microseconds), host, identifier[pid]: message."""
    field = raw.str.json_path_match
    micros = field("$.__REALTIME_TIMESTAMP").cast(pl.Int64, strict=False)
    stamp = pl.from_epoch(micros, time_unit="us").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    pid = pl.coalesce(field("$.SYSLOG_PID"), field("$._PID"))
    program = pl.coalesce(field("$.SYSLOG_IDENTIFIER"), field("$._COMM"))
    # Another program's message that is no string (binary: an array of bytes) is skipped
    # like its others; sshd's is quarantined.
    ours = program.is_in(SSHD_PROGRAMS).fill_null(True)
    message = pl.when(ours).then(field("$.MESSAGE")).otherwise(field("$.MESSAGE").fill_null(""))
    tag = pl.coalesce(pl.format("{}[{}]", program, pid), program, pl.lit("-"))
    return pl.format("{} {} {}: {}", stamp, field("$._HOSTNAME").fill_null("-"), tag, message)


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    """Lines (line_no, raw) plus a few following lines for pairing -> events."""
    both = pl.concat(
        [lines.with_columns(ahead=pl.lit(False)), lookahead.with_columns(ahead=pl.lit(True))]
    ).with_row_index("row")
    both = _normalise(both, context.mtime.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Two cheap scans first; only lines that may be attempts are taken apart.
    checked = both.with_columns(
        valid=pl.col("text").str.contains(_SYSLOG).fill_null(False),
        candidate=pl.col("text").str.contains(_CANDIDATE_LINE),
    )
    unparsed = checked.filter(~pl.col("valid") & ~pl.col("ahead"))
    quarantine = (
        unparsed.select(
            "line_no",
            "raw",
            reason=pl.when(pl.col("raw").str.starts_with("{"))
            .then(pl.lit(_NOT_JOURNAL))
            .otherwise(pl.lit("not a syslog line")),
        )
        if unparsed.height
        else empty_quarantine()
    )
    header = _split_header(checked.filter(pl.col("valid") & pl.col("candidate")))
    ours = header.filter(pl.col("ours") & pl.col("msg").str.contains(_CANDIDATE))
    # Messages are read on their own (a narrow frame is cheaper to filter), then put back
    # in file order with their lines: for the year rollover and for pairing.
    read = _classify(ours.select("row", "msg")).sort("row")
    classified = read.join(
        ours.select("row", "line_no", "raw", "ahead", "syshost", "pid", "bsd", "iso"), on="row"
    ).rename({"u": "user", "ip": "addr"})
    classified = classified.with_columns(
        ts=_timestamps(classified, context), pid=pl.col("pid").cast(pl.Int64, strict=False)
    )
    # `message repeated N times` is written by syslog, but anyone can write such a line
    # (`logger -t 'sshd[1]'`): a count no syslog daemon reaches is held, not multiplied.
    implausible = (pl.col("times") > _MOST_REPEATS) & ~pl.col("ahead")
    if classified.select(implausible.any()).item():
        held = classified.filter(implausible).select(
            "line_no", "raw", reason=pl.format("message repeated {} times: implausible", "times")
        )
        quarantine = pl.concat([quarantine, held])
        classified = classified.filter(~implausible)
    every = _with_earlier(classified, context)
    counted = _pair(every).filter(~pl.col("ahead") & (pl.col("role") != "carrier"))
    # PAM's user and host only for the PAM lines that stand for an attempt (few do).
    counted = _lent_addresses(_pam_details(counted), every)
    kept = counted.filter(pl.col("addr").is_not_null() & (pl.col("addr") != ""))
    events = _to_events(kept)
    mine = lines.height - quarantine.height
    return Parsed(events=events, quarantine=quarantine, skipped=mine - kept.height)


# The last lines of each connection still within the grace time at a batch's end: the next
# batch pairs with them and borrows their address (a closing summary in the next batch is
# that connection's end, not an attempt). Kept in the parser's state, with the source.
_RECENT = "recent_lines"
_CARRIED = ("syshost", "pid", "ts", "role", "family", "user", "addr", "method", "invalid")
CARRIED_STATE, CARRIED_USER = _RECENT, _CARRIED.index("user")  # for erasure
_PER_CONNECTION = 2
_MOST_CARRIED = 20_000  # lines: a bounded state however busy the server
_MOST_REPEATS = 10_000


def _with_earlier(frame: pl.DataFrame, context: ParseContext) -> pl.DataFrame:
    """`frame` with the earlier batches' recent lines before it (rows below 0, `ahead`: they
    give no event), and the state updated to this batch's recent lines."""
    carried = context.state.get(_RECENT) or []
    schema = {**dict.fromkeys(_CARRIED, pl.String), "pid": pl.Int64}
    earlier = pl.DataFrame(carried, schema=schema, orient="row").with_columns(
        pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us"),
        row=pl.int_range(-len(carried), 0, dtype=pl.Int64),
        ahead=pl.lit(True),
    )
    frame = frame.with_columns(pl.col("row").cast(pl.Int64))
    own = frame.filter(~pl.col("ahead")).select(earlier.columns)
    context.state[_RECENT] = _recent_rows(pl.concat([earlier, own], how="vertical_relaxed"))
    every = pl.concat([earlier, frame], how="diagonal_relaxed") if carried else frame
    # One key for a connection (host and pid) joins faster than the two. Dialects without
    # a pid (svlogd, `[sshd]:`) key a connection by its source instead: the lines of one
    # attempt still pair, though two connections of one address at once look like one.
    by_pid = pl.struct("syshost", "pid").hash()
    if every["pid"].is_not_null().all():
        return every.with_columns(conn=by_pid)
    by_source = pl.struct("syshost", "addr").hash(seed=1)
    return every.with_columns(
        conn=pl.when(pl.col("pid").is_not_null())
        .then(by_pid)
        .when(pl.col("addr").is_not_null())
        .then(by_source)
    )


def _recent_rows(rows: pl.DataFrame) -> list[list[str | int | None]]:
    """The last lines of each connection within the grace time of the batch's last line
    (by the file's order: a clock that steps back must not lose the open connections)."""
    stamped = rows.filter(pl.col("ts").is_not_null())
    if stamped.height == 0:
        return []
    last = stamped.sort("row")["ts"][-1]
    kept = (
        stamped.filter((pl.col("ts") - last).abs() <= _GRACE)
        .sort("row")
        .group_by("syshost", "pid", maintain_order=True)
        .tail(_PER_CONNECTION)
        .sort("row")
        .tail(_MOST_CARRIED)
        .with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
    )
    return [list(r) for r in kept.select(_CARRIED).iter_rows()]


def _split_header(frame: pl.DataFrame) -> pl.DataFrame:
    """Syslog header fields by slicing and one split, not capturing: a regex with groups
    costs 10x more, and splitting the whole line into lists 5x more.

    `HEADER` (matched without captures) has said the line is syslog. A BSD stamp
    (`Dec 10 06:55:46`, `Jan  1 ...`) has no colon before its time, so it ends six
    characters after its first colon; an RFC 3339 stamp is the first token. The rest is
    host, tag (`sshd[pid]:`, `sshd(pam_unix)[pid]:`) and message. Each step is its own
    column: an expression used in several places would be evaluated in each.
    """
    text, is_bsd, end = pl.col("text"), pl.col("is_bsd"), pl.col("stamp_end")
    return (
        frame.lazy()
        .with_columns(is_bsd=text.str.contains(r"^[A-Z][a-z]{2} "))
        .with_columns(
            stamp_end=pl.when(is_bsd)
            .then(text.str.find(":", literal=True) + 6)
            .otherwise(text.str.find(" ", literal=True))
        )
        .with_columns(
            stamp=text.str.slice(0, end),
            rest=text.str.slice(end + 1)
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
        .drop("is_bsd", "stamp_end", "stamp", "tag", "text")
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
        .drop("inner")
    )


def _strip_prefixes(frame: pl.DataFrame) -> pl.DataFrame:
    """`error: `, `fatal: ` and Solaris' `[ID 800047 auth.info] ` off the message."""
    prefixed = frame["msg"].str.contains(r"^(?:\[ID |kernel:|error: |fatal: )")
    if not prefixed.any():
        return frame
    return frame.with_columns(msg=pl.col("msg").str.replace(PREFIX, ""))


def _classify(frame: pl.DataFrame) -> pl.DataFrame:
    """Messages -> family, role, user, address, method; others dropped."""
    found = _read(_strip_prefixes(_unwrap_repeated(frame)))
    role = pl.col("family").replace_strict({f.name: f.role for f in FAMILIES}, default=None)
    # `Failed none` asks which methods there are: an attempt only if nothing else follows.
    return found.with_columns(
        role=pl.when((pl.col("family") == "attempt") & (pl.col("method") == "none"))
        .then(pl.lit("forward"))
        .otherwise(role)
    )


_FIELDS = ("u", "ip", "invalid", "method")
# Messages are grouped by their first characters, which tell the families' starts apart
# well enough (slicing costs a tenth of matching the starts).
_KEY_CHARS = 3
_BY_KEY: dict[str, list[Family]] = {}
for _family in FAMILIES:
    _BY_KEY.setdefault(_family.start[:_KEY_CHARS], []).append(_family)


def _read(frame: pl.DataFrame) -> pl.DataFrame:
    """Each message's family (the first that reads it) and its fields. Messages are
    grouped by how they start, once, and each group is read only with its families'
    patterns (each anchored at its start): a few regexes per message, not one per family."""
    keyed = frame.with_columns(start=pl.col("msg").str.slice(0, _KEY_CHARS))
    parts = []
    for (start,), part in keyed.partition_by("start", as_dict=True).items():
        rest = part
        for family in _BY_KEY.get(start, ()):
            read, rest = _read_family(rest, family)
            parts.append(read)
            if rest.height == 0:
                break
    if not parts:
        return frame.with_columns(
            family=pl.lit(None, pl.String), **dict.fromkeys(_FIELDS, pl.lit(None, pl.String))
        ).clear()
    return pl.concat(parts, how="diagonal_relaxed").drop("start")


# What sshd writes after an attempt's source: port, listening address, protocol, and for
# keys the `: <type> <fingerprint>[, client user "u", client host "h"]` (or ssh1's `: ruser
# u`) tail, which may hold text the client chose.
_SOURCE_ON = r"[^\s\[]\S*(?: port \d+)?(?: on \S+(?: port \d+)?)?(?: ssh\d?)?"
_TAIL = rf"^{_SOURCE_ON}(?: \[preauth\])?$"
_FAST = {"attempt", "accepted", "invalid_user"}


def _source_first(family: Family) -> bool:
    """Whether the family's one field is the source, right after its start."""
    groups = set(re.compile(family.pattern).groupindex)
    return groups == {"ip"} and family.pattern.startswith(f"^{family.start}(?P<ip>")


_SOURCE_FIRST = {f.name for f in FAMILIES if _source_first(f)}


def _read_family(part: pl.DataFrame, family: Family) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the rows `family` reads, with its fields; the others). Capturing groups cost six
    times a match: where the fields can be sliced out of a matching message, they are."""
    if family.name in _FAST:
        return _read_from(part, family)
    groups = re.compile(family.pattern).groupindex
    if not groups or family.name in _SOURCE_FIRST:
        matches = part["msg"].str.contains(family.pattern)
        read = part.filter(matches).with_columns(**dict.fromkeys(_FIELDS, pl.lit(None, pl.String)))
        if groups:  # the first word after the start, without the `:` of `1.2.3.4: 11: ...`
            after = pl.col("msg").str.slice(len(family.start)).str.splitn(" ", 2)
            read = read.with_columns(ip=after.struct.field("field_0").str.strip_suffix(":"))
        return read.with_columns(family=pl.lit(family.name)), part.filter(~matches)
    fields = part.with_columns(found=pl.col("msg").str.extract_groups(family.pattern)).unnest(
        "found"
    )
    present = "u" if "u" in groups else "ip"  # a group every match sets
    hit = pl.col(present).is_not_null()
    read = fields.filter(hit).with_columns(
        family=pl.lit(family.name),
        **{name: pl.lit(None, pl.String) for name in _FIELDS if name not in groups},
    )
    return read.select(*part.columns, "family", *_FIELDS), part.filter(
        ~fields[present].is_not_null()
    )


# The usual shape of the busy families, every field one word: read by splitting at spaces.
# A name with a space (or an injected `from ...`) does not have it and takes the long way.
_PLAIN = {
    "attempt": r"^Failed \S+ for (?:invalid user )?\S+ from \S+ port \d+ ssh2$",
    "accepted": r"^Accepted \S+ for \S+ from \S+ port \d+ ssh2(?:: \S+ \S+)?$",
    "invalid_user": r"^Invalid user \S+ from \S+ port \d+$",
}


def _read_plain(part: pl.DataFrame, family: Family) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the rows of `family`'s usual shape, with their fields; the others)."""
    plain = part["msg"].str.contains(_PLAIN[family.name])
    if not plain.any():
        return part.head(0), part
    words = pl.col("words")
    read = part.filter(plain).with_columns(words=pl.col("msg").str.split(" "))
    if family.name == "invalid_user":
        fields = {"u": words.list.get(2), "ip": words.list.get(4), "method": pl.lit(None)}
        fields["invalid"] = pl.lit(None, pl.String)
    else:
        unknown = words.list.len() == 11 if family.name == "attempt" else pl.lit(False)
        skip = pl.when(unknown).then(2).otherwise(0)
        fields = {"u": words.list.get(skip + 3), "ip": words.list.get(skip + 5)}
        fields["method"] = words.list.get(1)
        fields["invalid"] = pl.when(unknown).then(pl.lit("invalid user "))
    read = read.with_columns(**fields, family=pl.lit(family.name)).with_columns(
        pl.col(name).cast(pl.String) for name in _FIELDS
    )
    return read.select(*part.columns, "family", *_FIELDS), part.filter(~plain)


def _read_from(part: pl.DataFrame, family: Family) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The busy families (`Failed|Accepted <method> for [invalid user ]U from H ...`,
    `Invalid user U from H ...`) by replacing and slicing, not capturing (a regex with
    groups costs several times as much). Each step is a column of its own, eagerly: an
    expression used twice is evaluated twice."""
    plain, part = _read_plain(part, family)
    if part.height == 0:
        return plain, part
    col = pl.col
    steps = part.with_columns(tail=_source_tail(part, family))
    cut = col("msg").str.len_chars() - col("tail").str.len_chars() - 6
    steps = steps.with_columns(
        head=pl.when(col("tail").is_not_null()).then(col("msg").str.slice(0, cut))
    )
    if family.name == "invalid_user":
        steps = steps.with_columns(
            method=pl.lit(None, pl.String), body=col("head").str.strip_prefix("Invalid user ")
        )
    else:
        steps = steps.with_columns(words=col("head").str.splitn(" for ", 2)).with_columns(
            method=col("words").struct.field("field_0").str.splitn(" ", 2).struct.field("field_1"),
            body=col("words").struct.field("field_1"),
        )
    unknown = col("body").str.starts_with("invalid user ") & (family.name == "attempt")
    needs_method = col("method").is_not_null() if family.name != "invalid_user" else True
    fields = steps.with_columns(unknown=unknown).with_columns(
        u=pl.when("unknown").then(col("body").str.strip_prefix("invalid user ")).otherwise("body"),
        ip=col("tail").str.splitn(" ", 2).struct.field("field_0").str.strip_suffix(":"),
        invalid=pl.when("unknown").then(pl.lit("invalid user ")),
        ok=(
            col("tail").is_not_null()
            & col("head").str.starts_with(family.start)
            & col("body").is_not_null()
            & needs_method
        ).fill_null(False),
    )
    hit = fields["ok"]
    read = fields.filter(hit).with_columns(family=pl.lit(family.name))
    read = read.select(*part.columns, "family", *_FIELDS)
    return (pl.concat([plain, read]) if plain.height else read), part.filter(~hit)


def _source_tail(part: pl.DataFrame, family: Family) -> pl.Series:
    """The message from its source on, or null.

    The name before the source is the client's text; so is what follows a key's `: `
    (hostbased's `client user "..."`, ssh1's `ruser`). OpenSSH cuts a user name at its
    first `:` (auth2.c, the BSD auth style), so the first `: ` of a message is sshd's own:
    the source is after the last ` from ` before it, followed only by what sshd writes
    there (port, listen address, protocol). A name holding `from 10.0.0.1 port 1 ssh2`
    comes before the real ` from ` and cannot move it."""
    col = pl.col
    split = col("msg").str.splitn(": ", 2)
    steps = part.select(head=split.struct.field("field_0"), rest=split.struct.field("field_1"))
    steps = steps.with_columns(after=col("head").str.replace(r"^.* from ", ""))
    fits = (col("after") != col("head")) & col("after").str.contains(_TAIL)
    info = pl.when(col("rest").is_not_null()).then(pl.lit(": ") + col("rest")).otherwise(pl.lit(""))
    return steps.select(tail=pl.when(fits).then(col("after") + info)).to_series()


def _pam_user(msg: pl.Expr) -> pl.Expr:
    """`... ruser=R rhost=H  user=U`: the name typed by the client comes last; without
    `user=`, the name it gave stands in `ruser=` (if anywhere)."""
    tail = msg.str.splitn("  user=", 2).struct.field("field_1")
    return pl.coalesce(tail, msg.str.extract(r"\buser=(\S+)"), msg.str.extract(r"\bruser=(\S+)"))


def _pam_host(msg: pl.Expr) -> pl.Expr:
    """The last `rhost=` before the first `  user=` (a name holding `rhost=` cannot move it;
    neither can an `ruser` holding one, it comes before)."""
    head = msg.str.splitn("  user=", 2).struct.field("field_0")
    return pl.coalesce(head.str.extract(r"rhost=(\S*)\s*$"), msg.str.extract(r"rhost=(\S*)"))


def _pam_details(frame: pl.DataFrame) -> pl.DataFrame:
    """User and remote host of the PAM lines; every user at least ``."""
    is_pam = pl.col("family").is_in(_PAM_LINES)
    if not frame["family"].is_in(_PAM_LINES).any():
        return frame.with_columns(pl.col("user").fill_null(""))
    pam = pl.when(is_pam).then(pl.col("msg"))
    return frame.with_columns(
        user=pl.coalesce("user", _pam_user(pam)).fill_null(""),
        addr=pl.coalesce("addr", _pam_host(pam)),
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


_IDENTITY = ("invalid_user", "not_allowed", "not_allowed_here", "root_refused")
_PAM_LINES = ("pam", "pam_bare")
_REFUSALS = ("not_allowed", "not_allowed_here", "root_refused")
_PAM_LIKE = ("pam", "pam_bare", "pam_error", "pam_unknown")


def _pair(frame: pl.DataFrame) -> pl.DataFrame:
    """The lines that stand for an attempt of their own (see ingest/sshd_messages.py)."""
    keyed = frame
    role, family = pl.col("role"), pl.col("family")
    same = _same_attempt(keyed.filter(role == "forward"), _attempts(keyed))
    logins = keyed.filter(role.is_in(["failed", "accepted", "forward", "backward"]))
    identity = keyed.filter(family.is_in(_IDENTITY))
    accepted = keyed.filter(role == "accepted")
    forward = keyed.filter(role == "forward")
    drop = [
        # A forward line whose attempt the connection logs next.
        same["row"],
        # PAM's and the like after an `Invalid user` (or refusal) of the same attempt.
        _partnered(forward.filter(~family.is_in(_IDENTITY)), identity, "backward")["row"],
        # A connection's closing summary, or its end, after anything else of it.
        _partnered(keyed.filter(role.is_in(["backward", "probe_alone"])), logins, "backward")[
            "row"
        ],
        # Keys offered in turn before one (or a password) is accepted.
        _partnered(
            keyed.filter((role == "failed") & pl.col("method").is_in(["publickey", "hostbased"])),
            accepted,
            "forward",
        )["row"],
    ]
    # A refusal (`not allowed`, `ROOT LOGIN REFUSED`) says why the attempt after it failed
    # better than its `invalid user`.
    refused = (
        same.filter(family.is_in(_REFUSALS))
        .select(row="partner", refused=family)
        .unique("row", keep="first")
    )
    kept = keyed.filter(~pl.col("row").is_in(pl.concat(drop).implode()))
    if refused.height == 0:
        return kept.with_columns(refused=pl.lit(None, pl.String))
    return kept.join(refused, on="row", how="left")


def _attempts(frame: pl.DataFrame) -> pl.DataFrame:
    # A refused change of user is an attempt of its own, not the end of the one before.
    role, family = pl.col("role"), pl.col("family")
    return frame.filter(role.is_in(["failed", "accepted"]) & (family != "user_change"))


def _same_attempt(forward: pl.DataFrame, attempts: pl.DataFrame) -> pl.DataFrame:
    """Forward lines whose attempt the connection logs next (row, partner, family). A PAM
    failure before a success is the same attempt only for the same name (stacked PAM
    modules), not when another name then logs in (an intruder "forgetting" failures)."""
    found = _partnered(forward, attempts, "forward", extra=("msg",), partner_extra=("role", "user"))
    # A PAM failure before a success is the same attempt only for the same name: only those
    # few PAM lines have their user read here.
    before_success = pl.col("family").is_in(_PAM_LIKE) & (pl.col("partner_role") == "accepted")
    doubtful = found.filter(before_success)
    if doubtful.height == 0:
        return found
    pam_user = pl.when(pl.col("family").is_in(_PAM_LINES)).then(_pam_user(pl.col("msg")))
    user = pl.coalesce("user", pam_user)
    other_name = doubtful.filter((user != pl.col("partner_user")) & (user != ""))["row"]
    return found.filter(~pl.col("row").is_in(other_name.implode()))


def _partnered(
    frame: pl.DataFrame,
    partners: pl.DataFrame,
    direction: str,
    extra: tuple[str, ...] = (),
    partner_extra: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Rows of `frame` with a partner line of the same connection next to them in the file
    (after them, or before), within the grace time: row, family, user, the partner's row
    and time, and `extra` / `partner_extra` (as `partner_<name>`) where asked for."""
    left = frame.select("row", "conn", "ts", "family", "user", *extra).drop_nulls("conn")
    right = partners.select(
        "conn", partner="row", partner_ts="ts", **{f"partner_{c}": c for c in partner_extra}
    ).drop_nulls("conn")
    if left.height == 0 or right.height == 0:
        return left.head(0).with_columns(
            partner=pl.lit(None, pl.Int64),
            **{f"partner_{c}": pl.lit(None, pl.String) for c in partner_extra},
        )
    joined = left.sort("row").join_asof(
        right.sort("partner"),
        left_on="row",
        right_on="partner",
        by="conn",
        strategy=direction,  # type: ignore[arg-type]
        allow_exact_matches=False,
        check_sortedness=False,
    )
    near = (pl.col("partner_ts") - pl.col("ts")).abs() <= _GRACE
    return joined.filter(pl.col("partner").is_not_null() & near.fill_null(True))


def _lent_addresses(frame: pl.DataFrame, every: pl.DataFrame) -> pl.DataFrame:
    """Attempts whose line names no address take the one of the nearest line of their
    connection (same host and pid, within the grace time) among `every` line that does."""
    missing = frame["addr"].is_null() & frame["role"].is_in(["forward", "backward"])
    if not missing.any():
        return frame
    lenders = every.filter(pl.col("addr").is_not_null() & pl.col("conn").is_not_null()).select(
        "conn", lender="row", lent="addr", lender_ts="ts"
    )
    asking = frame.filter(missing).select("row", "conn", "ts").drop_nulls("conn")
    if asking.height == 0 or lenders.height == 0:
        return frame
    found = (
        asking.sort("row")
        .join_asof(
            lenders.sort("lender"), left_on="row", right_on="lender", by="conn",
            strategy="nearest", check_sortedness=False,
        )
        .filter((pl.col("lender_ts") - pl.col("ts")).abs() <= _GRACE)
        .select("row", "lent")
    )  # fmt: skip
    return (
        frame.join(found, on="row", how="left")
        .with_columns(addr=pl.coalesce("addr", "lent"))
        .drop("lent")
    )


def _reason() -> pl.Expr:
    family, invalid, method = pl.col("family"), pl.col("invalid"), pl.col("method")
    unknown = invalid.is_in(["invalid user ", "illegal user ", "invalid"]).fill_null(False)
    reasons = {f.name: f.reason for f in FAMILIES}
    base = family.replace_strict(reasons, default=None)
    return (
        pl.when(pl.col("role") == "accepted")
        .then(None)
        .when(pl.col("refused").is_not_null())
        .then(pl.col("refused").replace_strict(reasons, default=None))
        .when(unknown)
        .then(pl.lit("unknown_user"))
        .when((family == "attempt") & method.is_in(["publickey", "hostbased"]))
        .then(pl.lit("bad_key"))
        .otherwise(base)
    )


def _to_events(frame: pl.DataFrame) -> pl.DataFrame:
    # An IPv6 address with its zone (`fe80::1%eth0`) is the address.
    addr = pl.col("addr")
    if frame["addr"].str.contains("%", literal=True).any():
        addr = addr.str.replace(r"^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)%[\w.-]+$", "${1}")
    is_ip = addr.str.contains(_IP_LIKE) & addr.str.contains(r"[.:]")
    probe = pl.col("role").is_in(["probe", "probe_alone"])
    if frame["times"].gt(1).any():  # `message repeated N times`: N events of one line
        expanded = frame.with_columns(seq=pl.int_ranges(0, "times", dtype=pl.Int32)).explode("seq")
    else:
        expanded = frame.with_columns(seq=pl.lit(0, pl.Int32))
    events = expanded.select(
        "line_no",
        "seq",
        "ts",
        ts_raw=pl.coalesce("bsd", "iso"),
        event=pl.when(probe).then(pl.lit("probe")).otherwise(pl.lit("login")),
        outcome=pl.when(probe)
        .then(None)
        .when(pl.col("role") == "accepted")
        .then(pl.lit("success"))
        .otherwise(pl.lit("failure")),
        user=pl.when(pl.col("family") == "root_refused").then(pl.lit("root")).otherwise("user"),
        ip=pl.when(is_ip).then(addr),
        host=pl.when(~is_ip).then(addr),
        reason=_reason(),
        service=pl.lit("ssh"),
        raw="raw",
    )
    return conform(events)
