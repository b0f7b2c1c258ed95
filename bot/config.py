"""The settings table of product.md, read from the environment and validated at start.

Declared as a pydantic-settings model; a bad value becomes one ConfigError line that
names the variable, which is what the operator reads when the bot refuses to start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_HTTP_URL = re.compile(r"^https?://[^/\s?#]+(/\S*)?$")


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable."""


def _http_url(value: str) -> str:
    if not _HTTP_URL.match(value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value


def _without_trailing_slash(value: str) -> str:
    return value.rstrip("/")


def _slack_ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    ids = tuple(part for part in re.split(r"[\s,]+", str(value)) if part)
    for item in ids:
        if not _SLACK_ID.match(item):
            raise ValueError(
                f"must list Slack user ids (U…, W…) or user group ids (S…), got {item!r}"
            )
    return ids


_ORGANIZATION_PATTERN = re.compile(r"^[A-Za-z0-9_*-]+$")


def _organization_patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    patterns = tuple(part for part in re.split(r"[\s,]+", str(value)) if part)
    for item in patterns:
        if not _ORGANIZATION_PATTERN.match(item):
            raise ValueError(
                "must list Terraform organization names or * globs (letters, digits, -, _ and "
                f"*), got {item!r}"
            )
    return patterns


def _prefixed(prefix: str, what: str) -> AfterValidator:
    def check(value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(prefix):
            raise ValueError(f"must be {what} starting with {prefix}")
        return value

    return AfterValidator(check)


def _sqlalchemy_url(value: str) -> str:
    if "://" not in value:
        raise ValueError(f"must be an SQLAlchemy URL, got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
BaseUrl = Annotated[str, AfterValidator(_http_url), AfterValidator(_without_trailing_slash)]
SlackIds = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_slack_ids)]
OrganizationPatterns = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_organization_patterns)]
Seconds = PositiveFloat

# Said after "NAME is required: " when a required setting is missing.
_REQUIRED_HINTS = {
    "slack_bot_token": "the bot token (xoxb-…) from the Slack app",
    "tfe_token": "a token allowed to manage VCS settings",
}
# Never echoed back in an error line.
_SECRETS = frozenset({"slack_bot_token", "tfe_token", "slack_signing_secret", "slack_app_token"})
# Said instead of pydantic's own words for values of the wrong type.
_TYPE_HINTS = {
    "port": "must be a TCP port number (1-65535)",
    "escalate_after": "must be a whole number greater than 0",
}


class Settings(BaseSettings):
    """Every setting the bot reads, already parsed. Tokens are SecretStr: never in repr()."""

    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", frozen=True, case_sensitive=False
    )

    slack_bot_token: Annotated[SecretStr, _prefixed("xoxb-", "a bot token")]
    tfe_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: Annotated[SecretStr, _prefixed("xapp-", "an app-level token")] | None = None
    slack_api_url: HttpUrl = "https://slack.com/api/"
    port: Annotated[int, Field(gt=0, lt=65536)] = 3000
    database_url: Annotated[str, AfterValidator(_sqlalchemy_url)] = "sqlite:///connect_bitbucket.db"
    tfe_url: BaseUrl = "https://app.terraform.io"
    bitbucket_url: BaseUrl = "https://bitbucket.org"
    bitbucket_api_url: BaseUrl = "https://api.bitbucket.org/2.0"
    approvers: SlackIds = ()
    allowed_users: SlackIds = ()
    organizations: OrganizationPatterns = ()
    stall_after: Seconds = 86400
    remind_every: Seconds = 86400
    escalate_after: PositiveInt = 3
    expire_after: Seconds = 1209600
    token_poll_every: Seconds = 5
    health_every: Seconds = 21600

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # "  " in the environment means "not set", as an empty value does.
        if isinstance(data, dict):
            data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _signing_secret_or_app_token(self) -> Settings:
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError("SLACK_SIGNING_SECRET")
        return self

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is used whenever an app-level token is configured."""
        return self.slack_app_token is not None


DEFAULT_DATABASE_URL: str = Settings.model_fields["database_url"].default


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (the process environment when None), or raise ConfigError
    naming the first bad variable."""
    try:
        if env is None:
            return Settings()  # type: ignore[call-arg]  # pydantic-settings fills it from the env
        names = Settings.model_fields
        return Settings.model_validate({k.lower(): v for k, v in env.items() if k.lower() in names})
    except ValidationError as error:
        raise ConfigError(_worded(error)) from None


def _worded(error: ValidationError) -> str:
    """One line for the first problem pydantic found, starting with the variable's name."""
    first = error.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    if not location:  # the model-level check
        return (
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    field = location[0]
    name = field.upper()
    if first["type"] == "missing":
        return f"{name} is required: {_REQUIRED_HINTS.get(field, 'see the README')}"
    given = first.get("input")
    shown = "" if field in _SECRETS else f", got {given!r}"
    message = str(first["msg"]).removeprefix("Value error, ")
    if message.startswith("must "):
        return f"{name} {message}"
    if field in _TYPE_HINTS:
        return f"{name} {_TYPE_HINTS[field]}{shown}"
    if "greater than 0" in message:
        return f"{name} must be greater than 0{shown}"
    if field in ("stall_after", "remind_every", "expire_after", "token_poll_every", "health_every"):
        return f"{name} must be a number of seconds{shown}"
    return f"{name}: {message}{shown}"
