"""The settings (the README's Configuration table), read from the environment and validated
at start.

Declared as a pydantic-settings model; a bad value becomes one ConfigError line that
names the variable, which is what the operator reads when the bot refuses to start.
"""

from __future__ import annotations

import os
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
    field_validator,
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


def _data_center_urls(value: Any) -> tuple[str, ...]:
    """BITBUCKET_DC_URL: the Bitbucket Data Center addresses people may connect. The bot
    calls no other address for Data Center, whatever a form says."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    urls = tuple(part.rstrip("/") for part in re.split(r"[\s,]+", str(value)) if part)
    for item in urls:
        if not _HTTP_URL.match(item) or "?" in item or "#" in item or "@" in item:
            raise ValueError(
                "must list Bitbucket Data Center addresses (https://bitbucket.example.com, "
                f"comma-separated), got {item!r}"
            )
    return urls


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


SUPPORTED_DATABASES = (
    "SQLite (sqlite:///connect_bitbucket.db) or PostgreSQL (postgresql://user:password@host/db)"
)


def database_url_problem(value: str) -> str | None:
    """Why DATABASE_URL cannot be used (the words after the variable's name), or None.

    Only SQLite and PostgreSQL are supported: say so up front rather than let SQLAlchemy
    fail on a missing driver (mysql:// ends in "No module named 'MySQLdb'")."""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    backend = scheme.split("+", 1)[0]
    if not scheme:
        return f"must be a database URL: {SUPPORTED_DATABASES}"
    if backend not in ("sqlite", "postgres", "postgresql"):
        return f"names {backend}, which the bot does not support: use {SUPPORTED_DATABASES}"
    return None


def _sqlalchemy_url(value: str) -> str:
    problem = database_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# The values .env.example ships with: still there means the Slack app was not created yet.
EXAMPLE_VALUES = frozenset(
    {
        "xoxb-your-bot-token",
        "your-signing-secret",
        "xapp-your-app-level-token",
        "your-terraform-token",
    }
)


EXAMPLE_VALUE = "still holds the example value from .env.example"
EXAMPLE_HINT = (
    'create the Slack app (README, "Create the Slack app") and a Terraform token, then put '
    "their values in .env"
)


def _not_the_example(value: SecretStr) -> SecretStr:
    if value.get_secret_value() in EXAMPLE_VALUES:
        raise ValueError(EXAMPLE_VALUE)
    return value


NotExample = AfterValidator(_not_the_example)


HttpUrl = Annotated[str, AfterValidator(_http_url)]
BaseUrl = Annotated[str, AfterValidator(_http_url), AfterValidator(_without_trailing_slash)]
SlackIds = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_slack_ids)]
OrganizationPatterns = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_organization_patterns)]
DataCenterUrls = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_data_center_urls)]
Seconds = PositiveFloat
# The health watch's longest interval: its checks keep the token in use (Bitbucket drops
# an authorization left unused for three months).
HEALTH_EVERY_MAX = 30 * 86400

# Said after "NAME is required: " when a required setting is missing.
_REQUIRED_HINTS = {
    "slack_bot_token": "the bot token (xoxb-…) from the Slack app",
    "tfe_token": "a token allowed to manage VCS settings",
}
# Never echoed back in an error line.
_SECRETS = frozenset(
    # A database URL may hold a password.
    {"slack_bot_token", "tfe_token", "slack_signing_secret", "slack_app_token", "database_url"}
)
# Said instead of pydantic's own words for values of the wrong type.
_TYPE_HINTS = {
    "port": "must be a TCP port number (1-65535)",
    "metrics_port": "must be a TCP port number (1-65535), other than PORT",
    "escalate_after": "must be a whole number greater than 0",
}


class Settings(BaseSettings):
    """Every setting the bot reads, already parsed. Tokens are SecretStr: never in repr()."""

    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", frozen=True, case_sensitive=False
    )

    slack_bot_token: Annotated[SecretStr, _prefixed("xoxb-", "a bot token"), NotExample]
    tfe_token: Annotated[SecretStr, NotExample]
    slack_signing_secret: Annotated[SecretStr, NotExample] | None = None
    slack_app_token: (
        Annotated[SecretStr, _prefixed("xapp-", "an app-level token"), NotExample] | None
    ) = None
    slack_api_url: HttpUrl = "https://slack.com/api/"
    port: Annotated[int, Field(gt=0, lt=65536)] = 3000
    # Prometheus metrics on a port of their own; unset: no metrics endpoint at all.
    metrics_port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    database_url: Annotated[str, AfterValidator(_sqlalchemy_url)] = "sqlite:///connect_bitbucket.db"
    tfe_url: BaseUrl = "https://app.terraform.io"
    bitbucket_url: BaseUrl = "https://bitbucket.org"
    bitbucket_api_url: BaseUrl = "https://api.bitbucket.org/2.0"
    # Bitbucket Data Center addresses people may connect (the first is preset in the form);
    # empty: only Bitbucket Cloud is offered.
    bitbucket_dc_url: DataCenterUrls = ()
    approvers: SlackIds = ()
    allowed_users: SlackIds = ()
    organizations: OrganizationPatterns = ()
    stall_after: Seconds = 86400
    remind_every: Seconds = 86400
    escalate_after: PositiveInt = 3
    expire_after: Seconds = 1209600
    token_poll_every: Seconds = 5
    # How long a Slack call may take before the bot gives up on it (a call cut off by a
    # crash may still land within this: cards are not posted again before it has passed).
    slack_timeout: Seconds = 15
    health_every: Seconds = 21600
    tfe_rate: PositiveFloat = 25
    # Seconds after which an owner is reminded to rotate the consumer's key and secret.
    rotate_every: Seconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # "  " in the environment means "not set", as an empty value does.
        if isinstance(data, dict):
            data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
            return {k: v for k, v in data.items() if v != ""}
        return data

    @field_validator("health_every")
    @classmethod
    def _health_keeps_the_token_in_use(cls, value: float) -> float:
        if value > HEALTH_EVERY_MAX:
            raise ValueError(
                "must be at most 30 days (2592000 seconds): each check is a use of the token "
                "by Terraform, and Bitbucket drops an authorization left unused for three months"
            )
        return value

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
    naming every bad variable (one line, the problems separated by "; ")."""
    try:
        return read_settings(env)
    except ValidationError as error:
        raise ConfigError("; ".join(settings_problems(error, env))) from None


def read_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings from `env` (the process environment when None); pydantic's
    ValidationError, with every problem, when they will not do."""
    if env is None:
        return Settings()  # type: ignore[call-arg]  # pydantic-settings fills it from the env
    names = Settings.model_fields
    return Settings.model_validate({k.lower(): v for k, v in env.items() if k.lower() in names})


def settings_problems(error: ValidationError, env: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem pydantic found, each starting with the variable's name."""
    lines = [_worded(problem) for problem in error.errors(include_url=False)]
    if any(EXAMPLE_VALUE in line for line in lines):
        lines.append(EXAMPLE_HINT)
    # The signing secret's rule is checked only once every field is valid; say it now too.
    given = {k.upper() for k, v in (os.environ if env is None else env).items() if v.strip()}
    if not given & {"SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} and not any(
        line.startswith("SLACK_SIGNING_SECRET") for line in lines
    ):
        lines.append(_worded({"loc": (), "type": "", "msg": ""}))
    return lines


def _worded(first: Any) -> str:
    """One line for one problem pydantic found, starting with the variable's name."""
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
    if message.startswith(("must ", "names ", "still ")):
        return f"{name} {message}"
    if field in _TYPE_HINTS:
        return f"{name} {_TYPE_HINTS[field]}{shown}"
    if "greater than 0" in message:
        return f"{name} must be greater than 0{shown}"
    if field in (
        "stall_after",
        "remind_every",
        "expire_after",
        "token_poll_every",
        "slack_timeout",
        "health_every",
        "rotate_every",
    ):
        return f"{name} must be a number of seconds{shown}"
    return f"{name}: {message}{shown}"
