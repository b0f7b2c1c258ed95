"""Keeps secrets that are in flight out of every log line, whoever writes it."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"


class Redactor:
    """Holds the secrets being used right now and removes them from text."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def holding(self, secret: str) -> Iterator[None]:
        """Redact `secret`, in the forms it takes in URLs, forms and JSON, while inside."""
        forms = _forms(secret)
        with self._lock:
            self._held.update(forms)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(forms)
                self._held += Counter()  # drop the ones no longer held

    def scrub(self, text: str) -> str:
        with self._lock:
            held = sorted(self._held, key=len, reverse=True)
        for secret in held:
            text = text.replace(secret, REDACTED)
        return text


def _forms(secret: str) -> set[str]:
    return {f for f in {secret, quote(secret), quote_plus(secret), json.dumps(secret)[1:-1]} if f}


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """A handler filter: renders the record and scrubs held secrets from it."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._redactor.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._redactor.scrub(text)
        return True
