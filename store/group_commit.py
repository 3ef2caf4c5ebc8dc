"""Group commit: requests that arrive while a write is under way wait, and whoever gets the
writer's lock next writes all of them in one go (one transaction instead of one each).

A write costs nearly the same for one request as for twenty, so the writer also waits, a
little (`linger`), for requests it knows are on their way (`arriving`): otherwise clients
answered together come back a few milliseconds apart, the first of them starts a group of
one, and the rest pay for a second write (as PostgreSQL's commit_delay waits only while
other transactions are active)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item]):
    item: Item
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass
class Arrival:
    """A request on its way to `submit` (from `arriving`)."""

    settled: bool = False  # submitted, or gone without submitting


@dataclass
class GroupCommit(Generic[Item, Result]):
    """`write` takes the items of a group and returns one result (or exception) for each, in
    order; `writer` is the lock every writer of the same tables holds."""

    write: Callable[[list[Item]], list[Result | Exception]]
    writer: AbstractContextManager[Any]
    largest: int = 200  # items per group: a group's latency grows with its size
    linger: float = 0.02  # seconds a writer waits at most for requests on their way
    _queue: list[_Waiting[Item]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _coming: int = 0  # arrivals not yet settled

    @contextmanager
    def arriving(self) -> Iterator[Arrival]:
        """Around a request that will probably `submit`, from the moment it reaches the
        server: until it submits (or ends), the next group waits for it, up to `linger`."""
        arrival = Arrival()
        with self._changed:
            self._coming += 1
        try:
            yield arrival
        finally:
            with self._changed:
                self._settle(arrival)

    def _settle(self, arrival: Arrival | None) -> None:
        if arrival is not None and not arrival.settled:
            arrival.settled = True
            self._coming -= 1
        self._changed.notify_all()

    def submit(self, item: Item, arrival: Arrival | None = None) -> Result:
        mine = _Waiting(item)
        with self._changed:
            self._queue.append(mine)
            self._settle(arrival)
        while not mine.done:
            with self.writer:
                if not mine.done:
                    self._write_next()
        if mine.error is not None:
            raise mine.error
        result: Result = mine.result
        return result

    def _write_next(self) -> None:
        with self._changed:
            self._changed.wait_for(
                lambda: self._coming == 0 or len(self._queue) >= self.largest, self.linger
            )
            group, self._queue = self._queue[: self.largest], self._queue[self.largest :]
        try:
            results = self.write([waiting.item for waiting in group])
        except Exception as exc:  # the whole group failed (say, the disk): each hears why
            for waiting in group:
                waiting.error, waiting.done = exc, True
            return
        for waiting, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                waiting.error = result
            else:
                waiting.result = result
            waiting.done = True
