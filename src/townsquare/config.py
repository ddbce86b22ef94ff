"""Settings, from (highest first) command-line flags, `TOWNSQUARE_*` environment variables,
`townsquare.toml` in the working folder (or the file named by `TOWNSQUARE_CONFIG`), and defaults.

Every setting is documented in `docs/configuration.md`; a test fails when one is not.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class AlertWebhook(BaseModel):
    url: str = Field(description="Receiver address (e.g. a chat tool's incoming webhook relay).")
    secret: SecretStr = Field(description="Key of the `X-Townsquare-Signature: sha256=...` HMAC of the body.")


if TYPE_CHECKING:
    from townsquare.triage import CustomPattern


def _config_file() -> Path:
    return Path(os.environ.get("TOWNSQUARE_CONFIG", "townsquare.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOWNSQUARE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///townsquare.db",
        description="SQLAlchemy URL. SQLite file by default; postgresql+psycopg://... at scale.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs session cookies. Generated once and kept in the database when unset.",
    )
    host: str = Field(default="127.0.0.1", description="Address `townsquare serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `townsquare serve` binds.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where users and networks reach this server (links, webhook addresses).",
    )
    reopen_window_hours: float = Field(
        default=168.0, ge=0, description="A resolved conversation reopens when the customer writes within it."
    )
    sla_first_response_minutes: dict[str, int] = Field(
        default={"urgent": 15, "high": 60, "normal": 240, "low": 1440},
        description="First-response target per priority.",
    )
    sla_resolution_hours: dict[str, int] = Field(
        default={"urgent": 4, "high": 24, "normal": 72, "low": 168},
        description="Resolution target per priority.",
    )
    pipeline_batch_size: int = Field(default=500, ge=1, le=10_000, description="Messages per pipeline batch.")
    triage: Literal["off", "fast", "accurate", "full"] = Field(
        default="fast",
        description="Triage model the pipeline runs on every inbound message: fast (n-grams), accurate "
        "(sentence encoders, e5 only where unsure) or full (e5 on every post; slowest, best).",
    )
    triage_e5_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Accurate triage: about this share of posts goes on to e5 by sentiment doubt (more: better "
        "sentiment, fewer posts per second; docs/triage.md has the chart). Unset: the model's own (25 %).",
    )
    personal_data_patterns: dict[str, str] = Field(
        default={},
        description="The company's own identifiers as kind = regular expression (e.g. customer_number = "
        "'KD-\\d{8}'): flagged in customer posts and refused in public replies like phone numbers.",
    )
    urgency_words: dict[str, list[str]] = Field(
        default={},
        description="The company's own words per urgency topic (safety, fraud, legal, outage), next to the "
        "built-in lists, e.g. outage = ['Glasfaser', '5G']: plain words matched at a word start, any case.",
    )
    outbox_max_attempts: int = Field(default=8, ge=1, description="Delivery attempts before a reply fails.")
    outbox_poll_seconds: float = Field(default=0.5, gt=0, description="How often the outbox looks for work.")
    cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure (behind HTTPS).")
    incidents: bool = Field(default=True, description="Detect outages from bursts of reports in the pipeline.")
    incident_sensitivity: float = Field(
        default=0.5, ge=0, le=1, description="0 = only overwhelming bursts open incidents, 1 = jumpy."
    )
    incident_min_reports: int = Field(
        default=5, ge=2, description="Reports from distinct customers needed to open an incident."
    )
    incident_late_reply: bool = Field(
        default=True,
        description="Customers who report after an update was published get that update at once, in their language.",
    )
    status_page_title: str = Field(default="Service status", description="Heading of the public status page.")
    status_accounts: list[str] = Field(
        default=[], description="Company accounts ('network/account') that post every status update."
    )
    alert_webhooks: list[AlertWebhook] = Field(
        default=[], description="Where new and growing incidents are announced: signed JSON POSTs."
    )
    demo_rate_per_minute: float = Field(
        default=6.0, ge=0, description="Posts per minute from the demo network's simulated customers."
    )

    @field_validator("personal_data_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"personal_data_patterns.{kind}: not a regular expression ({error})") from None
        return value

    @field_validator("urgency_words")
    @classmethod
    def _urgency_words_usable(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from townsquare.triage.urgency import company_words_error

        error = company_words_error(value)
        if error:
            raise ValueError(error)
        return value

    def custom_patterns(self) -> list[CustomPattern]:
        from townsquare.triage import CustomPattern

        return [CustomPattern(kind=kind, regex=regex) for kind, regex in sorted(self.personal_data_patterns.items())]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )


def load_settings(**overrides: Any) -> Settings:
    """Settings with flag values laid over the environment and the file; `None` means 'not given'."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)
