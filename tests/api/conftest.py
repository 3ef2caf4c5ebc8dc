"""A real store (synthetic month ingested, rules run), tokens for every role, the ASGI app."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ingest.pipeline import IngestOptions
from store import Store, open_store
from store.tokens import ROLES, create_token
from vahti.demo import write_demo_files
from vahti.detection_cli import detect
from vahti.ingesting import run_ingest
from vahti.service import Service, build_app, open_service
from vahti.settings import Settings, load_settings
from vahti.shell import now_utc


@dataclass
class World:
    client: TestClient
    app: FastAPI
    store: Store
    service: Service
    tokens: dict[str, str]  # role -> secret
    purges: list[str]  # actors who queued a purge (no scheduler runs in these tests)

    def as_role(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("api-template")
    settings = load_settings(None)
    events, _ = write_demo_files(folder, days=14, seed=5)
    db = folder / "vahti.duckdb"
    with open_store(db) as store:
        run_ingest(store, settings, [events], IngestOptions(format="jsonl"))
        detect(store, settings)
        for role in ROLES:
            create_token(store.con, f"{role}-token", role, now_utc())
    return db


def _secrets(db: Path) -> dict[str, str]:
    """Fresh tokens per test copy (secrets are not stored, so the template's are unknown)."""
    secrets = {}
    with open_store(db) as store:
        store.con.execute("DELETE FROM tokens")
        for role in ROLES:
            _, secrets[role] = create_token(store.con, f"{role}-token", role, now_utc())
    return secrets


def make_world(db: Path, settings: Settings) -> Iterator[World]:
    tokens = _secrets(db)
    store = open_store(db)
    service = open_service(store, settings)
    try:
        app = build_app(service)
        purges: list[str] = []
        app.state.ctx.queue_purge = purges.append
        with TestClient(app, raise_server_exceptions=False) as client:
            yield World(client, app, store, service, tokens, purges)
    finally:
        service.enricher.close()
        store.close()


@pytest.fixture
def world(template_db: Path, tmp_path: Path) -> Iterator[World]:
    db = tmp_path / "vahti.duckdb"
    shutil.copy(template_db, db)
    settings = Settings.model_validate({"api": {"auth_failures_per_minute": 10_000}})
    yield from make_world(db, settings)
