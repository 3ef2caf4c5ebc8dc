"""The quality benchmark's scenarios (written from the contract alone, not from the demo)
through the real CLI on a fresh DuckDB file: detection holds its targets on a seed."""

from __future__ import annotations

from bench.quality import run_seed


def test_seed_one_meets_the_targets() -> None:
    result = run_seed(1, days=30, history=63, scale=1.0, keep=None)
    assert result.error is None, result.error
    assert result.score is not None
    overall = result.score.overall
    missed = [f"{m.category} {m.entity}" for m in result.score.missed]
    false = [f"{a.category} {a.entity}: {a.summary}" for a in result.score.false_positives]
    assert overall.recall is not None and overall.recall >= 0.95, missed
    assert overall.precision is not None and overall.precision >= 0.95, false
    for name, item in result.score.categories.items():
        if item.required:
            assert item.recall is not None and item.recall >= 0.9, (name, missed)
        if item.true_positives + item.false_positives:
            assert item.precision is not None and item.precision >= 0.9, (name, false)
