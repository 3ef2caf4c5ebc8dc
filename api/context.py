"""What the API is handed by the composition root: the store, the audit trail, limits and
the few capabilities it does not own (pushing events, the scheduler's job board)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.metrics import ServiceMetrics
from privacy.retention import Policy
from store import Store
from store.audit import AuditTrail
from store.checkpoints import CheckpointFiles
from store.group_commit import Arrival


class Rejected(Exception):
    """A request the service understood and refuses; becomes `status` with `message`."""

    def __init__(self, status: int, message: str, loc: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = loc  # for 422: where the bad value was, as validation errors name it


@dataclass(frozen=True)
class ApiLimits:
    max_body_bytes: int = 10 * 1024 * 1024
    auth_failures: int = 10  # failed authentications per client address per window
    auth_window_seconds: int = 60
    cors_origins: tuple[str, ...] = ()


# (body, batch id, the push's arrival) -> report as JSON; raises Rejected for a body
# it cannot take.
Pusher = Callable[[bytes, str, Arrival | None], Awaitable[dict[str, Any]]]


def _no_jobs() -> list[dict[str, Any]]:
    return []


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _no_scheduler(actor: str) -> None:
    raise Rejected(503, "no scheduler runs in this process: use `vahti retention purge`")


@dataclass(frozen=True)
class DetectRequest:
    since: str | None = None  # RFC 3339: replay from/to; both or neither
    until: str | None = None


@dataclass(frozen=True)
class IngestRequest:
    paths: tuple[str, ...]
    format: str = "auto"
    year: int | None = None
    tz: str | None = None
    live: bool = False


def _no_detection(request: DetectRequest) -> dict[str, Any]:
    raise Rejected(503, "this process runs no detection: use `vahti detect`")


def _no_ingest(request: IngestRequest) -> list[dict[str, Any]]:
    raise Rejected(503, "this process loads no files: use `vahti ingest`")


def _no_retry(source: str | None, reason: str | None, actor: str) -> list[dict[str, Any]]:
    raise Rejected(503, "this process parses no quarantine: use `vahti quarantine retry`")


@dataclass
class ApiContext:
    store: Store
    audit: AuditTrail
    push: Pusher
    policy: Policy
    limits: ApiLimits = field(default_factory=ApiLimits)
    # Around a push from the moment it reaches the server, so that the writer waits for it.
    push_arriving: Callable[[], AbstractContextManager[Arrival | None]] = nullcontext
    jobs: Callable[[], list[dict[str, Any]]] = _no_jobs
    queue_purge: Callable[[str], None] = _no_scheduler  # run the retention job now, for actor
    config_view: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utc_now
    metrics: ServiceMetrics | None = None  # the service's; an app without one makes its own
    detect: Callable[[DetectRequest], dict[str, Any]] = _no_detection  # run the rules now
    ingest: Callable[[IngestRequest], list[dict[str, Any]]] = _no_ingest  # load server files
    # Parse quarantined lines again (source, reason, actor) -> per source what came of it.
    retry_quarantine: Callable[[str | None, str | None, str], list[dict[str, Any]]] = _no_retry
    checkpoints: CheckpointFiles | None = None  # the audit chain's signed checkpoints
