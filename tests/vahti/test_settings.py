from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vahti.settings import ConfigError, load_settings, parse_duration


def test_defaults() -> None:
    settings = load_settings(None)
    assert settings.retention.events == timedelta(days=180)
    assert settings.retention.pseudonymise_after == timedelta(days=90)
    assert settings.geoip.city_db == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vahti.toml"
    config.write_text(
        '[retention]\nevents = "30d"\nalerts = "365d"\n[geoip]\nown_networks = ["10.0.0.0/8"]\n'
    )
    monkeypatch.setenv("VAHTI_RETENTION_EVENTS", "7d")
    settings = load_settings(config)
    assert settings.retention.events == timedelta(days=7)  # the environment wins
    assert settings.retention.alerts == timedelta(days=365)
    assert settings.geoip.own_networks == ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[retention]\nevnts = "30d"\n', "retention.evnts: unknown key"),
        (
            '[retention]\nevents = "30 days"\n',
            "retention.events: Value error, bad duration '30 days'",
        ),
        ("[nonsense]\nx = 1\n", "nonsense: unknown key"),
        ('[geoip]\nown_networks = ["10.0.0.0/33"]\n', "not a network: '10.0.0.0/33'"),
        ("[retention\n", "not valid TOML"),
        ('[audit]\ncheckpoint_every = "2h"\n', "checkpoints are signed at least hourly"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "vahti.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert message in str(caught.value)


def test_bad_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAHTI_RETENTION_AUDIT", "forever")
    with pytest.raises(ConfigError, match=r"retention\.audit"):
        load_settings(None)


def test_store_memory_limit(tmp_path: Path) -> None:
    assert load_settings(None).store.memory_limit == "2GB"
    config = tmp_path / "vahti.toml"
    config.write_text('[store]\nmemory_limit = "lots"\n')
    with pytest.raises(ConfigError, match=r"store\.memory_limit"):
        load_settings(config)


def test_checkpoint_threshold_reaches_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vahti.shell import open_db

    monkeypatch.setenv("VAHTI_STORE_CHECKPOINT_THRESHOLD", "64MB")
    settings = load_settings(None)
    with open_db(tmp_path / "v.duckdb", settings) as store:
        ((value,),) = store.con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()
    assert value == "61.0 MiB"  # DuckDB prints 64MB (decimal) in MiB
    monkeypatch.setenv("VAHTI_STORE_CHECKPOINT_THRESHOLD", "lots")
    with pytest.raises(ConfigError, match=r"store\.checkpoint_threshold"):
        load_settings(None)
