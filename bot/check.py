"""`python -m bot check`: each setting tried against the real service, one line per check.

For whoever deploys the bot: a ✓ or ✗ per check, and with every ✗ the fix. Nothing is
changed anywhere; the exit status is 0 only when every check passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import db
from bot.clients.bitbucket import BitbucketClient, BitbucketError
from bot.clients.tfe import TFEClient, TFEError
from bot.config import Settings
from bot.connections.validation import organization_allowed
from bot.slack.scopes import BOT_SCOPES


@dataclass(frozen=True)
class Outcome:
    """One check: what was checked, whether it passed, and what was found or what to do."""

    what: str
    passed: bool
    said: str

    def line(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.what}: {self.said}"


def run(settings: Settings) -> list[Outcome]:
    """Every check, in order; a check that crashes is a failed check, not a crash."""
    checks: list[Callable[[Settings], list[Outcome]]] = [_slack, _tfe, _bitbucket, _database]
    outcomes: list[Outcome] = []
    for check in checks:
        try:
            outcomes += check(settings)
        except Exception as error:  # an unexpected answer is a finding too
            outcomes.append(Outcome(check.__name__.strip("_"), False, type(error).__name__))
    return outcomes


def _slack(settings: Settings) -> list[Outcome]:
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base, timeout=10)
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        return [
            Outcome(
                "Slack bot token",
                False,
                f"refused ({error.response.get('error')}); copy the Bot User OAuth Token "
                "(xoxb-…) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN",
            )
        ]
    except (SlackClientError, OSError) as error:
        return [Outcome("Slack", False, f"cannot reach {settings.slack_api_url} ({error})")]
    outcomes = [
        Outcome(
            "Slack bot token",
            True,
            f"works, as {answer.get('user')} in workspace {answer.get('team')}",
        )
    ]
    header = answer.headers.get("x-oauth-scopes") or answer.headers.get("X-OAuth-Scopes") or ""
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if not header:
        outcomes.append(Outcome("Slack scopes", False, "Slack did not say which were granted"))
    elif missing:
        outcomes.append(
            Outcome(
                "Slack scopes",
                False,
                f"missing {', '.join(missing)}; add them under OAuth & Permissions (or import "
                "app_manifest.yaml again) and reinstall the app",
            )
        )
    else:
        outcomes.append(Outcome("Slack scopes", True, "all granted: " + ", ".join(BOT_SCOPES)))
    outcomes.append(_member_list(client))
    if settings.slack_app_token is not None:
        app = WebClient(base_url=base, timeout=10)
        try:
            app.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
            outcomes.append(Outcome("Slack app token (Socket Mode)", True, "works"))
        except SlackApiError as error:
            outcomes.append(
                Outcome(
                    "Slack app token (Socket Mode)",
                    False,
                    f"refused ({error.response.get('error')}); create an app-level token with "
                    "connections:write and set SLACK_APP_TOKEN",
                )
            )
    return outcomes


def _member_list(client: WebClient) -> Outcome:
    """The member directory reads users.list; without it every command asks users.info."""
    try:
        client.users_list(limit=1)
    except SlackApiError as error:
        return Outcome(
            "Slack member list",
            False,
            f"users.list refused ({error.response.get('error')}): the bot still works, asking "
            "users.info about each person; grant users:read (an org-wide Enterprise Grid "
            "install cannot list one workspace's members)",
        )
    return Outcome("Slack member list", True, "readable (users.list)")


def _tfe(settings: Settings) -> list[Outcome]:
    tfe = TFEClient(settings.tfe_url, settings.tfe_token.get_secret_value())
    try:
        organizations = tfe.list_organizations()
    except TFEError as error:
        return [Outcome("Terraform token", False, error.user_message)]
    finally:
        tfe.close()
    seen = [o for o in organizations if organization_allowed(o.name, settings.organizations)]
    outcomes = [
        Outcome(
            "Terraform token",
            True,
            f"works at {settings.tfe_url}; sees {len(organizations)} organization"
            f"{'s' if len(organizations) != 1 else ''}"
            + (f", {len(seen)} of them in ORGANIZATIONS" if settings.organizations else ""),
        )
    ]
    managed = sorted(o.name for o in seen if o.can_update_oauth is not False)
    refused = sorted(o.name for o in seen if o.can_update_oauth is False)
    if not seen:
        outcomes.append(
            Outcome(
                "Terraform organizations",
                False,
                "none to connect: give the token's team access, or check ORGANIZATIONS",
            )
        )
    elif refused:
        outcomes.append(
            Outcome(
                "Terraform VCS settings",
                False,
                f"may not be managed in {', '.join(refused)}; give the token's team "
                '"Manage VCS settings" there (may be managed in: '
                f"{', '.join(managed) or 'none'})",
            )
        )
    else:
        outcomes.append(
            Outcome("Terraform VCS settings", True, f"may be managed in {', '.join(managed)}")
        )
    return outcomes


def _bitbucket(settings: Settings) -> list[Outcome]:
    bitbucket = BitbucketClient(settings.bitbucket_url, settings.bitbucket_api_url)
    try:
        status = bitbucket.answers()
    except BitbucketError as error:
        return [Outcome("Bitbucket API", False, error.user_message)]
    finally:
        bitbucket.close()
    if status >= 500:
        return [
            Outcome("Bitbucket API", False, f"answered {status} at {settings.bitbucket_api_url}")
        ]
    return [Outcome("Bitbucket API", True, f"answers at {settings.bitbucket_api_url}")]


def _database(settings: Settings) -> list[Outcome]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return [Outcome("Database", False, f"cannot use DATABASE_URL ({reason})")]
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(db.alembic_config(settings.database_url))
    head = script.get_current_head()
    if current == head:
        return [Outcome("Database", True, f"reachable, schema at the latest revision ({head})")]
    behind = sum(1 for _ in script.iterate_revisions(head, current))
    return [
        Outcome(
            "Database",
            False,
            f"reachable, schema {behind} revision{'s' if behind != 1 else ''} behind "
            f"({current or 'empty'} → {head}); run `python -m bot migrate`",
        )
    ]
