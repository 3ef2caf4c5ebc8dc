"""Detection on logs vahti did not make: the Loghub OpenSSH excerpt, PAM lines that name
the source only by host name, and the CrowdSec hub's scenario tests (what CrowdSec flags,
and where vahti's defaults differ, why)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.rules import default_rules_dir, load_rules
from analytics.run import run_detection
from ingest.context import AccessRules
from store import open_store
from store.alerts import Alert, evidence_rows, list_alerts
from tests.conftest import ROOT
from tests.helpers import load

RULES, _ = load_rules(default_rules_dir())
HUB = ROOT.parent / "shared" / "data" / "crowdsec-hub"

# Counted by hand from the raw lines (a regex over `Failed password ... from IP`, with
# `message repeated N times` as N), the most failures each source made within any ten
# minutes: every source with 10 or more.
LOUD_IN_LOGHUB = {
    "183.62.140.253": 279,  # 277 of its 287 against root
    "187.141.143.180": 80,  # 28 names, root 46
    "103.99.0.122": 30,  # 19 names over two hours, admin and root most
    "112.95.230.3": 26,  # root 24
    "5.188.10.180": 17,  # admin 12
    "185.190.58.151": 17,  # admin 15
}


def _detect(db: Path) -> list[Alert]:
    with open_store(db) as store:
        run_detection(store, RULES)
        return list_alerts(store.con)


def test_every_loud_source_of_the_loghub_excerpt_is_named(loghub: Path, db: Path) -> None:
    load(db, loghub, year=2016)
    alerts = _detect(db)
    named = {a.entity for a in alerts if a.entity_type == "ip"}
    assert set(LOUD_IN_LOGHUB) <= named
    by_source = {a.entity: a for a in alerts if a.rule_id == "source_failures"}
    hammer = by_source["183.62.140.253"]
    assert hammer.category == "brute_force"  # 246 root failures in ten minutes
    assert hammer.summary.startswith("287 failed logins for 10 accounts (root (277)")
    assert hammer.event_count == 287
    # Quiet sources stay quiet: nothing else than these and bursts of six or more a minute.
    for alert in by_source.values():
        if alert.entity not in LOUD_IN_LOGHUB:
            assert alert.event_count >= 6, alert.summary


def test_a_source_known_only_by_host_name_alerts(tmp_path: Path, db: Path) -> None:
    """PAM lines of an old sshd (Loghub's Linux log shape): no address, only `rhost=`."""
    lines = [
        f"Jun 14 15:16:{i * 56 // 23:02d} combo sshd(pam_unix)[{19939 + i}]: authentication "
        "failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
        "rhost=n219076184117.netvigator.com  user=root"
        for i in range(23)
    ]
    log = tmp_path / "messages"
    log.write_text("\n".join(lines) + "\n")
    load(db, log, year=2005)
    (alert,) = [a for a in _detect(db) if a.rule_id == "source_failures"]
    assert (alert.entity_type, alert.entity) == ("ip", "n219076184117.netvigator.com")
    assert (alert.category, alert.event_count) == ("brute_force", 23)
    assert alert.summary == ("23 failed logins for root from n219076184117.netvigator.com in 53 s")


# Each CrowdSec hub scenario test: the source its asserts name, and whether vahti flags it
# with its defaults, with the reason where it does not.
SCENARIOS = {
    "ssh-bf": ("35.188.49.176", True, "six unknown names in three seconds: the burst trigger"),
    "ssh-slow-bf": ("103.100.210.198", True, "22 failures in 11 minutes: the main trigger"),
    "ssh-time-based-bf": (
        "10.0.0.101",
        False,
        "four failures an hour apart; CrowdSec's ssh-time-based-bf fires on three evenly "
        "spaced ones, vahti's slowest trigger wants 30 in six hours (a person trying their "
        "e-mail addresses on a portal fails as often)",
    ),
    "sshd-invalid-bf": (
        "179.43.183.98",
        True,
        "six `Disconnected from authenticating user ... [preauth]` in six seconds, each a "
        "connection of its own: the burst trigger",
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_crowdsec_scenarios(name: str, db: Path) -> None:
    source, flagged, why = SCENARIOS[name]
    log = HUB / name / f"{name}.log"
    assert source in (HUB / name / "scenario.assert").read_text()
    load(db, log, year=2026)
    named = {a.entity for a in _detect(db)}
    assert (source in named) is flagged, why


def test_crowdsec_web_login_brute_force_with_the_login_path_configured(db: Path) -> None:
    """nginx-http-generic-bf: 16 failed basic authentications in nginx's error log (2021),
    then six `POST /client` answered 401 in one second (2022): CrowdSec raises two alerts
    for 127.0.0.1 (the first at its bucket's 6), and so does vahti, one per episode with all
    of its failures, from a file that mixes both logs."""
    log = HUB / "nginx-http-generic-bf" / "nginx-http-generic-bf.log"
    load(db, log, access=AccessRules(login_paths=("/client",)))
    alerts = sorted((a for a in _detect(db) if a.entity == "127.0.0.1"), key=lambda a: a.first_seen)
    assert [(a.category, a.event_count) for a in alerts] == [
        ("brute_force", 16),
        ("brute_force", 6),
    ]
    with open_store(db) as store:
        users = [{e["user"] for e in evidence_rows(store.con, a.alert_id)} for a in alerts]
    assert users == [{"foo"}, {"test"}]


def test_crowdsec_wordpress_brute_force_wrapped_in_syslog(db: Path) -> None:
    """http-bf-wordpress-bf: nginx access lines inside syslog (`host nginx[2869]: ...`),
    nine `POST /wp-login.php` answered 200 (WordPress shows the form again): detected as
    access lines, a brute force from the source CrowdSec flags."""
    log = HUB / "http-bf-wordpress-bf" / "http-bf-wordpress-bf.log"
    (report,) = load(db, log, access=AccessRules(login_paths=("/wp-login.php",)))
    assert (report.format, report.loaded, report.quarantined) == ("access", 9, 0)
    (alert,) = [a for a in _detect(db) if a.entity == "81.150.104.130"]
    assert (alert.category, alert.event_count) == ("brute_force", 9)
