"""The door in front of Bolt: only signed, well-formed, small requests get through.

Bolt parses a body before it checks the signature, and answers 500 to some junk; here the
body is capped, the signature checked first (on the raw bytes, as Slack signs them), and
only then is the body looked at. Refusals are counted and summarized in the log, so an
unauthenticated sender cannot flood it.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from bot.shapes import command_ok, envelope_ok, payload_ok

log = logging.getLogger(__name__)

# Slack's payloads are a few kilobytes; a megabyte is far beyond any of them.
MAX_BODY = 1024 * 1024
# How often the refusals are summarized in the log.
SUMMARY_EVERY = 60.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SlackGate:
    """WSGI middleware for POST /slack/events."""

    def __init__(self, app: WSGIApp, signing_secret: str | None) -> None:
        self.app = app
        # None: no secret to verify with (Socket Mode), so every POST is refused.
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._refused: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last_summary = time.monotonic() - SUMMARY_EVERY  # the first one is said at once

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._refuse(start_response, "400 Bad Request", "bad length")
        if length > MAX_BODY or length < 0:
            return self._refuse(start_response, "413 Content Too Large", "too large")
        body = environ["wsgi.input"].read(length) if length else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not timestamp.isdigit() or len(timestamp) > 12:
            return self._refuse(start_response, "401 Unauthorized", "unsigned")
        try:
            text = body.decode("utf-8")  # Slack sends UTF-8; the signature check assumes it
        except UnicodeDecodeError:
            return self._refuse(start_response, "400 Bad Request", "not UTF-8")
        if self.verifier is None or not self.verifier.is_valid(body, timestamp, signature):
            return self._refuse(start_response, "401 Unauthorized", "bad signature")
        if not _well_formed(text, str(environ.get("CONTENT_TYPE") or "")):
            return self._refuse(start_response, "400 Bad Request", "malformed")
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _refuse(self, start_response: Callable[..., Any], status: str, why: str) -> list[bytes]:
        self._count(why)
        start_response(status, [("Content-Type", "text/plain")])
        return [status.split(" ", 1)[1].encode() + b"\n"]

    def _count(self, why: str) -> None:
        with self._lock:
            self._refused[why] = self._refused.get(why, 0) + 1
            now = time.monotonic()
            if now - self._last_summary < SUMMARY_EVERY:
                return  # said with the next summary
            counts, self._refused = self._refused, {}
            self._last_summary = now
        said = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        log.warning("refused requests that are not from Slack or not well formed: %s", said)


def _well_formed(text: str, content_type: str) -> bool:
    """A command or interaction form (its payload a JSON object of a shape Slack sends), or
    a JSON event of such a shape."""
    try:
        if content_type.startswith("application/json"):
            envelope = json.loads(text)
            return isinstance(envelope, dict) and envelope_ok(envelope)
        form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
        if "payload" in form:
            payload = json.loads(form["payload"][0])
            return isinstance(payload, dict) and payload_ok(payload)
        if "ssl_check" in form:
            return True
        return "command" in form and command_ok(form)
    except ValueError:
        return False


class OncePerBurst(logging.Filter):
    """Lets one "Task queue depth" line through per burst of them (waitress logs one per
    queued request under load)."""

    def __init__(self, quiet_for: float = 10.0) -> None:
        super().__init__()
        self.quiet_for = quiet_for
        self._last = -quiet_for
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.quiet_for:
                self._last = now
                return False
            self._last = now
            return True
