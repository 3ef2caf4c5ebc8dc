"""The scheduler's jobs and their board: each job's last run, duration and outcome.

A job that fails is logged and recorded, and runs again at its next time; it never takes
the server down. A stop request ends a job at its next batch boundary."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from store.checkpoints import CheckpointError

log = logging.getLogger("vahti.jobs")


def _loggable(exc: Exception) -> str:
    """What a failed job's log line may say: the type, and the message only where it is
    known to hold no personal data (a refused checkpoint names paths and entry numbers)."""
    if isinstance(exc, CheckpointError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


_R = TypeVar("_R")


class Stopping(Exception):
    """The service is stopping: the job ends after its last whole batch."""


@dataclass
class JobRecord:
    name: str
    schedule: str
    last_run: datetime | None = None
    duration: float | None = None
    outcome: str = "never run"
    message: str = ""
    runs: int = 0
    failures: int = 0


class JobObserver(Protocol):
    """Told of every job (the metrics): that it exists, and how each run ended."""

    def job_known(self, job: str) -> None: ...

    def job_finished(self, job: str, outcome: str, seconds: float, ended: datetime) -> None: ...


class _Unobserved:
    def job_known(self, job: str) -> None:
        pass

    def job_finished(self, job: str, outcome: str, seconds: float, ended: datetime) -> None:
        pass


class JobBoard:
    def __init__(self, observer: JobObserver | None = None) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, JobRecord] = {}
        self.observer: JobObserver = observer or _Unobserved()

    def register(self, name: str, schedule: str) -> None:
        with self._lock:
            self._records[name] = JobRecord(name, schedule)
        self.observer.job_known(name)

    def run_returning(self, name: str, work: Callable[[], _R]) -> _R:
        """Run work asked for by a request: recorded and measured like the job `name` (which
        need not be scheduled), its result (or its exception) handed back."""
        result: list[_R] = []
        failure: list[BaseException] = []

        def kept() -> str:
            try:
                result.append(work())
            except Exception as exc:
                failure.append(exc)
                raise
            return "asked for"

        if name not in self._records:
            self.register(name, "on request")
        self.run(name, kept)
        if failure:
            raise failure[0]
        return result[0]

    def run(self, name: str, work: Callable[[], str]) -> None:
        """Run `work` (which returns a one-line summary) and record how it went."""
        record = self._records[name]
        with self._lock:
            record.outcome, record.last_run = "running", datetime.now(UTC)
        started = time.perf_counter()
        try:
            outcome, message = "ok", work()
        except Stopping:
            outcome, message = "ok", "stopped early: the service is stopping"
        except Exception as exc:
            outcome, message = "failed", f"{type(exc).__name__}: {exc}"
            log.error("job %s failed: %s", name, _loggable(exc))
        duration = time.perf_counter() - started
        with self._lock:
            record.duration = duration
            record.outcome, record.message = outcome, message[:500]
            record.runs += 1
            record.failures += outcome == "failed"
        self.observer.job_finished(name, outcome, duration, datetime.now(UTC))
        log.info("job %s: %s in %.2f s", name, outcome, duration)

    def snapshot(self, next_runs: dict[str, datetime | None]) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "name": r.name,
                    "schedule": r.schedule,
                    "next_run": _stamp(next_runs.get(r.name)),
                    "last_run": _stamp(r.last_run),
                    "duration_seconds": None if r.duration is None else round(r.duration, 3),
                    "outcome": r.outcome,
                    "message": r.message,
                    "runs": r.runs,
                    "failures": r.failures,
                }
                for r in self._records.values()
            ]


def _stamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
