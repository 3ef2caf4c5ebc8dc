"""The subject-access letter: in the reader's language, and about the reader only."""

from __future__ import annotations

from typing import Any

import pytest

from analytics.rules import CATEGORIES
from privacy.holds import KINDS
from privacy.letter import TEXT, render
from store.alerts import STATUSES


def _report() -> dict[str, Any]:
    return {
        "subject": {"user": "liisa.korhonen", "customer_id": None},
        "generated_at": "2026-11-26T02:00:00",
        "events": [
            {"ts": "2026-10-24T02:13:30", "event": "login", "outcome": "failure",
             "ip": "103.99.0.122", "host": None, "city": None, "country": "VN",
             "user_agent": None},
        ],
        "alerts": [
            {"id": "a-1", "category": "password_spraying", "first_seen": "2026-10-24T02:13:30",
             "last_seen": "2026-10-24T02:57:10", "status": "acknowledged",
             "summary": "40 failed logins against 30 accounts (timo.koskinen10, "
                        "liisa.korhonen and 28 more) from 103.99.0.122 in 44 min"},
        ],
        "holds": [{"id": 1, "kind": "preservation", "reason": "poliisin pyyntö 2026/17",
                   "since": "2026-11-01T00:00:00", "until": None, "released": None}],
        "disclosures": [],
        "staff_lookups": [],
        "retention_days": {"events": 180},
    }  # fmt: skip


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_alerts_are_described_without_other_peoples_names(lang: str) -> None:
    letter = render(_report(), lang)
    assert "timo.koskinen10" not in letter and "30 accounts" not in letter
    assert TEXT[lang]["categories"]["password_spraying"] in letter
    assert TEXT[lang]["statuses"]["acknowledged"] in letter
    assert TEXT[lang]["hold_kinds"]["preservation"] in letter


def test_the_finnish_letter_says_what_happened_in_finnish() -> None:
    letter = render(_report(), "fi")
    assert "| 2026-10-24T02:13:30 | kirjautuminen | epäonnistui | 103.99.0.122 | VN |" in letter
    assert "tila: käsittelyssä" in letter


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_every_category_status_and_hold_kind_has_words(lang: str) -> None:
    text = TEXT[lang]
    assert set(text["categories"]) == set(CATEGORIES)
    assert set(text["statuses"]) == set(STATUSES)
    assert set(text["hold_kinds"]) == set(KINDS)
