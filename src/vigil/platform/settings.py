"""Vigil's settings: a YAML file plus `VIGIL_*` environment overrides, loaded once in wiring."""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import platformdirs
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from vigil.platform.detection_settings import DetectionSettings

__all__ = [
    "IncidentSettings",
    "MaintenanceWindow",
    "Matcher",
    "PriorityRule",
    "RetentionSettings",
    "Settings",
    "SilenceRule",
    "WebhookAuth",
    "default_config_path",
    "default_database_url",
    "load_settings",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookAuth(_Model):
    """How one source's webhook proves who it is.

    `bearer`: `Authorization: Bearer <token>` (or `?token=`); `hmac`: the vendor's signature
    header over the raw body (PagerDuty v3 `X-PagerDuty-Signature: v1=<hex>`); `none` only
    for trusted networks.
    """

    mode: Literal["none", "bearer", "hmac"] = "none"
    token: SecretStr | None = None
    secret: SecretStr | None = None
    tenant: str = "default"

    @model_validator(mode="after")
    def _credential_present(self) -> WebhookAuth:
        if self.mode == "bearer" and not self.token:
            raise ValueError("bearer auth needs a token")
        if self.mode == "hmac" and not self.secret:
            raise ValueError("hmac auth needs a secret")
        return self


class Matcher(_Model):
    """Alertmanager-style label matcher: `=`, `!=`, `=~`, `!~` (regex fully anchored), over
    an event's labels as sent and Vigil's reading of its severity, source and entity (see
    `vigil.pipeline.matchers.event_labels`).

    A regex is compiled when the matcher is made, so a typo is refused where it is written
    (config file, API) instead of failing every event it is tried on."""

    name: str
    value: str
    op: Literal["=", "!=", "=~", "!~"] = "="

    @model_validator(mode="after")
    def _valid_regex(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None
        return self


class SilenceRule(_Model):
    """Mute matching events between `starts_at` and `ends_at` (expiry)."""

    id: str
    matchers: list[Matcher] = Field(min_length=1)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    comment: str = ""
    created_by: str = "config"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class MaintenanceWindow(_Model):
    """A recurring window (days + local start/end time) that mutes matching events."""

    name: str
    matchers: list[Matcher] = Field(min_length=1)
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: time
    end: time
    timezone: str = "UTC"
    expires_at: AwareDatetime | None = None


class PriorityRule(_Model):
    """When every matcher matches, the event gets this priority (first rule wins)."""

    matchers: list[Matcher] = Field(min_length=1)
    priority: Literal["P0", "P1", "P2", "P3"]


class IncidentSettings(_Model):
    """How alerts are grouped into incidents and when those end on their own."""

    # Same service, shared change/trace id or a neighbour in the dependency graph count
    # only within this many seconds of the incident's latest alert.
    window_seconds: float = Field(default=300, gt=0)
    # A resolved incident whose alerts fire again within this window is reopened.
    flap_window_seconds: float = Field(default=900, ge=0)
    # How far apart in the dependency graph two services may be to share an incident.
    max_hops: int = Field(default=1, ge=0, le=5)
    auto_resolve: Literal["all", "first", "last", "never"] = "all"


def _none_as_text(value: object) -> object:
    """``null`` in an environment variable (`VIGIL_RETENTION__INTAKE_DAYS=null`) is None."""
    if isinstance(value, str) and value.strip().lower() in ("", "null", "none"):
        return None
    return value


# Days to keep, at most a century; None keeps for ever.
_Days = Annotated[Annotated[float, Field(gt=0, le=36500)] | None, BeforeValidator(_none_as_text)]


class RetentionSettings(_Model):
    """How long what was taken in is kept (None: for ever). Events, incidents and the
    receipts behind the statistics are kept; these are the bulky parts."""

    # Raw webhook requests once processed (pending ones are always kept).
    intake_days: _Days = 7
    # Dead letters, replayed or not: fix the sender and replay within this time.
    dead_letter_days: _Days = 30
    every_seconds: float = Field(default=3600, gt=0)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("vigil", appauthor=False))


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'vigil.db'}"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("vigil", appauthor=False)) / "vigil.yaml"


class Settings(BaseSettings):
    """Everything configurable. Env names are `VIGIL_<FIELD>` (nested: `__`)."""

    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database_url: str = Field(default_factory=default_database_url)
    database_schema: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    default_tenant: str = "default"
    dedup_window_seconds: float = Field(default=6 * 3600, gt=0)
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    max_future_skew_seconds: float = Field(default=300, ge=0)
    max_event_age_days: float = Field(default=30, gt=0)
    catalog_path: Path | None = None
    # POST /api/v1/analyze: a bundle named in JSON is a folder under this one; a bundle
    # uploaded as an archive may be this large.
    bundle_root: Path = Field(default_factory=lambda: default_data_dir() / "bundles")
    max_bundle_bytes: int = Field(default=64 << 20, gt=0)
    webhooks: dict[str, WebhookAuth] = {}
    silences: list[SilenceRule] = []
    maintenance_windows: list[MaintenanceWindow] = []
    priority_rules: list[PriorityRule] = []
    processor_batch_size: int = Field(default=25, gt=0)
    # `vigil serve` processes in a child process; it runs this much nicer (lower CPU
    # priority) than the process answering webhooks, so a backlog never slows the 2xx.
    processing_nice: int = Field(default=10, ge=0, le=19)
    # Scale-out: with a bus, webhooks are published to it and `vigil worker`s store and
    # process them (nats://host:4222, JetStream); without one, all runs in-process.
    bus_url: str | None = Field(default=None, pattern=r"^nats://")
    bus_stream: str = Field(default="VIGIL_INTAKE", pattern=r"^[A-Za-z0-9_-]+$")
    bus_subject: str = Field(default="vigil.intake", pattern=r"^[A-Za-z0-9_.-]+$")
    # How long workers wait for a missing stream sequence (a message another worker is
    # storing, or one a dead worker took, redelivered after the ack wait) before giving up.
    bus_gap_seconds: float = Field(default=60.0, gt=0)
    incidents: IncidentSettings = IncidentSettings()
    retention: RetentionSettings = RetentionSettings()
    detection: DetectionSettings = DetectionSettings()
    log_level: str = "info"

    # The YAML file this class reads; load_settings binds it on a subclass.
    config_file: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = getattr(settings_cls, "config_file", None)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    def auth_for(self, source: str) -> WebhookAuth:
        return self.webhooks.get(source, WebhookAuth(tenant=self.default_tenant))

    @property
    def authenticated(self) -> bool:
        """Whether any webhook source asks for a credential (so the server is not open)."""
        return any(auth.mode != "none" for auth in self.webhooks.values())


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load once: explicit overrides > `VIGIL_*` env > YAML file > defaults.

    The YAML file is `config_file`, else `$VIGIL_CONFIG`, else the user config dir's
    `vigil.yaml` when it exists.
    """
    path = config_file
    if path is None and os.environ.get("VIGIL_CONFIG"):
        path = Path(os.environ["VIGIL_CONFIG"])
    if path is None and default_config_path().exists():
        path = default_config_path()
    if path is not None and not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    overrides.pop("config", None)
    bound: type[Settings] = type("Settings", (Settings,), {"config_file": path})
    return bound(**overrides)
