"""How the console writes figures for people."""

from __future__ import annotations

from api.console.pages import days_text


def test_retention_periods_read_as_people_write_them() -> None:
    assert [days_text(d) for d in (180, 1, 730, 0.5, 1 / 24)] == [
        "180 days", "1 day", "730 days", "12 hours", "1 hour",
    ]  # fmt: skip
