"""`python -m bot check`: each setting tried against the real service, one line per check.

For whoever deploys the bot: a ✓ or ✗ per check, each naming the setting it tried, and
with every ✗ the fix. Nothing is changed anywhere (not even a SQLite file created); the
exit status is 0 only when every check passes. The four services are tried at once, each
call once with a short timeout, so the whole check takes a few seconds even when nothing
answers.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.error import URLError

import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import db
from bot.clients.bitbucket import BitbucketClient, BitbucketError
from bot.clients.bitbucket_dc import NotDataCenter, application_properties
from bot.clients.http import RetryPolicy, tls
from bot.clients.tfe import TFEClient, TFEError, TFEErrorKind
from bot.config import Settings, read_settings, settings_problems
from bot.connections.validation import organization_allowed
from bot.slack.scopes import BOT_SCOPES

# Every outside call is made once and waits this long at most.
WAIT = 2
ONCE = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Outcome:
    """One check: what was checked, whether it passed, and what was found or what to do."""

    what: str
    passed: bool
    said: str

    def line(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.what}: {self.said}"


def run_from_env(env: Mapping[str, str] | None = None) -> list[Outcome]:
    """Read the settings and check them; every missing or malformed setting is its own ✗."""
    try:
        settings = read_settings(env)
    except ValidationError as error:
        return [_setting_outcome(line) for line in settings_problems(error, env)]
    return run(settings)


def _setting_outcome(line: str) -> Outcome:
    name, _, rest = line.partition(" ")
    if name.isupper():
        return Outcome(name.rstrip(":"), False, rest.removeprefix(": ").removeprefix("is "))
    return Outcome("settings", False, line)


def run(settings: Settings) -> list[Outcome]:
    """Every check, at once, reported in a fixed order; a check that crashes is a failed
    check, not a crash."""
    checks: list[Callable[[Settings], list[Outcome]]] = [
        _slack,
        _tfe,
        _bitbucket,
        _data_centers,
        _database,
    ]

    def guarded(check: Callable[[Settings], list[Outcome]]) -> list[Outcome]:
        try:
            return check(settings)
        except Exception as error:  # an unexpected answer is a finding too
            return [Outcome(check.__name__.strip("_"), False, unreachable(error))]

    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(guarded, checks))
    return [outcome for result in results for outcome in result]


def unreachable(error: BaseException) -> str:
    """Why a service did not answer, in words that point at the fix."""
    seen: BaseException | None = error
    while seen is not None:  # the useful reason is often a cause or a URLError's reason
        reason = getattr(seen, "reason", None)
        if isinstance(reason, BaseException):
            seen = reason
            continue
        text = str(seen).lower()
        if (
            isinstance(seen, socket.gaierror)
            or "name or service not known" in text
            or ("name resolution" in text or "nodename nor servname" in text)
        ):
            return "unknown host: check the address for typos"
        if isinstance(seen, ConnectionRefusedError) or "refused" in text:
            return "connection refused: nothing listens at that address and port"
        if isinstance(seen, (TimeoutError, socket.timeout, httpx.TimeoutException)) or (
            "timed out" in text
        ):
            return f"no answer within {WAIT:g} s (timeout): a firewall, a proxy or a wrong port?"
        if isinstance(seen, ssl.SSLError) or "certificate" in text:
            return "TLS failed (certificate?)"
        seen = seen.__cause__ or seen.__context__
    return f"did not answer ({type(error).__name__})"


def _probe(url: str) -> str | None:
    """None when something answers HTTP at `url`; otherwise why not."""
    try:
        httpx.get(url, timeout=WAIT, verify=tls())  # the process's one TLS context
    except httpx.HTTPError as error:
        return unreachable(error)
    return None


def _slack(settings: Settings) -> list[Outcome]:
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    # No retry handlers: one attempt each, so an unreachable Slack costs WAIT seconds once.
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base,
        timeout=int(WAIT),
        retry_handlers=[],
    )
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        return [
            Outcome(
                "SLACK_BOT_TOKEN",
                False,
                f"refused by Slack ({error.response.get('error')}); copy the Bot User OAuth "
                "Token (xoxb-…) from the app's OAuth & Permissions page",
            )
        ]
    except (SlackClientError, OSError, URLError) as error:
        return [Outcome("SLACK_API_URL", False, f"{settings.slack_api_url}: {unreachable(error)}")]
    outcomes = [
        Outcome(
            "Slack bot token (SLACK_BOT_TOKEN)",
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
        app = WebClient(base_url=base, timeout=int(WAIT), retry_handlers=[])
        try:
            app.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
            outcomes.append(Outcome("Slack app token (SLACK_APP_TOKEN)", True, "works"))
        except SlackApiError as error:
            outcomes.append(
                Outcome(
                    "SLACK_APP_TOKEN",
                    False,
                    f"refused by Slack ({error.response.get('error')}); create an app-level "
                    "token with connections:write and set SLACK_APP_TOKEN",
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
    problem = _probe(f"{settings.tfe_url}/api/v2/ping")
    if problem:
        return [Outcome("TFE_URL", False, f"{settings.tfe_url}: {problem}")]
    tfe = TFEClient(
        settings.tfe_url,
        settings.tfe_token.get_secret_value(),
        policy=ONCE,
        timeout=httpx.Timeout(WAIT),
    )
    try:
        organizations = tfe.list_organizations()
        seen = [o for o in organizations if organization_allowed(o.name, settings.organizations)]
        token_test = _token_test(tfe, [o.name for o in seen])
    except TFEError as error:
        if error.kind in (TFEErrorKind.UNAUTHORIZED, TFEErrorKind.FORBIDDEN):
            return [
                Outcome(
                    "TFE_TOKEN",
                    False,
                    f"refused by Terraform at {settings.tfe_url} ({error.status}); create a team "
                    "or organization token with “Manage VCS settings” and set TFE_TOKEN",
                )
            ]
        if error.kind == TFEErrorKind.NOT_FOUND:
            return [
                Outcome(
                    "TFE_URL",
                    False,
                    f"no Terraform API at {settings.tfe_url}/api/v2 (404): set TFE_URL to the "
                    "address you open Terraform at, without a path",
                )
            ]
        return [Outcome("TFE_URL", False, f"{settings.tfe_url}: {error.user_message}")]
    finally:
        tfe.close()
    outcomes = [
        Outcome(
            "Terraform token (TFE_TOKEN)",
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
    return [*outcomes, token_test]


def _token_test(tfe: TFEClient, organizations: list[str]) -> Outcome:
    """Whether this Terraform lets the bot test a token (`authorized-repos`), asked of the
    first Bitbucket Cloud token found: a 404 for a token that exists means the endpoint is
    missing, and the health watch can only see that clients and tokens exist."""
    what = "Terraform token test"
    try:
        clients = [c for name in organizations[:3] for c in tfe.list_oauth_clients(name)]
    except TFEError as error:
        return Outcome(what, True, f"could not try it now ({error.user_message})")
    for client in clients:
        if client.service_provider != "bitbucket_hosted" or not client.token_ids:
            continue
        try:
            tfe.authorized_repos(client.token_ids[0])
        except TFEError as error:
            if error.kind != TFEErrorKind.NOT_FOUND:
                return Outcome(what, True, f"could not try it now ({error.user_message})")
            return Outcome(
                what,
                True,
                "this Terraform does not let the bot test a token (authorized-repos "
                "answers 404): the health watch sees a deleted client or token, not one "
                "Bitbucket refuses; it tries the test again daily",
            )
        return Outcome(what, True, "works: the health watch checks each token is usable")
    return Outcome(what, True, "no Bitbucket Cloud token yet to try it with")


def _bitbucket(settings: Settings) -> list[Outcome]:
    url = settings.bitbucket_api_url
    problem = _probe(f"{url}/user")
    if problem:
        return [Outcome("BITBUCKET_API_URL", False, f"{url}: {problem}")]
    bitbucket = BitbucketClient(settings.bitbucket_url, url, policy=ONCE)
    try:
        status = bitbucket.answers()
    except BitbucketError as error:
        return [Outcome("BITBUCKET_API_URL", False, f"{url}: {unreachable(error)}")]
    finally:
        bitbucket.close()
    # Asked without credentials, Bitbucket's API answers 401: that is the sign it is there.
    if status in (401, 403):
        return [Outcome("Bitbucket API (BITBUCKET_API_URL)", True, f"answers at {url}")]
    if status >= 500:
        return [Outcome("BITBUCKET_API_URL", False, f"{url} answered {status}; try again later")]
    return [
        Outcome(
            "BITBUCKET_API_URL",
            False,
            f"{url}/user answered {status}, not as Bitbucket Cloud's API does (401 without "
            "credentials): leave BITBUCKET_API_URL unset for https://api.bitbucket.org/2.0",
        )
    ]


def _data_centers(settings: Settings) -> list[Outcome]:
    """Each of BITBUCKET_DC_URL asked what it is, as the connect form will ask it."""
    outcomes = []
    for url in settings.bitbucket_dc_url:
        try:
            instance = application_properties(url)
        except NotDataCenter as refusal:
            outcomes.append(Outcome("BITBUCKET_DC_URL", False, str(refusal)))
            continue
        outcomes.append(
            Outcome(
                "Bitbucket Data Center (BITBUCKET_DC_URL)",
                True,
                f"{url} is Bitbucket Data Center {instance.version}",
            )
        )
    return outcomes


def _database(settings: Settings) -> list[Outcome]:
    try:
        path = db.sqlite_path(settings.database_url)
    except Exception:
        return [Outcome("DATABASE_URL", False, "not a database URL")]
    if path is not None and not path.is_file():
        return [
            Outcome(
                "DATABASE_URL",
                False,
                f"no SQLite database at {path} yet; `python -m bot migrate` (or `serve`) "
                "creates it",
            )
        ]
    # PostgreSQL's driver would wait its own long timeout for a host that does not answer.
    extra = {} if path is not None else {"connect_args": {"connect_timeout": 2}}
    engine = db.make_engine(settings.database_url, **extra)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as error:
        return [Outcome("DATABASE_URL", False, str(db.explain(error)).split(": ", 1)[1])]
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(db.alembic_config(settings.database_url))
    head = script.get_current_head()
    if current == head:
        return [
            Outcome(
                "Database (DATABASE_URL)",
                True,
                f"reachable, schema at the latest revision ({head})",
            )
        ]
    behind = sum(1 for _ in script.iterate_revisions(head, current))
    return [
        Outcome(
            "Database (DATABASE_URL)",
            False,
            f"reachable, schema {behind} revision{'s' if behind != 1 else ''} behind "
            f"({current or 'empty'} → {head}); run `python -m bot migrate`",
        )
    ]
