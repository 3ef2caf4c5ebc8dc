"""`vahti serve`: the API and the scheduler in one process, the only writer of the database.

Wiring only: every stage is built here once and handed what it needs. The API's readers use
cursors of their own; writers of events (the spool job, pushed batches) take turns on one
lock, because event ids are taken as max + 1; scheduled jobs run one at a time."""

from __future__ import annotations

import getpass
import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI

from analytics.run import run_detection
from api.app import create_app
from api.context import ApiContext, ApiLimits, DetectRequest, IngestRequest, Pusher, Rejected
from api.metrics import ServiceMetrics
from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.pipeline import InputError, plan
from ingest.push import BatchConflict, PushedBody, PushError, PushReport, push_group
from privacy.purge import purge
from store import Store
from store.audit import AuditTrail
from store.checkpoints import CheckpointFiles
from store.group_commit import Arrival, GroupCommit
from store.tokens import OPERATOR_TOKEN, create_token, list_tokens, revoke_token
from vahti.detection_cli import replay_window, run_json
from vahti.ingesting import file_report_json, ingest_options, open_enricher, run_ingest
from vahti.jobs import JobBoard, Stopping
from vahti.privacy_cli import policy_of
from vahti.quarantine_cli import retry_quarantined
from vahti.remote import holder_note, token_file, write_token_file
from vahti.rules_cli import rules_of
from vahti.settings import Settings
from vahti.shell import UsageError, checkpoint_files, now_utc

log = logging.getLogger("vahti.serve")
_PARTIAL = (".tmp", ".part", ".partial", ".swp")


@dataclass
class Service:
    """Everything one running server owns, built once from the settings."""

    store: Store
    settings: Settings
    enricher: Enricher
    audit: AuditTrail
    metrics: ServiceMetrics
    checkpoints: CheckpointFiles  # the audit chain's, signed outside the database
    board: JobBoard = field(default_factory=JobBoard)
    stop: threading.Event = field(default_factory=threading.Event)
    event_writer: threading.Lock = field(default_factory=threading.Lock)

    def own_store(self) -> Store:
        """A Store on a cursor of its own, for one job or request thread."""
        return Store(self.store.path, self.store.cursor())

    def checkpoint(self) -> None:
        if self.stop.is_set():
            raise Stopping


def open_service(store: Store, settings: Settings) -> Service:
    metrics = ServiceMetrics(store)
    return Service(
        store, settings, open_enricher(settings), AuditTrail(store), metrics,
        checkpoint_files(store.path, settings), JobBoard(metrics),
    )  # fmt: skip


def spool_files(folder: Path) -> list[Path]:
    """Whole files waiting in the spool: hidden and still-being-written names are left alone."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.suffix not in _PARTIAL
    )


def spool_job(service: Service) -> str:
    folder = Path(service.settings.ingest.spool_dir)
    folder.mkdir(parents=True, exist_ok=True)
    options = ingest_options(service.settings, "auto", None, None, live=True)
    loaded = quarantined = 0
    problems = []

    def between_batches(*_: object) -> None:
        service.checkpoint()

    for path in spool_files(folder):
        store = service.own_store()
        try:
            with service.event_writer:
                reports = run_ingest(
                    store, service.settings, [path], options, on_batch=between_batches
                )
            loaded += sum(r.loaded for r in reports)
            quarantined += sum(r.quarantined for r in reports)
        except InputError as exc:  # one bad file does not hold up the others
            problems.append(f"{path.name}: {exc}")
        finally:
            store.close()
    summary = f"loaded {loaded} events, quarantined {quarantined}"
    return "; ".join([summary, *problems])


def detect_job(service: Service) -> str:
    with service.own_store() as store:
        report = run_detection(store, rules_of(service.settings), None, service.checkpoint)
    return f"read {report.events} events: {report.new} new alerts, {report.updated} updated"


def retention_job(service: Service, actor: str = "job:retention") -> str:
    """Purge on the main store: compaction swaps its connection, so not on a cursor. The
    purge moves the chain's start: a signed checkpoint says it was this purge."""
    now = now_utc()
    announce = partial(service.checkpoints.sign, service.store.con, now)
    report = purge(service.store, service.audit, policy_of(service.settings), now, actor, announce)
    checkpoint_job(service)
    deleted = ", ".join(f"{k['kind']} {k['deleted']}" for k in report.kinds)
    compacted = " and compacted" if report.compacted else ""
    return f"deleted {deleted}; pseudonymised {report.pseudonymised}{compacted}"


def checkpoint_job(service: Service) -> str:
    with service.own_store() as store:
        point = service.checkpoints.sign(store.con, now_utc())
    return f"signed entry {point.seq} of {point.entries}"


def make_pusher(
    service: Service,
) -> tuple[Pusher, Callable[[], AbstractContextManager[Arrival | None]]]:
    """Pushes that arrive while another group is being written are written together next
    (store/group_commit.py): one parse and one transaction for all of them. Each client is
    answered after the transaction holding its events has committed. Also: what the API
    calls when a push reaches the server, so that the next group waits for it."""

    # One parser for every group (its DuckDB engine costs as much to start as to parse a
    # group): only the lock holder uses it.
    context = ParseContext(format="jsonl", mtime=now_utc())

    def write(group: list[PushedBody]) -> list[PushReport | Exception]:
        store = service.own_store()
        try:
            reports = push_group(store, group, service.enricher, context)
        finally:
            store.close()
        # One line per group, not per push (and no person in it: the audit log names people).
        loaded = sum(r.loaded for r in reports if isinstance(r, PushReport))
        log.info("pushed batches written: %d, events loaded: %d", len(group), loaded)
        return reports

    grouped: GroupCommit[PushedBody, PushReport] = GroupCommit(
        write, service.event_writer, expect_back=True
    )

    async def push(body: bytes, batch_id: str, arrival: Arrival | None) -> dict[str, Any]:
        try:
            report = await grouped.submit_async(PushedBody(batch_id, body), arrival)
        except PushError as exc:
            raise Rejected(422, str(exc), ("body",)) from exc
        except BatchConflict as exc:
            raise Rejected(409, str(exc)) from exc
        return report.as_json()

    return push, grouped.arriving


def config_view(settings: Settings) -> dict[str, Any]:
    view: dict[str, Any] = orjson.loads(orjson.dumps(settings.model_dump(mode="json")))
    return view


def scheduler_for(service: Service) -> BackgroundScheduler:
    """One worker thread: jobs take turns, so ingest and detection never race each other."""
    timing = service.settings.service
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=timing.timezone,
    )
    jobs: list[tuple[str, Callable[[Service], str], str, dict[str, Any]]] = [
        ("spool", spool_job, "interval", {"seconds": timing.spool_every.total_seconds()}),
        ("detect", detect_job, "interval", {"seconds": timing.detect_every.total_seconds()}),
        (
            "checkpoint",
            checkpoint_job,
            "interval",
            {"seconds": service.settings.audit.checkpoint_every.total_seconds()},
        ),
    ]
    for name, work, trigger, when in jobs:
        service.board.register(name, f"every {int(next(iter(when.values())))} s")
        scheduler.add_job(
            service.board.run, trigger, args=[name, _bound(work, service)], id=name,
            next_run_time=datetime.now(UTC), **when,
        )  # fmt: skip
    hour, minute = (int(part) for part in timing.purge_at.split(":"))
    service.board.register("retention", f"daily at {timing.purge_at} {timing.timezone}")
    scheduler.add_job(
        service.board.run, "cron", args=["retention", _bound(retention_job, service)],
        id="retention", hour=hour, minute=minute,
    )  # fmt: skip
    return scheduler


def purge_queue(service: Service, scheduler: BackgroundScheduler) -> Callable[[str], None]:
    """Run the retention job now, on the scheduler's one worker, for `actor`."""

    def queue(actor: str) -> None:
        work = lambda: retention_job(service, actor)  # noqa: E731
        scheduler.add_job(
            service.board.run, args=["retention", work], id="retention-now",
            replace_existing=True, next_run_time=datetime.now(UTC),
        )  # fmt: skip

    return queue


def worker_runner(scheduler: BackgroundScheduler | None) -> Callable[[Callable[[], Any]], Any]:
    """Run work for a request on the scheduler's one worker (after the job it is on), and
    wait for its result; without a scheduler (tests, tools), right here, one at a time."""
    alone = threading.Lock()

    def run(work: Callable[[], Any]) -> Any:
        if scheduler is None:
            with alone:
                return work()
        done: Future[Any] = Future()

        def job() -> None:
            try:
                done.set_result(work())
            except BaseException as exc:  # handed to the waiting request as it is
                done.set_exception(exc)

        scheduler.add_job(job, id=f"request-{uuid.uuid4().hex}", next_run_time=datetime.now(UTC))
        return done.result(timeout=REQUEST_WORK_SECONDS)

    return run


REQUEST_WORK_SECONDS = 4 * 3600


Runner = Callable[[Callable[[], Any]], Any]


def detect_on_request(service: Service, run: Runner) -> Callable[[DetectRequest], dict[str, Any]]:
    def detect(request: DetectRequest) -> dict[str, Any]:
        try:
            window = replay_window(request.since, request.until)
        except UsageError as exc:
            raise Rejected(422, str(exc), ("body",)) from exc

        def work() -> dict[str, Any]:
            with service.own_store() as store:
                rules = rules_of(service.settings)
                return run_json(run_detection(store, rules, window, service.checkpoint))

        return run(lambda: service.board.run_returning("detect", work))

    return detect


def ingest_on_request(
    service: Service, run: Runner
) -> Callable[[IngestRequest], list[dict[str, Any]]]:
    def ingest(request: IngestRequest) -> list[dict[str, Any]]:
        try:
            options = ingest_options(
                service.settings, request.format, request.year, request.tz, request.live
            )
            files = [Path(p) for p in request.paths]
            plan(files, options)  # every file checked before anything is written
        except InputError as exc:
            raise Rejected(422, str(exc), ("body",)) from exc

        def work() -> list[dict[str, Any]]:
            with service.own_store() as store:
                with service.event_writer:
                    reports = run_ingest(store, service.settings, files, options)
                return [file_report_json(r) for r in reports]

        return run(lambda: service.board.run_returning("ingest", work))

    return ingest


def retry_on_request(
    service: Service, run: Runner
) -> Callable[[str | None, str | None, str], list[dict[str, Any]]]:
    def retry(source: str | None, reason: str | None, actor: str) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            with service.own_store() as store, service.event_writer:
                return retry_quarantined(
                    store, service.settings, source, reason, actor, service.audit
                )

        return run(lambda: service.board.run_returning("quarantine", work))

    return retry


def _bound(work: Callable[[Service], str], service: Service) -> Callable[[], str]:
    return lambda: work(service)


def job_snapshot(service: Service, scheduler: BackgroundScheduler) -> list[dict[str, Any]]:
    next_runs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    return service.board.snapshot(next_runs)


def build_app(service: Service, scheduler: BackgroundScheduler | None = None) -> FastAPI:
    """The ASGI app; with a scheduler, it starts and stops with the app."""
    settings = service.settings.api
    push, push_arriving = make_pusher(service)
    context = ApiContext(
        store=service.store,
        audit=service.audit,
        push=push,
        push_arriving=push_arriving,
        limits=ApiLimits(
            max_body_bytes=settings.max_body_bytes,
            auth_failures=settings.auth_failures_per_minute,
            cors_origins=settings.cors_origins,
        ),
        config_view=config_view(service.settings),
        policy=policy_of(service.settings),
        metrics=service.metrics,
        checkpoints=service.checkpoints,
    )
    run = worker_runner(scheduler)
    context.detect = detect_on_request(service, run)
    context.ingest = ingest_on_request(service, run)
    context.retry_quarantine = retry_on_request(service, run)
    if scheduler is None:
        return create_app(context)
    context.jobs = lambda: job_snapshot(service, scheduler)
    context.queue_purge = purge_queue(service, scheduler)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            service.stop.set()
            scheduler.shutdown(wait=True)  # the running job ends at its next batch boundary

    return create_app(context, lifespan)


def open_local_token(service: Service, db: Path) -> str:
    """An admin token for this machine's operator, in an owner-only file beside the database,
    so every command works beside the server (vahti/remote.py). A token left by a server
    that was killed is revoked first. Returns the token's name."""
    now = now_utc()
    user = getpass.getuser()
    with service.audit.change("serve", "tokens.local", {"user": user}) as con:
        for token in list_tokens(con):
            if token.name.startswith(OPERATOR_TOKEN) and token.revoked_at is None:
                revoke_token(con, token.name, now, keep_an_admin=False)
        name = f"{OPERATOR_TOKEN} {user} {now:%Y%m%dT%H%M%S}"[:64]
        _, secret = create_token(con, name, "admin", now, operator=True)
    write_token_file(db, secret)
    return name


def close_local_token(service: Service, db: Path, name: str) -> None:
    token_file(db).unlink(missing_ok=True)
    with service.audit.change("serve", "tokens.revoke", {"token": name}) as con:
        revoke_token(con, name, now_utc(), keep_an_admin=False)


def describe_holder(db: Path, url: str) -> None:
    """Who holds the database, for the message a second process gets."""
    note = {"pid": os.getpid(), "url": url, "user": getpass.getuser()}
    holder_note(db).write_bytes(orjson.dumps(note))
