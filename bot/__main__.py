"""`python -m bot serve|migrate|check`: run the bot, migrate the schema, or check the settings."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from dotenv import load_dotenv

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings
from bot.gate import MAX_BODY
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger("bot")

# Threads for concurrent Slack requests; each ack is quick, so this is plenty for bursts.
HTTP_THREADS = 16


def _start(settings: Settings) -> Runtime:
    """Build the bot, turning the usual start-up failures into one line naming the setting."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError
    from sqlalchemy.exc import OperationalError

    from bot.app import build_runtime

    try:
        return build_runtime(settings)
    except (BoltError, SlackApiError) as error:
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack at {settings.slack_api_url} ({error})"
        ) from None
    except (OSError, SlackClientError) as error:
        reason = str(getattr(error, "reason", "") or error) or type(error).__name__
        raise ConfigError(
            f"SLACK_API_URL: cannot reach Slack at {settings.slack_api_url} ({reason})"
        ) from None
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise ConfigError(f"DATABASE_URL: cannot use the database ({reason})") from None


def serve(settings: Settings) -> None:
    runtime = _start(settings)
    runtime.start_jobs()
    # Start-up leaves some 100k long-lived objects (SQLAlchemy, Bolt, pydantic) that every
    # full collection would walk again: up to 46 ms with the GIL held, acks waiting behind
    # it. Frozen, a full collection walks only what came later (under a millisecond).
    gc.freeze()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert settings.slack_app_token is not None
            handler = SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
            handler.connect()
            log.info("connected to Slack in Socket Mode")
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            stop.wait()
            handler.close()
        else:
            from waitress import create_server

            server = create_server(
                runtime.wsgi(),
                host="0.0.0.0",
                port=settings.port,
                threads=HTTP_THREADS,
                ident="connect-bitbucket",
                # Slack's payloads are small: anything larger is refused (413) unread.
                max_request_body_size=MAX_BODY,
            )

            def on_http_signal(signum: int, frame: FrameType | None) -> None:
                on_signal(signum, frame)
                server.close()

            signal.signal(signal.SIGTERM, on_http_signal)
            signal.signal(signal.SIGINT, on_http_signal)
            log.info("listening for Slack on port %s at /slack/events", settings.port)
            try:
                server.run()
            except (OSError, ValueError):
                if not stop.is_set():  # closing the server mid-select ends run() this way
                    raise
    finally:
        runtime.close()
        log.info("stopped")


def audit(since: str | None, organization: str | None, fmt: str) -> int:
    """Write the audit trail to standard output."""
    from bot import audit as trail
    from bot import db
    from bot.connections.queries import Queries

    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        start = trail.parse_since(since) if since else None
    except ValueError:
        print(
            f"connect-bitbucket: --since must be a date like 2026-11-01, got {since!r}",
            file=sys.stderr,
        )
        return 2
    engine = db.make_engine(url)
    try:
        queries = Queries(db.make_sessionmaker(engine))
        trail.write(queries.events(since=start, organization=organization), sys.stdout, fmt)
    finally:
        engine.dispose()
    return 0


def check() -> int:
    """Try every setting against its service; one line per check; 0 only when all pass."""
    from bot import check as checks

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"✗ settings: {error}")
        return 2
    outcomes = checks.run(settings)
    for outcome in outcomes:
        print(outcome.line())
    return 0 if all(o.passed for o in outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "command", choices=["serve", "migrate", "check", "audit"], help="what to do"
    )
    parser.add_argument("--since", help="audit: events from this date (ISO 8601, UTC)")
    parser.add_argument("--organization", help="audit: only this organization's events")
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="audit")
    args = parser.parse_args(argv)
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    setup_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    if args.command == "migrate":
        from bot import db

        url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        db.migrate(url)
        return 0
    if args.command == "check":
        return check()
    if args.command == "audit":
        return audit(args.since, args.organization, args.format)
    try:
        serve(load_settings())
    except ConfigError as error:
        print(f"connect-bitbucket: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
