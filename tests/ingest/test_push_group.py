"""Pushes written together: one parse and one transaction, each push still its own source
with its own report, errors and idempotency."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson

from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.push import (
    EARLIER_PUSHES,
    BatchConflict,
    PushedBody,
    PushError,
    PushReport,
    push_group,
)
from store import open_store
from store.compaction import compact
from store.group_commit import GroupCommit
from tests.helpers import query


def _body(users: list[str], bad_at: int | None = None) -> bytes:
    lines = [
        orjson.dumps(
            {"ts": "2026-10-01T06:00:00Z", "outcome": "failure", "user": u, "ip": "192.0.2.1"}
        )
        for u in users
    ]
    if bad_at is not None:
        lines[bad_at] = b'{"ts": "2026-10-01T06:00:00Z", "user": 5}'
    return b"\n".join(lines) + b"\n"


def _group(db: Path, pushes: list[PushedBody]) -> list[PushReport | Exception]:
    enricher = Enricher.open("", "", ())
    try:
        with open_store(db) as store:
            return push_group(store, pushes, enricher, ParseContext("jsonl", datetime(2026, 10, 1)))
    finally:
        enricher.close()


def test_each_push_of_a_group_is_its_own_source(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    first = PushedBody("a", _body(["a1", "a2", "a3"], bad_at=1))
    pushes = [
        first,
        PushedBody("b", _body(["b1"])),
        PushedBody("a", first.body),  # the same batch twice in one group: stored once
        PushedBody("a", _body(["other"])),  # the id of a batch with another body: refused
        PushedBody("c", b"[not json"),  # an unusable body: refused alone
        PushedBody("d", _body(["d1", "d2"], bad_at=0)),
    ]
    a, b, again, conflict, broken, d = _group(db, pushes)
    assert isinstance(a, PushReport) and (a.loaded, a.rejected[0]["line_no"]) == (2, 2)
    assert isinstance(b, PushReport) and b.loaded == 1
    assert isinstance(again, PushReport) and again.duplicate and again.loaded == 2
    assert isinstance(conflict, BatchConflict) and isinstance(broken, PushError)
    assert isinstance(d, PushReport) and (d.loaded, d.rejected[0]["line_no"]) == (1, 1)
    rows = query(db, 'SELECT s.path, e.line_no, e."user" FROM events e JOIN sources s '
                     "USING (source_id) ORDER BY e.event_id")  # fmt: skip
    assert rows == [("a", 1, "a1"), ("a", 3, "a3"), ("b", 1, "b1"), ("d", 2, "d2")]
    held = query(db, "SELECT s.path, q.line_no FROM quarantine q JOIN sources s "
                     "USING (source_id) ORDER BY 1")  # fmt: skip
    assert held == [("a", 2), ("d", 1)]
    (later,) = _group(db, [PushedBody("b", _body(["b1"]))])  # sent again later
    assert isinstance(later, PushReport) and later.duplicate and later.loaded == 1
    assert query(db, "SELECT count(*) FROM events") == [(4,)]


def test_concurrent_submissions_are_written_in_fewer_groups_and_each_gets_its_own_answer() -> None:
    groups: list[int] = []

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(len(items))
        time.sleep(0.05)  # a commit: others arrive meanwhile
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    grouped: GroupCommit[int, int] = GroupCommit(write, threading.Lock())
    answers: dict[int, object] = {}

    def client(i: int) -> None:
        try:
            answers[i] = grouped.submit(i)
        except ValueError as exc:
            answers[i] = str(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {i: f"odd {i}" if i % 2 else i * 10 for i in range(20)}
    assert sum(groups) == 20 and len(groups) < 20


def test_the_writer_waits_for_pushes_on_their_way_so_they_share_one_write() -> None:
    groups: list[list[int]] = []

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(sorted(items))
        return list(items)

    grouped: GroupCommit[int, int] = GroupCommit(write, threading.Lock(), linger=30.0)
    arrived = threading.Barrier(20)

    def client(i: int) -> None:
        with grouped.arriving() as arrival:
            arrived.wait()
            time.sleep(0.002 * i)  # its token checked and its body read, one after another
            assert grouped.submit(i, arrival) == i

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert groups == [list(range(20))]


def test_a_push_that_never_comes_holds_the_writer_no_longer_than_linger() -> None:
    grouped: GroupCommit[int, int] = GroupCommit(list, threading.Lock(), linger=0.05)
    with grouped.arriving():  # a client that never sends its body
        assert grouped.submit(1) == 1
    long: GroupCommit[int, int] = GroupCommit(list, threading.Lock(), linger=60.0)
    with long.arriving():
        pass  # refused (a wrong token, a 415): it no longer counts
    start = time.monotonic()
    assert long.submit(2) == 2
    assert time.monotonic() - start < 30


def test_coroutines_share_writes_without_a_thread_each_and_each_gets_its_own_answer() -> None:
    groups: list[list[int]] = []
    writers: set[int] = set()

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(sorted(items))
        writers.add(threading.get_ident())
        time.sleep(0.05)  # a commit: others arrive meanwhile
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    grouped: GroupCommit[int, int] = GroupCommit(write, threading.Lock())

    async def client(i: int) -> object:
        await asyncio.sleep(0.001 * i)
        try:
            return await grouped.submit_async(i)
        except ValueError as exc:
            return str(exc)

    async def clients() -> list[object]:
        return await asyncio.gather(*(client(i) for i in range(20)))

    assert asyncio.run(clients()) == [f"odd {i}" if i % 2 else i * 10 for i in range(20)]
    assert sorted(i for group in groups for i in group) == list(range(20)) and 1 < len(groups) < 20
    assert threading.get_ident() not in writers  # the loop's thread never writes
    assert grouped._leader is None  # nobody left leading


def test_a_failed_group_answers_every_coroutine_and_the_next_push_is_written() -> None:
    calls: list[list[int]] = []

    def write(items: list[int]) -> list[int | Exception]:
        calls.append(items)
        if len(calls) == 1:
            raise OSError("disk full")
        return list(items)

    grouped: GroupCommit[int, int] = GroupCommit(write, threading.Lock())

    async def twice() -> tuple[list[object], int]:
        first = await asyncio.gather(
            *(grouped.submit_async(i) for i in range(3)), return_exceptions=True
        )
        return [type(e).__name__ for e in first], await grouped.submit_async(7)

    assert asyncio.run(twice()) == (["OSError"] * 3, 7)


def test_coroutines_and_threads_share_one_writer() -> None:
    """Sync submitters (threads) and async ones on the same group commit: each is
    answered, whoever writes the group they are in."""
    lock = threading.Lock()
    grouped: GroupCommit[int, int] = GroupCommit(lambda items: [i + 1 for i in items], lock)
    answers: dict[int, int] = {}

    def thread_client(i: int) -> None:
        answers[i] = grouped.submit(i)

    async def both() -> list[int]:
        threads = [threading.Thread(target=thread_client, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        result = await asyncio.gather(*(grouped.submit_async(i) for i in range(10, 20)))
        for thread in threads:
            await asyncio.to_thread(thread.join)
        return list(result)

    assert asyncio.run(both()) == list(range(11, 21))
    assert answers == {i: i + 1 for i in range(10)}


def test_the_next_group_waits_for_the_clients_the_last_one_answered() -> None:
    """Shippers with a backlog push again as soon as they are answered, a few ms apart:
    with `expect_back`, their pushes share one write again instead of one each."""
    groups: list[list[int]] = []

    def write(items: list[int]) -> list[int | Exception]:
        groups.append(sorted(items))
        return list(items)

    def run(expect_back: bool) -> list[list[int]]:
        groups.clear()
        grouped: GroupCommit[int, int] = GroupCommit(
            write, threading.Lock(), linger=5.0, expect_back=expect_back
        )

        async def shipper(i: int) -> None:
            await grouped.submit_async(i)  # answered together with the others
            await asyncio.sleep(0.03 * i)  # back one after another
            await grouped.submit_async(10 + i)

        async def shippers() -> None:
            await asyncio.gather(*(shipper(i) for i in range(3)))

        asyncio.run(shippers())
        return list(groups)

    assert run(expect_back=True) == [[0, 1, 2], [10, 11, 12]]
    assert len(run(expect_back=False)) > 2  # each came back alone


def test_a_client_that_does_not_come_back_holds_the_next_group_no_longer_than_linger() -> None:
    grouped: GroupCommit[int, int] = GroupCommit(
        list, threading.Lock(), linger=0.05, expect_back=True
    )

    async def pushes() -> float:
        await asyncio.gather(*(grouped.submit_async(i) for i in range(3)))
        start = time.monotonic()
        await grouped.submit_async(9)  # the other two shippers are done
        return time.monotonic() - start

    assert asyncio.run(pushes()) < 2


def test_a_leader_of_an_event_loop_that_ended_does_not_stall_the_next_one() -> None:
    """An app's event loop can end while its leader is between two writes (a test client
    closing): pushes on the next loop start a leader of their own."""
    grouped: GroupCommit[int, int] = GroupCommit(list, threading.Lock())
    ended = asyncio.new_event_loop()
    stranded = ended.create_task(asyncio.sleep(3600))  # will never run again
    grouped._leader = stranded
    try:
        assert asyncio.run(asyncio.wait_for(grouped.submit_async(2), 5)) == 2
    finally:
        stranded.cancel()
        ended.run_until_complete(asyncio.gather(stranded, return_exceptions=True))
        ended.close()


def test_a_batch_id_is_found_through_the_index_and_compaction_keeps_it(tmp_path: Path) -> None:
    """Every push is a source and sources are kept: reading them all for each group would
    cost more with every push (120 ms a group at a million)."""
    db = tmp_path / "v.duckdb"
    pushes = [PushedBody(f"b-{i}", _body([f"u{i}"])) for i in range(30)]
    _group(db, pushes)
    with open_store(db) as store:
        for _ in range(2):
            ((_, plan),) = store.con.execute(
                f"EXPLAIN ANALYZE {EARLIER_PUSHES}", [["b-3", "b-17", "nope"]]
            ).fetchall()
            assert "Index Scan" in plan, plan
            assert [r[0] for r in store.con.execute(EARLIER_PUSHES, [["b-3"]]).fetchall()] == [
                "b-3"
            ]
            compact(store)
        assert store.con.execute(
            "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'sources'"
        ).fetchall() == [("sources_by_path",)]
