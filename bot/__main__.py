"""`python -m bot serve|migrate|check|audit`: run the bot, migrate the schema, check the
settings, or export the audit trail. Each subcommand has its own --help."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from dotenv import load_dotenv

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings
from bot.gate import MAX_BODY
from bot.logs import FORMATS, LEVELS, setup_logging

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import Runtime

log = logging.getLogger("bot")

# Threads for concurrent Slack requests; each ack is quick, so this is plenty for bursts.
HTTP_THREADS = 16
# A stop (SIGTERM) waits this long for the work in hand; past it the process exits anyway:
# what was in flight stays claimed in the database (its lease runs out in seconds, and a
# restart frees it at once), so nothing owed is lost. Platforms kill after 10 s or more.
STOP_WITHIN = 8.0


def _start(settings: Settings) -> Runtime:
    """Build the bot, turning the usual start-up failures into one line naming the setting."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot import db
    from bot.app import build_runtime

    try:
        return build_runtime(settings)
    except (BoltError, SlackApiError) as error:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack at {settings.slack_api_url} ({error}): copy "
            "the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
        ) from None
    except (OSError, SlackClientError) as error:
        reason = str(getattr(error, "reason", "") or error) or type(error).__name__
        raise ConfigError(
            f"cannot reach Slack at {settings.slack_api_url} ({reason}): check this machine's "
            "network" + (", and SLACK_API_URL" if settings.slack_api_url != SLACK_DEFAULT else "")
        ) from None
    except db.DatabaseProblem as problem:
        raise ConfigError(str(problem)) from None
    except db.OPERATIONAL_ERRORS as error:
        raise ConfigError(str(db.explain(error))) from None


SLACK_DEFAULT = "https://slack.com/api/"


def _connect_socket_mode(runtime: Runtime, app_token: str) -> SocketModeHandler:
    """Open the Socket Mode connection, or raise ConfigError naming SLACK_APP_TOKEN."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError, SlackClientError

    try:
        # Asked first on our own client: the handler would log a Bolt ERROR line before the
        # one line that says what to do.
        runtime.app.client.apps_connections_open(app_token=app_token)
        handler = SocketModeHandler(runtime.app, app_token)
        handler.connect()
    except SlackApiError as error:
        raise ConfigError(
            f"SLACK_APP_TOKEN was refused by Slack ({error.response.get('error')}): create an "
            "app-level token with connections:write under Basic Information → App-Level Tokens"
        ) from None
    except (OSError, SlackClientError) as error:
        raise ConfigError(
            f"SLACK_APP_TOKEN: cannot open a Socket Mode connection ({type(error).__name__})"
        ) from None
    return handler


def serve(settings: Settings) -> None:
    """Run the bot until SIGTERM or SIGINT (Socket Mode when an app token is set)."""
    runtime = _start(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    try:
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            handler = _connect_socket_mode(runtime, settings.slack_app_token.get_secret_value())
            runtime.start_jobs()
            gc.freeze()
            log.info("connected to Slack in Socket Mode")
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            stop.wait()
            handler.close()
        else:
            from waitress import create_server

            try:
                server = create_server(
                    runtime.wsgi(),
                    host="0.0.0.0",
                    port=settings.port,
                    threads=HTTP_THREADS,
                    ident="connect-bitbucket",
                    # Slack's payloads are small: anything larger is refused (413) unread.
                    max_request_body_size=MAX_BODY,
                )
            except OSError as error:
                raise ConfigError(
                    f"PORT {settings.port}: cannot listen there ({error.strerror or error}); "
                    "set PORT to a free port"
                ) from None
            runtime.start_jobs()
            # Start-up leaves some 100k long-lived objects (SQLAlchemy, Bolt, pydantic) that
            # every full collection would walk again: up to 46 ms with the GIL held, acks
            # waiting behind it. Frozen, a full collection walks only what came later.
            gc.freeze()

            def on_http_signal(signum: int, frame: FrameType | None) -> None:
                on_signal(signum, frame)
                close_server(server)  # on the loop's own thread: the handler runs there

            signal.signal(signal.SIGTERM, on_http_signal)
            signal.signal(signal.SIGINT, on_http_signal)
            log.info("listening for Slack on port %s at /slack/events", settings.port)
            try:
                server.run()
            except (OSError, ValueError):
                if not stop.is_set():  # closing the server mid-select ends run() this way
                    raise
    finally:
        _close_within(runtime, STOP_WITHIN)


def close_server(server: Any) -> None:
    """Stop listening and drop every connection. waitress's loop runs until no connection
    is left: closing only the listener left clients' kept-alive connections served until
    their 120 s idle timeout (a stop that came while the loop was busy, not in select, hung
    until the platform killed the bot)."""
    server.close()
    for channel in list(server.active_channels.values()):
        with contextlib.suppress(OSError):
            channel.close()


def _close_within(runtime: Runtime, seconds: float) -> None:
    """Close the runtime, waiting at most `seconds` for work in flight (a Slack or Terraform
    call that hangs may hold a thread for its whole timeout and retries)."""
    closing = threading.Thread(target=runtime.close, name="close", daemon=True)
    closing.start()
    closing.join(seconds)
    if not closing.is_alive():
        log.info("stopped")
        return
    log.warning(
        "stopped with work still in flight; its claims run out in seconds, or at the next start"
    )
    logging.shutdown()
    os._exit(0)


def _database_url() -> str:
    """DATABASE_URL as migrate and audit read it (they need no other setting)."""
    from bot.config import database_url_problem

    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    problem = database_url_problem(url)
    if problem:
        raise ConfigError(f"DATABASE_URL {problem}")
    return url


def migrate() -> int:
    """Bring the database schema up to date."""
    from bot import db

    try:
        db.migrate(_database_url())
    except db.DatabaseProblem as problem:
        raise ConfigError(str(problem)) from None
    return 0


def audit(since: str | None, organization: str | None, fmt: str) -> int:
    """Write the audit trail to standard output."""
    from bot import db
    from bot.connections.queries import Queries
    from bot.status import audit as trail

    try:
        start = trail.parse_since(since) if since else None
    except ValueError:
        raise ConfigError(f"--since must be a date like 2026-11-01, got {since!r}") from None
    try:
        engine = db.open_existing(_database_url())
    except db.DatabaseProblem as problem:
        raise ConfigError(str(problem)) from None
    try:
        queries = Queries(db.make_sessionmaker(engine))
        trail.write(queries.events(since=start, organization=organization), sys.stdout, fmt)
    except db.OPERATIONAL_ERRORS as error:
        raise ConfigError(str(db.explain(error))) from None
    finally:
        engine.dispose()
    return 0


def check() -> int:
    """Try every setting against its service; one line per check; 0 only when all pass."""
    from bot import check as checks

    outcomes = checks.run_from_env()
    for outcome in outcomes:
        print(outcome.line())
    return 0 if all(o.passed for o in outcomes) else 1


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand each, with its own options and help."""
    top = argparse.ArgumentParser(
        prog="python -m bot",
        description="connect-bitbucket: a Slack bot that connects Bitbucket Cloud to Terraform.",
        epilog="Settings come from the environment (and .env); see the README.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT)",
        description="Run the bot, migrating the database first. Socket Mode when "
        "SLACK_APP_TOKEN is set, else HTTP mode on PORT (POST /slack/events, GET /healthz).",
    )
    commands.add_parser(
        "migrate",
        help="bring the database schema up to date (a release step)",
        description="Bring the schema of DATABASE_URL up to date, and nothing else. Safe to "
        "run from several replicas at once.",
    )
    commands.add_parser(
        "check",
        help="try each setting against Slack, Terraform, Bitbucket and the database",
        description="Try each setting against its service and print one line per check, "
        "✓ or ✗ with the fix. Changes nothing; exits 0 only when every check passes.",
    )
    audit_parser = commands.add_parser(
        "audit",
        help="write the audit trail as JSON lines or CSV",
        description="Write the audit trail of DATABASE_URL to standard output: time (UTC), "
        "connection, organization, actor, from and to state, kind, detail. In CSV, a cell "
        "that starts with =, +, -, @, a tab or a carriage return is written with a leading ' "
        "so that a spreadsheet shows it as text instead of running it as a formula; JSON "
        "lines keep every value exact.",
    )
    audit_parser.add_argument(
        "--since", metavar="DATE", help="only events from this date on (ISO 8601; UTC)"
    )
    audit_parser.add_argument("--organization", help="only this organization's events")
    audit_parser.add_argument(
        "--format", choices=["jsonl", "csv"], default="jsonl", help="default: jsonl"
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LEVELS:
        print(
            f"connect-bitbucket: LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}",
            file=sys.stderr,
        )
        return 2
    fmt = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
    if fmt not in FORMATS:
        print(
            f"connect-bitbucket: LOG_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}",
            file=sys.stderr,
        )
        return 2
    # check prints its own lines; a library's retry warnings would only bury them.
    setup_logging("CRITICAL" if args.command == "check" and level != "DEBUG" else level, fmt=fmt)
    try:
        if args.command == "migrate":
            return migrate()
        if args.command == "check":
            return check()
        if args.command == "audit":
            return audit(args.since, args.organization, args.format)
        serve(load_settings())
    except ConfigError as error:
        print(f"connect-bitbucket: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
