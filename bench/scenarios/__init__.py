"""Labelled synthetic login logs for measuring vahti's detection (see bench/quality.py).

dataset = generate(seed=1)          # benign population + attacks + labels
paths = write(dataset, folder)      # portal.jsonl, auth.log, labels.json
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.scenarios import attacks, benign, ssh
from bench.scenarios.benign import Event, Population
from bench.scenarios.score import Label
from bench.scenarios.world import Calendar

FIELDS = (
    "ts", "event", "outcome", "user", "customer_id", "ip", "host", "user_agent", "session_id",
    "reason", "service",
)  # fmt: skip


@dataclass
class Dataset:
    seed: int
    cal: Calendar
    population: Population
    events: list[Event]
    ssh_text: str
    labels: list[Label]

    @property
    def expect_country(self) -> dict[str, str]:
        return self.population.expect_country


def generate(seed: int, days: int = 30, history: int = 63, scale: float = 1.0) -> Dataset:
    """One seed's logs: `history` days of ordinary use, then a scored month of `days` days
    with the attacks in it."""
    cal = Calendar(history, days)
    population = benign.build_population(random.Random(f"{seed}:population"), cal, scale)
    sim = benign.Simulator(population, random.Random(f"{seed}:benign"))
    sim.run()
    attack_events, labels = attacks.inject(population, sim, random.Random(f"{seed}:attacks"))
    labels += trip_labels(population)
    ssh_text, ssh_labels = ssh.generate(population, random.Random(f"{seed}:ssh"))
    # The log is an export of the period: whatever spills past its end is not in it.
    events = [e for e in sim.events + attack_events if cal.start <= e["ts"] < cal.end]
    events.sort(key=lambda e: e["ts"])
    return Dataset(seed, cal, population, events, ssh_text, labels + ssh_labels)


def trip_labels(population: Population) -> list[Label]:
    """A first trip abroad with the usual device at travelling speed may raise at most a
    low new_country alert."""
    labels = []
    cal = population.cal
    for account in population.trips:
        trip = account.trip
        assert trip is not None
        labels.append(
            Label(
                "new_country",
                "user",
                account.user,
                cal.at(trip.first_day, 0),
                cal.at(trip.last_day + 1, 0),
                False,
                "benign:trip",
                f"{account.user} on a trip to {trip.country}",
                max_severity="low",
            )
        )
    return labels


def stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonl(events: list[Event]) -> bytes:
    out = bytearray()
    for event in events:
        row: dict[str, Any] = {"ts": stamp(event["ts"])}
        for name in FIELDS[1:]:
            value = event.get(name)
            if value is not None:
                row[name] = value
        out += orjson.dumps(row)
        out += b"\n"
    return bytes(out)


def write(dataset: Dataset, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "portal": folder / "portal.jsonl",
        "ssh": folder / "auth.log",
        "labels": folder / "labels.json",
    }
    paths["portal"].write_bytes(jsonl(dataset.events))
    paths["ssh"].write_text(dataset.ssh_text)
    paths["labels"].write_bytes(
        orjson.dumps([label.as_json() for label in dataset.labels], option=orjson.OPT_INDENT_2)
    )
    return paths
