"""Configuration: contract section 4, loaded once in the composition root and passed down."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from analytics.detectors.common import Duration, duration


class ConfigError(ValueError):
    """A configuration file or variable is unusable; the message names the key."""


parse_duration = duration  # one reader of `90d` for the rules and the configuration


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _networks(value: Any) -> Any:
    """Addresses or CIDRs, each checked: one string is a list of one."""
    import ipaddress

    if isinstance(value, str):
        value = [value]
    for cidr in value:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a network: {cidr!r}") from exc
    return tuple(value)


class RetentionSettings(Section):
    events: Duration = parse_duration("180d")
    quarantine: Duration = parse_duration("30d")
    alerts: Duration = parse_duration("730d")
    audit: Duration = parse_duration("730d")
    pseudonymise_after: Duration = parse_duration("90d")

    @field_validator("*")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        # Zero would purge everything on the next run: surely a mistake, never a policy.
        if value < timedelta(hours=1):
            raise ValueError("a retention period must be at least 1h")
        return value


class GeoIPSettings(Section):
    city_db: str = ""
    asn_db: str = ""
    own_networks: tuple[str, ...] = ()

    @field_validator("own_networks", mode="before")
    @classmethod
    def _check_cidrs(cls, value: Any) -> Any:
        return _networks(value)


class AccessLogSettings(Section):
    """Which requests of a combined-format web log are login attempts, and how they ended."""

    login_paths: tuple[str, ...] = ("/login",)
    methods: tuple[str, ...] = ("POST",)
    success_status: tuple[int, ...] = (302, 303)
    failure_status: tuple[int, ...] = (200, 401, 403)
    user_param: str = ""  # query parameter carrying the user name, if the service logs one
    service: str = ""
    # Where the portal redirects a login (the `Location` header, when the log has it):
    # prefixes of the path or of the whole URL. They outrank the status (README, "access").
    success_location: tuple[str, ...] = ()
    failure_location: tuple[str, ...] = ()
    # Proxies whose forwarded header names the client; empty: the peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    # Only the header the proxies write can be believed: the other one is the client's own.
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # Text lines in another shape than combined: the nginx `log_format` that wrote them.
    log_format: str = ""
    # JSON lines with keys of the operator's own: field -> key path (`request.client_ip`).
    json_fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        if value:
            from ingest.access_formats import compile_log_format

            compile_log_format(value)  # its LogFormatError (a ValueError) names what is missing
        return value

    @field_validator("json_fields")
    @classmethod
    def _check_json_fields(cls, value: dict[str, str]) -> dict[str, str]:
        from ingest.access_formats import FIELDS

        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown fields {unknown}: use {', '.join(FIELDS)}")
        for field, path in value.items():
            if not re.fullmatch(r"[\w@$-]+(?:\.[\w@$-]+)*", path):
                raise ValueError(f"{field}: a key path is names joined by dots, not {path!r}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _check_proxies(cls, value: Any) -> Any:
        return _networks(value)

    @field_validator("success_location", "failure_location")
    @classmethod
    def _check_locations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not re.match(r"^(/|https?://)", prefix):
                raise ValueError(f"a location starts with / or http(s)://, not {prefix!r}")
        return value


class IngestSettings(Section):
    batch_bytes: int = Field(default=16 * 1024 * 1024, ge=4096)
    spool_dir: str = "spool"
    syslog_tz: str = "UTC"


class StoreSettings(Section):
    # DuckDB's own memory (caches, hash tables); past it, it spills to disk. Empty: DuckDB's
    # default, 80 % of RAM, which a big detection run then uses on top of Polars' frames.
    memory_limit: str = Field(
        default="2GB", pattern=r"^(\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB))?$"
    )
    # Write-ahead log size that triggers a checkpoint: 256MB ingests fastest; 64MB keeps
    # memory nearly flat as files grow, at some speed (docs/benchmarks.md).
    checkpoint_threshold: str = Field(
        default="256MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$"
    )


class ApiSettings(Section):
    """The HTTP service. No secrets here: tokens live hashed in the store."""

    cors_origins: tuple[str, ...] = ()  # browsers of other origins are refused unless listed
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    auth_failures_per_minute: int = Field(default=10, ge=1)
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / Forwarded header names
    # the client. Empty (the default): the peer is the client and those headers are
    # ignored, so no one can pose as another address to the limiter or the audit log.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or CIDR: {item!r}") from exc
        return value


class AuditSettings(Section):
    """Signed checkpoints of the audit chain, outside the database (store/checkpoints.py)."""

    key_file: str = ""  # Ed25519 key, owner-only; default: <database>.audit-key
    checkpoint_file: str = ""  # append-only; default: <database>.checkpoints
    checkpoint_every: Duration = parse_duration("1h")  # by `vahti serve`, and at every purge
    # Each signed checkpoint is also POSTed here (JSON), so a copy lives on another machine.
    checkpoint_webhook: str = Field(default="", pattern=r"^(https?://\S+)?$")

    @field_validator("checkpoint_every")
    @classmethod
    def _at_least_hourly(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(hours=1):
            raise ValueError("checkpoints are signed at least hourly: give at most 1h")
        return value


class ServiceSettings(Section):
    """What `vahti serve` runs on a schedule."""

    spool_every: Duration = parse_duration("1m")
    detect_every: Duration = parse_duration("5m")
    purge_at: str = Field(default="03:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "Europe/Helsinki"

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class DetectionSettings(Section):
    rules_dir: str = ""  # empty: the rules shipped with vahti
    # A rule file that does not load stops detection (exit 1; `serve` refuses to start)
    # unless this is set (or `--skip-broken` given): then the others run and it is named.
    skip_broken: bool = False


class Settings(BaseSettings):
    """Every key has a default; `VAHTI_<SECTION>_<KEY>` overrides the file."""

    model_config = SettingsConfigDict(
        env_prefix="VAHTI_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    retention: RetentionSettings = RetentionSettings()
    audit: AuditSettings = AuditSettings()
    geoip: GeoIPSettings = GeoIPSettings()
    access: AccessLogSettings = AccessLogSettings()
    ingest: IngestSettings = IngestSettings()
    detection: DetectionSettings = DetectionSettings()
    store: StoreSettings = StoreSettings()
    api: ApiSettings = ApiSettings()
    service: ServiceSettings = ServiceSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; the environment must win over it.
        return env_settings, init_settings


def _describe(error: ValidationError, origin: str) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{key}: {message}")
    return f"{origin}: " + "; ".join(problems)


def load_settings(path: Path | None) -> Settings:
    """Read the TOML file (if any), apply VAHTI_* variables, validate everything once."""
    data: dict[str, Any] = {}
    origin = "configuration"
    if path is not None:
        origin = f"config file {path}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc
