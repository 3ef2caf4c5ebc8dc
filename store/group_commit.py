"""Group commit: requests that arrive while a write is under way wait, and whoever gets the
writer's lock next writes all of them in one go (one transaction instead of one each).

A write costs nearly the same for one request as for twenty, so the writer also waits, a
little (`linger`), for requests it knows are on their way (`arriving`): otherwise clients
answered together come back a few milliseconds apart, the first of them starts a group of
one, and the rest pay for a second write (as PostgreSQL's commit_delay waits only while
other transactions are active).

A coroutine submits with `submit_async`: it waits for its answer without a thread of its
own, and one thread writes each group for all of them (twenty requests answered together
otherwise wake twenty threads, one after another, on a server's few cores)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Waiting(Generic[Item]):
    item: Item
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    answered: Callable[[], None] | None = None  # wakes an async submitter


def _wake(answer: asyncio.Future[None]) -> None:
    if not answer.done():  # a cancelled request no longer listens
        answer.set_result(None)


def _wake_soon(loop: asyncio.AbstractEventLoop, answer: asyncio.Future[None]) -> None:
    """From the writer's thread."""
    with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
        loop.call_soon_threadsafe(_wake, answer)


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
    # Clients answered by a write send again at once (shippers with a backlog): the next
    # group also waits, up to `linger`, until as many are queued as the last one answered.
    expect_back: bool = False
    _expected: int = 0
    _queue: list[_Waiting[Item]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _coming: int = 0  # arrivals not yet settled
    _leader: asyncio.Task[None] | None = None  # writes for async submitters, while any wait

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
        return self._answer(mine)

    async def submit_async(self, item: Item, arrival: Arrival | None = None) -> Result:
        """As `submit`, from a coroutine of the running event loop."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[None] = loop.create_future()
        mine = _Waiting(item, answered=partial(_wake_soon, loop, answer))
        with self._changed:
            self._queue.append(mine)
            self._settle(arrival)
            # A leader of another event loop (a test's, closed) will never write again.
            if self._leader is None or self._leader.get_loop() is not loop:
                self._leader = loop.create_task(self._lead())
        await answer
        return self._answer(mine)

    async def _lead(self) -> None:
        """Writes groups in a worker thread until none is waiting."""
        try:
            while True:
                await asyncio.to_thread(self._write_locked)
                with self._changed:
                    if not self._queue:
                        self._leader = None
                        return
        except BaseException as exc:  # no leader any more: nobody may wait for one
            with self._changed:
                self._leader, failed, self._queue = None, self._queue, []
            self._finish(failed, [exc] * len(failed))
            raise

    def _write_locked(self) -> None:
        with self.writer:
            self._write_next()

    @staticmethod
    def _answer(mine: _Waiting[Item]) -> Result:
        if mine.error is not None:
            raise mine.error
        result: Result = mine.result
        return result

    def _ready(self) -> bool:
        """Whether the next group may start: full, or nobody known to be on the way."""
        queued = len(self._queue)
        return queued >= self.largest or (self._coming == 0 and queued >= self._expected)

    def _write_next(self) -> None:
        with self._changed:
            self._changed.wait_for(self._ready, self.linger)
            group, self._queue = self._queue[: self.largest], self._queue[self.largest :]
        if not group:  # another writer took them while this one waited for the lock
            return
        try:
            results: list[Any] = self.write([waiting.item for waiting in group])
        except Exception as exc:  # the whole group failed (say, the disk): each hears why
            results = [exc] * len(group)
        self._finish(group, results)
        if self.expect_back:
            with self._changed:  # those just answered, and those who waited meanwhile
                self._expected = min(self.largest, len(group) + len(self._queue))

    @staticmethod
    def _finish(group: list[_Waiting[Item]], results: list[Any]) -> None:
        for waiting, result in zip(group, results, strict=True):
            if isinstance(result, BaseException):
                waiting.error = result
            else:
                waiting.result = result
            waiting.done = True
            if waiting.answered is not None:
                waiting.answered()
