"""`python -m bot serve|migrate`: read the settings, then run the bot or migrate the schema."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from dotenv import load_dotenv

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

log = logging.getLogger("bot")

# Threads for concurrent Slack requests; each ack is quick, so this is plenty for bursts.
HTTP_THREADS = 16


def serve(settings: Settings) -> None:
    from bot.app import build_runtime

    runtime = build_runtime(settings)
    runtime.start_jobs()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert settings.slack_app_token is not None
            handler = SocketModeHandler(runtime.app, settings.slack_app_token)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("command", choices=["serve", "migrate"], help="what to do")
    args = parser.parse_args(argv)
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    setup_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    if args.command == "migrate":
        from bot import db

        url = os.environ.get("DATABASE_URL", "").strip() or Settings.database_url
        db.migrate(url)
        return 0
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"connect-bitbucket: {error}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
