"""The settings table of product.md, read from the environment and validated at start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every setting the bot reads, already parsed."""

    # Tokens stay out of repr(), so printing the settings can never leak them.
    slack_bot_token: str = field(repr=False)
    tfe_token: str = field(repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    database_url: str = "sqlite:///connect_bitbucket.db"
    tfe_url: str = "https://app.terraform.io"
    bitbucket_url: str = "https://bitbucket.org"
    bitbucket_api_url: str = "https://api.bitbucket.org/2.0"
    approvers: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    stall_after: float = 86400
    remind_every: float = 86400
    escalate_after: int = 3
    expire_after: float = 1209600
    token_poll_every: float = 5

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is used whenever an app-level token is configured."""
        return bool(self.slack_app_token)


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required: {hint}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number of seconds"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _slack_ids(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    ids = tuple(part for part in re.split(r"[\s,]+", raw) if part)
    for item in ids:
        if not _SLACK_ID.match(item):
            raise ConfigError(
                f"{name} must list Slack user ids (U…, W…) or user group ids (S…), got {item!r}"
            )
    return ids


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment into Settings, raising ConfigError on the first bad value."""
    env = os.environ if env is None else env
    bot_token = _required(env, "SLACK_BOT_TOKEN", "the bot token (xoxb-…) from the Slack app")
    if not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    if app_token is None and signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)"
        )
    port_raw = env.get("PORT", "").strip() or "3000"
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise ConfigError(f"PORT must be a TCP port number (1-65535), got {port_raw!r}")
    database_url = env.get("DATABASE_URL", "").strip() or "sqlite:///connect_bitbucket.db"
    if "://" not in database_url:
        raise ConfigError(f"DATABASE_URL must be an SQLAlchemy URL, got {database_url!r}")
    return Settings(
        slack_bot_token=bot_token,
        tfe_token=_required(env, "TFE_TOKEN", "a token allowed to manage VCS settings"),
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=_url(env, "SLACK_API_URL", "https://slack.com/api/"),
        port=int(port_raw),
        database_url=database_url,
        tfe_url=_url(env, "TFE_URL", "https://app.terraform.io").rstrip("/"),
        bitbucket_url=_url(env, "BITBUCKET_URL", "https://bitbucket.org").rstrip("/"),
        bitbucket_api_url=_url(env, "BITBUCKET_API_URL", "https://api.bitbucket.org/2.0").rstrip(
            "/"
        ),
        approvers=_slack_ids(env, "APPROVERS"),
        allowed_users=_slack_ids(env, "ALLOWED_USERS"),
        stall_after=_number(env, "STALL_AFTER", 86400),
        remind_every=_number(env, "REMIND_EVERY", 86400),
        escalate_after=int(_number(env, "ESCALATE_AFTER", 3, integer=True)),
        expire_after=_number(env, "EXPIRE_AFTER", 1209600),
        token_poll_every=_number(env, "TOKEN_POLL_EVERY", 5),
    )
