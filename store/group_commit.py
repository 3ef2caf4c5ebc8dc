"""Group commit: requests that arrive while a write is under way wait, and whoever gets the
writer's lock next writes all of them in one go (one transaction instead of one each)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
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
class GroupCommit(Generic[Item, Result]):
    """`write` takes the items of a group and returns one result (or exception) for each, in
    order; `writer` is the lock every writer of the same tables holds."""

    write: Callable[[list[Item]], list[Result | Exception]]
    writer: AbstractContextManager[Any]
    largest: int = 200  # items per group: a group's latency grows with its size
    _queue: list[_Waiting[Item]] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, item: Item) -> Result:
        mine = _Waiting(item)
        with self._queue_lock:
            self._queue.append(mine)
        while not mine.done:
            with self.writer:
                if not mine.done:
                    self._write_next()
        if mine.error is not None:
            raise mine.error
        result: Result = mine.result
        return result

    def _write_next(self) -> None:
        with self._queue_lock:
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
