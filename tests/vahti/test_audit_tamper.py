"""A database administrator tampers with the audit table, through the real CLI's eyes: each
tamper that keeps the hash chain consistent is caught by the signed checkpoint kept outside
the database; a forged checkpoint is caught by its signature."""

from __future__ import annotations

import shutil
import signal
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import duckdb
import orjson
import pytest

import privacy.purge
from privacy.purge import purge
from store import open_store
from store.audit import GENESIS, AuditTrail, append, entry_hash
from store.checkpoints import signing_key, write_checkpoint
from tests.conftest import LOGHUB, run_cli
from tests.helpers import query
from tests.vahti.test_serve import _get, _serve, _wait_for
from vahti.privacy_cli import policy_of
from vahti.remote import token_file
from vahti.settings import RetentionSettings, load_settings
from vahti.shell import checkpoint_files, now_utc

Tamper = Callable[[duckdb.DuckDBPyConnection], None]


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database whose audit log has ten entries, signed after each command."""
    db = tmp_path_factory.mktemp("sealed") / "vahti.duckdb"
    for i in range(5):
        added = run_cli("hold", "add", "--user", f"u{i}", "--reason", "case 7", "--db", str(db))
        assert added.returncode == 0, added.stderr
        assert run_cli("hold", "list", "--db", str(db)).returncode == 0
    return db


def _copy(sealed: Path, to: Path) -> Path:
    for suffix in ("", ".audit-key", ".checkpoints"):
        source = Path(f"{sealed}{suffix}")
        if source.exists():
            shutil.copy2(source, Path(f"{to / sealed.name}{suffix}"))
    return to / sealed.name


def _verify(db: Path, *more: str) -> tuple[int, str]:
    result = run_cli("audit", "verify", "--db", str(db), *more)
    return result.returncode, result.stdout + result.stderr


def _rehash(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every hash from the start, as a careful forger would."""
    anchor = con.execute("SELECT hash FROM audit_anchor").fetchall()
    prev = anchor[0][0] if anchor else GENESIS
    rows = con.execute(
        "SELECT seq, logged_at, actor, action, detail FROM audit ORDER BY seq"
    ).fetchall()
    for seq, at, actor, action, detail in rows:
        digest = entry_hash(seq, at, actor, action, detail, prev)
        con.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, digest, seq])
        prev = digest


def _drop_last_three(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM audit WHERE seq > (SELECT max(seq) - 3 FROM audit)")


def _drop_all(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM audit")


def _rewrite(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""UPDATE audit SET actor = 'someone-else' WHERE seq = 2""")
    _rehash(con)


def _forge_anchor(con: duckdb.DuckDBPyConnection) -> None:
    first = con.execute("SELECT hash FROM audit WHERE seq = 4").fetchall()[0][0]
    con.execute("DELETE FROM audit WHERE seq <= 4")
    con.execute("DELETE FROM audit_anchor")
    con.execute("INSERT INTO audit_anchor VALUES (4, ?, now()::TIMESTAMP)", [first])


TAMPERS: dict[str, tuple[Tamper, str]] = {
    "last three rows deleted": (_drop_last_three, "truncated"),
    "every row deleted": (_drop_all, "truncated"),
    "a row altered, every hash recomputed": (_rewrite, "rewritten"),
    "first rows deleted under a forged anchor": (_forge_anchor, "start was moved"),
}


def test_the_untouched_log_verifies(sealed: Path, tmp_path: Path) -> None:
    code, said = _verify(_copy(sealed, tmp_path))
    assert code == 0 and "holds against the latest signed checkpoint" in said


@pytest.mark.parametrize("name", TAMPERS)
def test_each_tamper_the_chain_alone_misses_is_reported(
    sealed: Path, tmp_path: Path, name: str
) -> None:
    tamper, expected = TAMPERS[name]
    db = _copy(sealed, tmp_path)
    with duckdb.connect(str(db)) as con:
        tamper(con)
    code, said = _verify(db)
    assert code == 1 and expected in said, said


def test_a_forged_checkpoint_and_a_missing_one_are_reported(sealed: Path, tmp_path: Path) -> None:
    db = _copy(sealed, tmp_path)
    checkpoints = Path(f"{db}.checkpoints")
    lines = checkpoints.read_text().splitlines()
    last = lines[-1].replace('"entries":', '"entries":1', 1)  # e.g. 10 -> 110
    checkpoints.write_text("\n".join([*lines[:-1], last]) + "\n")
    code, said = _verify(db)
    assert code == 1 and "not signed by the audit key" in said
    checkpoints.unlink()
    code, said = _verify(db)
    assert code == 1 and "no checkpoint" in said


def test_an_auditor_holding_a_published_head(sealed: Path, tmp_path: Path) -> None:
    db = _copy(sealed, tmp_path)
    head = run_cli("audit", "head", "--db", str(db)).stdout.split()[1]
    assert _verify(db, "--expect-head", head)[0] == 0
    code, said = _verify(db, "--expect-head", "0" * 64)
    assert code == 1 and "published head" in said


def test_a_signing_key_readable_by_others_is_refused(sealed: Path, tmp_path: Path) -> None:
    db = _copy(sealed, tmp_path)
    Path(f"{db}.audit-key").chmod(0o644)
    code, said = _verify(db)
    assert code == 1 and "chmod 600" in said


@pytest.mark.parametrize("name", TAMPERS)
def test_a_tamper_is_not_hidden_by_a_later_checkpoint(
    sealed: Path, tmp_path: Path, name: str
) -> None:
    """vahti refuses to sign over a tampered log; a checkpoint signed over it anyway (by a
    signer that did not check) still leaves the earlier checkpoints to catch it."""
    tamper, expected = TAMPERS[name]
    db = _copy(sealed, tmp_path)
    with duckdb.connect(str(db)) as con:
        tamper(con)
    for command in (("audit", "checkpoint"), ("events", "--user", "u1", "--purpose", "case 7")):
        refused = run_cli(*command, "--db", str(db))
        assert refused.returncode == 1 and "checkpoint not signed" in refused.stderr, command
        assert expected in refused.stderr, refused.stderr
    key = signing_key(Path(f"{db}.audit-key"))
    with duckdb.connect(str(db)) as con:
        write_checkpoint(con, key, Path(f"{db}.checkpoints"), datetime(2026, 12, 4, 16))
    code, said = _verify(db)
    assert code == 1 and ("start was moved" if "anchor" in name else expected) in said, said


def test_a_replaced_or_lost_key_is_not_taken_for_the_audit_key(
    sealed: Path, tmp_path: Path
) -> None:
    db = _copy(sealed, tmp_path)
    key_file = Path(f"{db}.audit-key")
    key_file.unlink()
    refused = run_cli("audit", "checkpoint", "--db", str(db))
    assert refused.returncode == 1 and "restore the key" in refused.stderr
    assert not key_file.exists()
    with duckdb.connect(str(db)) as con:  # a forger's own key, and a checkpoint signed with it
        _rewrite(con)
        write_checkpoint(con, signing_key(key_file), Path(f"{db}.checkpoints"), datetime.now())
    code, said = _verify(db)
    assert code == 1 and "the key was replaced" in said, said


def test_the_server_refuses_to_start_on_a_key_others_can_read(sealed: Path, tmp_path: Path) -> None:
    db = _copy(sealed, tmp_path)
    Path(f"{db}.audit-key").chmod(0o640)
    started = run_cli("serve", "--port", "1", "--db", str(db))
    assert started.returncode == 1 and "chmod 600" in started.stderr, started.stderr


def test_a_purge_moves_the_start_and_says_so_in_its_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    with open_store(db) as store:
        for i in range(5):
            append(store.con, "dpo", "holds.add", {"n": i}, now_utc() - timedelta(hours=5))
    assert run_cli("audit", "checkpoint", "--db", str(db)).returncode == 0
    env = {"VAHTI_RETENTION_AUDIT": "1h"}
    purged = run_cli("retention", "purge", "--db", str(db), env=env)
    assert purged.returncode == 0, purged.stderr
    code, said = _verify(db)
    assert code == 0, said
    last = orjson.loads(Path(f"{db}.checkpoints").read_bytes().splitlines()[-1])
    assert last["purge"] is True and last["anchor_seq"] == 5


def _aged(tmp_path: Path, ages_hours: list[float]) -> Path:
    """A database whose audit log has entries logged that many hours ago, signed."""
    db = tmp_path / "vahti.duckdb"
    with open_store(db) as store:
        for i, hours in enumerate(ages_hours):
            append(store.con, "dpo", "holds.add", {"n": i}, now_utc() - timedelta(hours=hours))
    assert run_cli("audit", "checkpoint", "--db", str(db)).returncode == 0
    return db


def test_a_purge_cut_off_before_its_checkpoint_leaves_a_log_that_still_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move of the start is signed before the purge makes it: a crash (here a full disk
    in the compaction) between the delete and the purge's own checkpoint blocks nothing."""
    db = _aged(tmp_path, [6, 6, 6, 0.1])

    def disk_full(store: object) -> tuple[int, int]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(privacy.purge, "compact", disk_full)
    settings = load_settings(None).model_copy(
        update={"retention": RetentionSettings(audit=timedelta(hours=1))}
    )
    with open_store(db) as store, pytest.raises(OSError):
        announce = partial(checkpoint_files(db, settings).sign, store.con, now_utc())
        purge(store, AuditTrail(store), policy_of(settings), now_utc(), "dpo", announce)
    assert _verify(db)[0] == 0, _verify(db)[1]
    assert run_cli("audit", "checkpoint", "--db", str(db)).returncode == 0
    assert query(db, "SELECT min(seq) FROM audit") == [(4,)]


def test_entries_logged_under_a_clock_set_back_are_purged_in_order(tmp_path: Path) -> None:
    db = _aged(tmp_path, [4, 2.75, 3.05, 2])  # the clock stepped back before entry 3
    purged = run_cli("retention", "purge", "--db", str(db), env={"VAHTI_RETENTION_AUDIT": "3h"})
    assert purged.returncode == 0, purged.stderr
    assert query(db, "SELECT min(seq) FROM audit") == [(2,)]  # entry 3 keeps entry 2 in
    code, said = _verify(db)
    assert code == 0, said


def test_a_database_with_nothing_audited_verifies(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    assert run_cli("ingest", str(LOGHUB), "--year", "2016", "--db", str(db)).returncode == 0
    code, said = _verify(db)
    assert code == 0 and "nothing signed yet" in said, said


def test_entries_aged_by_hand_are_neither_signed_nor_purged(tmp_path: Path) -> None:
    """Making the first entries look old (without new hashes) so that a routine purge
    would take them: signing and the purge both refuse, and the entries stay."""
    db = _aged(tmp_path, [0.5, 0.4, 0.3, 0.2])
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE audit SET logged_at = logged_at - INTERVAL 3 YEAR WHERE seq <= 2")
    refused = run_cli("audit", "checkpoint", "--db", str(db))
    assert refused.returncode == 1 and "chain broken at entry 1" in refused.stderr
    assert run_cli("events", "--user", "u", "--purpose", "p", "--db", str(db)).returncode == 0
    purged = run_cli("retention", "purge", "--db", str(db))
    assert purged.returncode == 1 and "checkpoint not signed" in purged.stderr
    assert query(db, "SELECT count(*) FROM audit WHERE seq <= 2") == [(2,)]


def test_a_second_start_row_is_named_and_gives_no_published_head(tmp_path: Path) -> None:
    db = _aged(tmp_path, [0.3, 0.2, 0.1])
    head = run_cli("audit", "head", "--db", str(db)).stdout.split()[1]
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM audit WHERE seq = 3")
        con.execute(f"INSERT INTO audit_anchor VALUES (0, '{GENESIS}', now()::TIMESTAMP)")
        con.execute("INSERT INTO audit_anchor VALUES (3, ?, now()::TIMESTAMP)", [head])
    code, said = _verify(db, "--expect-head", head)
    assert code == 1 and "published head" in said and "more than one start" in said, said


def test_an_emptied_checkpoint_file_is_not_started_again(tmp_path: Path) -> None:
    db = _aged(tmp_path, [0.3, 0.2, 0.1])
    Path(f"{db}.checkpoints").write_text("")
    refused = run_cli("events", "--user", "u1", "--purpose", "case 7", "--db", str(db))
    assert refused.returncode == 1 and "restore it from a copy" in refused.stderr
    assert Path(f"{db}.checkpoints").read_text() == ""


def test_a_server_that_purged_the_audit_log_stops_cleanly(tmp_path: Path) -> None:
    """Its last checkpoint at the stop held the server to the start it began with (before
    its purge moved it): exit 1 and a message that read like a tamper report."""
    db = _aged(tmp_path, [6, 6, 0.1])
    server, port = _serve(
        db, tmp_path, VAHTI_RETENTION_AUDIT="1h", VAHTI_SERVICE_DETECT_EVERY="1h",
        VAHTI_INGEST_SPOOL_DIR=str(tmp_path / "spool"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        token = _wait_for(lambda: token_file(db).exists() and token_file(db).read_text().strip())
        request = urllib.request.Request(f"{url}/retention/purge", method="POST",
                                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status in (200, 202)
        _wait_for(lambda: any(j["name"] == "retention" and j["runs"] and j["outcome"] == "ok"
                              for j in _get(f"{url}/jobs", token)[1]))  # fmt: skip
        assert _get(f"{url}/audit/verify", token)[1]["ok"] is True
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0 and "not signed" not in stderr, stderr
    assert query(db, "SELECT min(seq) FROM audit") == [(3,)]
    assert _verify(db)[0] == 0
