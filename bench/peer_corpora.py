"""vahti's sshd parser on peer projects' annotated test logs: how many of the lines they
count as failed logins become failure events from the right source, and whether any line
they count as no failure becomes one.

The corpus is fail2ban's sample logs (`fail2ban/tests/files/logs/sshd`, `sshd-journal`),
read where a fail2ban installation keeps them (Debian's package, or pip's) and never
copied into this repository. Each log line follows a `# failJSON: {...}` comment saying
whether fail2ban's filter must match it and from which host. Only fail2ban's normal mode
counts: blocks for its `aggressive`, `ddos` and `extra` modes, and lines whose constraint
holds only in another mode, are left out.

    python -m bench.peer_corpora [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from ingest import sshd
from ingest.context import ParseContext
from ingest.normalise import validate

_ANNOTATION = re.compile(r"^#+ ?(failJSON|fileOptions|filterOptions|addFILE):(.+)$")
CORPUS_FILES = ("sshd", "sshd-journal")


def fail2ban_logs() -> Path | None:
    """The folder of fail2ban's sample logs, wherever fail2ban is installed."""
    try:
        import fail2ban
    except ImportError:
        candidates = [Path("/usr/lib/python3/dist-packages/fail2ban")]
    else:
        candidates = [Path(fail2ban.__file__).parent]
    for root in candidates:
        logs = root / "tests" / "files" / "logs"
        if (logs / "sshd").exists():
            return logs
    return None


@dataclass
class Annotated:
    line: str
    match: bool
    host: str | None
    desc: str = ""


def _normal_mode(options: Any, common: dict[str, Any]) -> dict[str, Any] | None:
    """The option set of a `filterOptions` list that is fail2ban's normal mode, if any."""
    for entry in options if isinstance(options, list) else [options]:
        opts = {**common, **entry}
        if opts.get("mode", "normal") == "normal":
            condition = opts.get("test.condition")
            if condition and not eval(condition, {}, {"name": "sshd"}):
                continue
            return opts
    return None


def annotated_lines(path: Path) -> list[Annotated]:
    """The lines fail2ban checks in normal mode, with what it expects of each."""
    found: list[Annotated] = []
    common: dict[str, Any] = {}
    opts: dict[str, Any] | None = {}
    pending: dict[str, Any] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        hit = _ANNOTATION.match(line)
        if hit:
            kind, data = hit.group(1), json.loads(hit.group(2))
            if kind == "fileOptions":
                common = data
            elif kind == "filterOptions":
                opts = _normal_mode(data, common)
            elif kind == "failJSON":
                pending = data
            continue
        if line.startswith("#") or not line.strip() or pending is None:
            continue
        note, pending = pending, None
        if opts is None:
            continue
        constraint = note.get("constraint")
        scope = {"name": "sshd", "opts": opts}
        if constraint and not eval(constraint, {}, scope):
            continue
        found.append(
            Annotated(line, bool(note.get("match")), note.get("host"), note.get("desc", ""))
        )
    return found


def journal_prefix(path: Path) -> bool:
    """`sshd-journal` lines are `host sshd[pid]: message`, as fail2ban's journal backend
    sees them."""
    return "journal" in path.name


@dataclass
class Score:
    name: str
    failures: int = 0  # lines annotated as failed logins
    caught: int = 0  # ... that became a failure event from the annotated source
    clean: int = 0  # lines annotated as no failure
    false: int = 0  # ... that became a failure event
    misses: list[str] = field(default_factory=list)
    false_lines: list[str] = field(default_factory=list)


def score(name: str, lines: list[Annotated]) -> Score:
    """Counted per connection: fail2ban and vahti may count an attempt on different lines
    of it (fail2ban at the `Disconnecting` or `Accepted` line that settles a multi-line
    match, vahti on the `Failed` line), so each connection's annotated failures are set
    beside vahti's failure events of that connection from the annotated source."""
    frame = pl.DataFrame(
        {"line_no": range(1, len(lines) + 1), "raw": [a.line for a in lines]},
        schema={"line_no": pl.Int64, "raw": pl.String},
    )
    context = ParseContext(format="sshd", mtime=datetime(2026, 1, 1), year=2025)
    parsed = sshd.parse(frame, frame.head(0), context)
    events, _ = validate(parsed.events)
    failures = events.filter(pl.col("event") == "login", pl.col("outcome") == "failure")
    by_line: dict[int, list[str]] = {}
    for line_no, source in failures.select("line_no", pl.coalesce("ip", "host")).iter_rows():
        by_line.setdefault(line_no, []).append(source)
    result = Score(name)
    for connection in _connections(lines):
        _score_connection(result, [(n, lines[n - 1]) for n in connection], by_line)
    return result


def _connections(lines: list[Annotated]) -> list[list[int]]:
    """Line numbers grouped into connections: runs of lines of one sshd pid."""
    groups: list[list[int]] = []
    last: str | None = None
    for number, note in enumerate(lines, start=1):
        pid = _pid(note.line)
        if groups and pid is not None and pid == last:
            groups[-1].append(number)
        else:
            groups.append([number])
        last = pid
    return groups


def _score_connection(
    result: Score, notes: list[tuple[int, Annotated]], by_line: dict[int, list[str]]
) -> None:
    expected = [note for _, note in notes if note.match]
    hosts = {note.host for note in expected if note.host is not None}
    got = [source for number, _ in notes for source in by_line.get(number, [])]
    shown = " | ".join(note.line for _, note in notes)
    result.clean += sum(1 for _, note in notes if not note.match)
    if not expected:
        if got:
            result.false += len(got)
            result.false_lines.append(f"{got}: {shown}")
        return
    right = [s for s in got if not hosts or any(_same_source(h, {s}) for h in hosts)]
    result.failures += len(expected)
    result.caught += min(len(expected), len(right))
    if len(right) < len(expected):
        result.misses.append(f"{len(right)}/{len(expected)} from {sorted(hosts)}: {shown}")


def _pid(line: str) -> str | None:
    hit = re.search(r"sshd(?:-session)?\[(\d+)\]", line)
    return hit.group(1) if hit else None


def _same_source(expected: str, got: set[str]) -> bool:
    """fail2ban and vahti both keep an address as the log wrote it; an IPv4-mapped IPv6
    address (`::ffff:1.2.3.4`) is the IPv4 address."""
    return _canonical(expected) in {_canonical(g) for g in got}


def _canonical(address: str) -> str:
    import ipaddress

    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address.lower()
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    logs = fail2ban_logs()
    if logs is None:
        raise SystemExit("fail2ban's sample logs are not installed (apt install fail2ban)")
    print(f"corpus: {logs}")
    print(f"{'file':<14} {'failures':>9} {'caught':>7} {'recall':>7} {'clean':>6} {'false':>6}")
    total = Score("total")
    for name in CORPUS_FILES:
        result = score(name, annotated_lines(logs / name))
        _print(result)
        total.failures += result.failures
        total.caught += result.caught
        total.clean += result.clean
        total.false += result.false
        if args.show_misses:
            for miss in result.misses:
                print(f"   miss: {miss}")
            for line in result.false_lines:
                print(f"   false: {line}")
    _print(total)


def _print(s: Score) -> None:
    recall = s.caught / s.failures if s.failures else 1.0
    print(f"{s.name:<14} {s.failures:>9} {s.caught:>7} {recall:>7.1%} {s.clean:>6} {s.false:>6}")


if __name__ == "__main__":
    main()
