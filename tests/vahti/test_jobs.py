"""The job board: a failing job is recorded and does not escape; a stop is not a failure."""

from __future__ import annotations

from vahti.jobs import JobBoard, Stopping


def test_failures_are_recorded_and_the_next_run_goes_on() -> None:
    board = JobBoard()
    board.register("detect", "every 300 s")

    def broken() -> str:
        raise RuntimeError("disk full")

    board.run("detect", broken)
    board.run("detect", lambda: "read 5 events")
    (job,) = board.snapshot({})
    assert (job["runs"], job["failures"], job["outcome"]) == (2, 1, "ok")
    assert job["message"] == "read 5 events"
    board.run("detect", broken)
    (job,) = board.snapshot({})
    assert job["outcome"] == "failed" and "disk full" in job["message"]


def test_a_stop_ends_the_job_without_failing_it() -> None:
    board = JobBoard()
    board.register("spool", "every 60 s")

    def stopped() -> str:
        raise Stopping

    board.run("spool", stopped)
    (job,) = board.snapshot({})
    assert job["outcome"] == "ok" and "stopping" in job["message"]
