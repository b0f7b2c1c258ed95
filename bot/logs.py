"""Structured logging: one event a line, key=value fields (or, with LOG_FORMAT=json, one
JSON object a line with the same fields, for log shippers), never a secret."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.gate import OncePerBurst
from bot.redaction import RedactingFilter

# Fields a record may carry through `extra=`; printed after the message as key=value.
FIELDS = ("connection", "organization", "user", "state", "client", "status", "error", "worker")

# What LOG_LEVEL may say.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Libraries that would log request bodies (Bolt logs a whole raw body when a signature
# check fails; slack_sdk logs bodies at DEBUG) never go below WARNING.
QUIET = ("slack_bolt", "slack_sdk", "httpx", "httpcore", "apscheduler", "waitress", "alembic")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        parts = [stamp, record.levelname, record.name, _quote(record.getMessage())]
        for name in FIELDS:
            value: Any = getattr(record, name, None)
            if value is not None:
                parts.append(f"{name}={_quote(str(value))}")
        line = " ".join(parts)
        if record.exc_info:
            exc = record.exc_text or self.formatException(record.exc_info)
            line += " exception=" + _quote(exc.strip().splitlines()[-1])
        return line


# What LOG_FORMAT may say.
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """The same fields as KeyValueFormatter, as one JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event: dict[str, Any] = {
            "time": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value: Any = getattr(record, name, None)
            if value is not None:
                event[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            exc = record.exc_text or self.formatException(record.exc_info)
            event["exception"] = exc.strip().splitlines()[-1]
        return json.dumps(event, ensure_ascii=False)


def _quote(text: str) -> str:
    text = text.replace("\n", " ")
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def setup_logging(
    level: str = "INFO", stream: TextIO | None = None, fmt: str = "text"
) -> logging.Handler:
    """Send every log line through the formatter (key=value, or JSON) and the secret filter,
    which scrubs the record itself, so both formats are secret-free alike."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter(fields=FIELDS))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    queue = logging.getLogger("waitress.queue")
    if not any(isinstance(f, OncePerBurst) for f in queue.filters):
        queue.addFilter(OncePerBurst())
    return handler
