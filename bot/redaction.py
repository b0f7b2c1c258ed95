"""Keeps secrets that are in flight out of every log line, Slack message and database write.

While a secret is held, the log filter, the Slack client and the database engine all scrub
it from what passes through them, in every encoding an outside service might echo it in.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"


class Redactor:
    """Holds the secrets being used right now and removes them from text."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def holding(self, secret: str, *, key: str | None = None) -> Iterator[None]:
        """Redact `secret`, in the forms it takes in URLs, forms and JSON, while inside; with
        `key`, also the HTTP Basic credentials `key:secret` in base64."""
        forms = _forms(secret)
        if key is not None:
            pair = f"{key}:{secret}".encode()
            for encoded in (base64.b64encode(pair), base64.urlsafe_b64encode(pair)):
                text = encoded.decode()
                forms |= {text, text.rstrip("=")}
        with self._lock:
            self._held.update(forms)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(forms)
                self._held += Counter()  # drop the ones no longer held

    @property
    def active(self) -> bool:
        """Whether any secret is held now (the fast path when none is)."""
        return bool(self._held)

    def scrub(self, text: str) -> str:
        with self._lock:
            held = sorted(self._held, key=len, reverse=True)
        for secret in held:
            text = text.replace(secret, REDACTED)
        return text

    def scrub_deep(self, value: Any) -> Any:
        """Scrub every string inside dicts, lists and tuples (a Slack payload, SQL params)."""
        if not self._held:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_deep(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.scrub_deep(v) for v in value)
        return value


def _forms(secret: str) -> set[str]:
    return {f for f in {secret, quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]} if f}


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A handler filter: renders the record and scrubs held secrets from it."""

    def __init__(self, redactor: Redactor = REDACTOR, fields: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._redactor = redactor
        self._fields = fields  # the `extra=` fields the formatters print, scrubbed too

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._redactor.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        for name in self._fields:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, self._redactor.scrub(value))
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._redactor.scrub(text)
        return True
