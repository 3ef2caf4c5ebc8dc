"""Detection quality: precision and recall of vahti's alerts on labelled synthetic logs.

    python -m bench.quality [--seeds 1 2 3] [--days 30] [--history 63] [--json] [--keep DIR]

For each seed this generates the logins of a Finnish mail-and-parcel company's business
portal (the customer companies' account holders, a few thousand accounts) with labelled
attacks in the last `--days` days, writes them as JSON Lines (`portal.jsonl`) and an
OpenSSH syslog of the same server (`auth.log`), runs vahti through its command line on a
fresh DuckDB file (`ingest`, `ingest --format sshd --year 2026`, `detect`, `alerts
--json`), matches the alerts to the labels and prints precision and recall per category
and overall, per seed and over all seeds, then every false positive and every missed
label. The exit code is 0 whatever the scores: this measures, it does not judge.

The generator (bench/scenarios/) is written from vahti's contract and public formats
only, independently of its detection code and of its demo generator.

Time line
---------
The log starts `--history` days (63) before 2026-10-01 and ends `--days` days (30) after
it, so a fresh deployment has its first 14 days to learn, accounts have weeks of history,
and an account can be silent for 40+ days before the scored month. Every attack is in the
scored month; false positives are counted over the whole log. Activity follows the
Helsinki clock (office hours, evenings, weekends, the end of summer time on 25 October).
Browsers update every four weeks (Chrome, Edge, Firefox, Safari versions move on, each
person's browser a few days after the release): a person's "usual device" is the same
browser on the same system, not the same user-agent string forever.

Addresses are drawn from real operators' networks and checked against the GeoLite2 City
snapshot of 2018-07-03 that vahti uses, so Finnish homes are in Finnish cities, carrier
NATs are in Finland (country only, as the database has them), hotels are in Swedish,
Estonian and German cities, and attackers are where their networks are.

Benign scenarios (must raise nothing)
-------------------------------------
- Office NATs: most people of a larger customer company log in from the office's address
  (large offices leave through two to four neighbouring NAT addresses, and one session's
  requests move between them); Monday mornings bring dozens of accounts from one address
  within minutes, each with the odd typo. Many accounts per source, but they succeed, from
  their usual place and client: not spraying.
- Home broadband: small companies' people log in from home (about one in ten gets a new
  address from the ISP once, same network and city).
- Mobile carrier NATs: phones log in from a carrier's CGNAT pool, a different address each
  time and sometimes within one session; the pool is shared by many people. Phones on home
  wifi walk out onto the mobile network within a session. Same client, same country.
- Corporate VPN exits in Amsterdam: two mid-sized companies work over a VPN; about half of
  the logins come from the VPN, the rest from home in Finland, the two sometimes 35-90
  minutes apart. The Netherlands is a familiar country for these accounts from day one.
- Trips with the usual device: about 1.5 % of the daily and weekly users (20-odd people)
  go to Sweden, Estonia or Germany for two to five days (their first time abroad in the
  log), half of them after a few days without logging in, and log in from the hotel with
  their usual laptop from the afternoon of the first day (after a morning, or the day
  before, at home); to Tallinn some go by ferry and log in from noon. Their phones roam
  and so keep coming out of the Finnish carrier's NAT, now and then within an hour of a
  hotel login (one person, two networks: not impossible travel). Plausible speed, usual
  device: at most a `low` new_country alert is tolerated.
- Password-reset mornings: a user fails two to six times, resets the password by email,
  changes it and logs in (about 0.2 % of logins). On a Monday of the scored month a large
  company's passwords expire: 10-20 of its people fail one to three times at the office,
  reset and log in. The reset ends the run of failures; these are not success-after-failures.
- Families sharing a computer: two or three accounts (small businesses, freemail names)
  from one home address and one browser, evenings and weekends.
- IPv6 privacy addresses: homes on IPv6 get a new temporary address every day within their
  /64; one in five homes' /64 changes once within its /48.
- Rare and occasional users: monthly users are silent for 30+ days now and then; rare
  users log in every 6-10 weeks from home; people come back from a long leave (5-8
  weeks) to the office or home; all with their usual (updated) browser. Silence with familiar
  properties is not a dormant-account takeover.
- Integrations: six customers' systems log in every 30-60 minutes in office hours from a
  server in a Finnish data centre; after a password rotation one of them keeps retrying
  with the old password every five minutes for one to three hours until it is updated.
- Users whose accounts attackers try: the victims of brute force and distributed brute
  force keep logging in from home or the office as usual (sometimes with a typo) during
  and after the attack; their own logins are not success-after-failures.
- Background typos: about 4 % of logins follow one or two bad passwords; about 0.6 % follow
  a mistyped user name (`unknown_user`: the name does not exist). MFA codes are mistyped now
  and then.
- SSH: two admins and a CI server log in with keys every day; strangers from the internet
  try one to four names and go away, one every hour or two (below every threshold).

Attack scenarios (labelled; the alert each should raise)
--------------------------------------------------------
- brute_force (ip): one source, one account, 25-150 failures a few seconds apart (the
  portal's smart lockout answers `locked` after 10). One source is known by its host
  name only (on some seeds); one is an IPv6 /64 rotating through its addresses (entity:
  the /64), which evades the lockout and finds the password (optional: the victim's
  success_after_failures, new_country, impossible_travel, dormant_account).
- Dictionary scanners over SSH (brute_force, ip): 1000-4000 passwords against root and
  20-40 common names (admin, test, oracle, postgres, ubuntu, pi, ...), mostly names that
  do not exist, over 2-10 hours (optional: account_enumeration of the same source).
- Fast spraying (password_spraying, ip): one source, 20-60 existing accounts (mostly of
  one company, a few stale names), one or two tries each, within an hour.
- Low-and-slow spraying (password_spraying, ip): one source, 60-200 accounts, one try
  every two or more minutes for 5-16 hours, never 10 in 10 minutes.
- Credential stuffing (credential_stuffing, campaign): a leaked list (about 40 % names that
  do not exist) replayed through 8-20, 30-80 and 100-200 residential proxies, one to five
  tries each, with one tool's client string (or a few rotated), over 0.6-7 hours; label
  members = the addresses. Each account that logged in from a campaign source is an
  account takeover (credential_stuffing, user; severity critical in the contract),
  optionally also new_country, impossible_travel, dormant_account for that account.
- Distributed brute force (distributed_brute_force, user): 5-30 sources, each one to
  three failures, against one account in under 30 minutes; the owner logs in as usual.
- Enumeration (account_enumeration, ip): one source, 30-200 guessed names at one company's
  domain, 3-15 % of them real, about one try each, in 10 minutes to 4 hours.
- Session hijack (session_hijack, session): a session cookie replayed minutes to hours
  after the login from another country with the same client (an infostealer copies both),
  from another country with another client, or from another Finnish address with another
  client (optional: the user's new_country, impossible_travel).
- Dormant account takeover (dormant_account, user): an account whose owner left in the
  first weeks of the log logs in 40+ days later from a new country with a new client.
- Impossible travel (impossible_travel, user): the owner logs in in Helsinki, Espoo or
  Vantaa, and 5-55 minutes later someone logs in from a city over 3000 km away with a
  new client.
- New country (new_country, user): a phished account used from a country it never used
  (Nigeria, Brazil, the US, ...) with a new client, in the middle of a gap of 30+ hours
  between the owner's logins, so no trip speed rules it out.
- Success after failures (success_after_failures, user): someone who knows the victim
  guesses the password from a Finnish home address, 5-9 failures under a minute apart
  (below the brute-force trigger), then a success.

Scoring (bench/scenarios/score.py): an alert matches a label when the categories are
equal, the spans overlap within an hour, and the entities agree (a campaign alert: members
covering >= 50 % of the label's with >= 80 % of its own in the label; an ip alert naming a
campaign member is a partial match, tolerated and reported). Precision per category =
alerts matching a required label / (those + alerts matching no label); recall = required
labels found / required labels.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.scenarios import generate, write
from bench.scenarios.score import CATEGORIES, Alert, CategoryScore, Label, Score, score

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SeedResult:
    seed: int
    score: Score | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    labels: list[Label] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class VahtiFailed(Exception):
    pass


def vahti(*args: str) -> str:
    """Run a vahti command the way a person would; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "vahti.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise VahtiFailed(
            f"vahti {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def run_seed(seed: int, days: int, history: int, scale: float, keep: Path | None) -> SeedResult:
    result = SeedResult(seed)
    folder = (
        keep / f"seed-{seed}" if keep else Path(tempfile.mkdtemp(prefix=f"vahti-quality-{seed}-"))
    )
    if keep and folder.exists():
        shutil.rmtree(folder)
    try:
        t = time.perf_counter()
        dataset = generate(seed, days=days, history=history, scale=scale)
        paths = write(dataset, folder)
        result.seconds["generate"] = time.perf_counter() - t
        result.labels = dataset.labels
        result.counts = {
            "accounts": len(dataset.population.accounts),
            "events": len(dataset.events),
            "ssh_lines": dataset.ssh_text.count("\n"),
            "labels_required": sum(label.required for label in dataset.labels),
            "labels_optional": sum(not label.required for label in dataset.labels),
        }
        db = str(folder / "vahti.duckdb")
        t = time.perf_counter()
        vahti("ingest", str(paths["portal"]), "--db", db, "--format", "jsonl")
        vahti("ingest", str(paths["ssh"]), "--db", db, "--format", "sshd", "--year", "2026")
        result.seconds["ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        vahti("detect", "--db", db)
        result.seconds["detect"] = time.perf_counter() - t
        t = time.perf_counter()
        body = orjson.loads(vahti("alerts", "--json", "--db", db))
        result.seconds["alerts"] = time.perf_counter() - t
        (folder / "alerts.json").write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        result.alerts = [Alert.from_json(item) for item in body]
        result.score = score(result.alerts, dataset.labels)
    except VahtiFailed as failed:
        result.error = str(failed)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(title: str, total: Score) -> Table:
    out = Table(title=title, title_justify="left")
    for name in ("category", "labels", "found", "recall", "alerts", "TP", "FP", "tolerated", "partial", "precision"):  # fmt: skip
        out.add_column(name, justify="left" if name == "category" else "right")
    names = list(CATEGORIES) + [c for c in total.categories if c not in CATEGORIES]
    for name in names:
        item = total.categories.get(name, CategoryScore())
        out.add_row(name, *_cells(item))
    out.add_section()
    out.add_row("overall", *_cells(total.overall), style="bold")
    return out


def _cells(item: CategoryScore) -> list[str]:
    return [
        str(item.required), str(item.found), fmt(item.recall), str(item.alerts),
        str(item.true_positives), str(item.false_positives), str(item.tolerated),
        str(item.partial), fmt(item.precision),
    ]  # fmt: skip


def explain(console: Console, result: SeedResult, show: int) -> None:
    assert result.score is not None
    s = result.score
    show = show if show > 0 else len(s.false_positives) + len(s.partial)
    console.print(f"[bold]seed {result.seed}: false positives ({len(s.false_positives)})[/bold]")
    by_category: dict[str, list[Alert]] = {}
    for alert in s.false_positives:
        by_category.setdefault(alert.category, []).append(alert)
    for category, alerts in sorted(by_category.items()):
        for alert in alerts[:show]:
            console.print(
                f"  FP {category} [{alert.severity}] {alert.entity_type}={alert.entity}"
                f" {alert.first_seen:%m-%d %H:%M}..{alert.last_seen:%m-%d %H:%M}: {alert.summary}",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
        if len(alerts) > show:
            console.print(f"  ... and {len(alerts) - show} more {category}", highlight=False)
    console.print(f"[bold]seed {result.seed}: missed labels ({len(s.missed)})[/bold]")
    for label in s.missed:
        entity = label.entity
        if label.members:
            entity += (
                f" ({', '.join(label.members[:4])}{', ...' if len(label.members) > 4 else ''})"
            )
        console.print(
            f"  MISS {label.category} {label.entity_type}={entity}"
            f" {label.start:%m-%d %H:%M}..{label.end:%m-%d %H:%M} [{label.scenario}]: {label.summary}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    if s.partial:
        console.print(
            f"[bold]seed {result.seed}: partial campaign matches ({len(s.partial)})[/bold]"
        )
        for alert, label in s.partial[:show]:
            console.print(
                f"  PARTIAL {alert.category} ip={alert.entity} of [{label.scenario}] {label.entity}",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
        if len(s.partial) > show:
            console.print(f"  ... and {len(s.partial) - show} more", highlight=False)


def as_json(results: list[SeedResult], total: Score) -> dict[str, Any]:
    def listing(s: Score) -> dict[str, Any]:
        return {
            "categories": {name: item.as_json() for name, item in s.categories.items()},
            "overall": s.overall.as_json(),
        }

    seeds: dict[str, Any] = {}
    for r in results:
        entry: dict[str, Any] = {"seconds": r.seconds, "counts": r.counts, "error": r.error}
        if r.score is not None:
            entry.update(listing(r.score))
            entry["false_positives"] = [
                {"category": a.category, "severity": a.severity, "entity_type": a.entity_type,
                 "entity": a.entity, "first_seen": a.first_seen.isoformat(),
                 "last_seen": a.last_seen.isoformat(), "summary": a.summary}
                for a in r.score.false_positives
            ]  # fmt: skip
            entry["missed"] = [label.as_json() for label in r.score.missed]
            entry["partial"] = [
                {"alert": a.entity, "category": a.category, "campaign": label.entity}
                for a, label in r.score.partial
            ]
        seeds[str(r.seed)] = entry
    return {"seeds": seeds, "all": listing(total)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--days", type=int, default=30, help="length of the scored month")
    parser.add_argument("--history", type=int, default=63, help="days of history before it")
    parser.add_argument("--scale", type=float, default=1.0, help="size of the population")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, help="keep logs, labels, database and alerts here")
    parser.add_argument(
        "--show", type=int, default=12, help="false positives listed per category (0: all)"
    )
    args = parser.parse_args(argv)
    if args.days < 7 or args.history < 45:
        parser.error("--days must be at least 7 and --history at least 45")
    console = Console(stderr=args.json, highlight=False, width=None if sys.stdout.isatty() else 160)
    results: list[SeedResult] = []
    total = Score()
    for seed in args.seeds:
        console.print(f"seed {seed}: generating, ingesting, detecting ...")
        result = run_seed(seed, args.days, args.history, args.scale, args.keep)
        results.append(result)
        times = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.counts.items())
        console.print(f"seed {seed}: {counts}; {times}", highlight=False)
        if result.error:
            console.print(f"[red]seed {seed}: {result.error}[/red]", markup=True)
            continue
        assert result.score is not None
        total.add(result.score)
        if not args.json:
            console.print(table(f"seed {seed}", result.score))
    if args.json:
        sys.stdout.write(
            orjson.dumps(as_json(results, total), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if len([r for r in results if r.score]) > 1:
        console.print(table(f"all seeds ({', '.join(str(s) for s in args.seeds)})", total))
    for result in results:
        if result.score is not None:
            explain(console, result, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
