"""The Slack Web API client: connections kept alive, secrets scrubbed, retries as slack_sdk's.

slack_sdk's WebClient opens a new connection (a new TLS handshake, in production) for every
call. This one sends its requests over a shared pool of kept-alive connections instead, and
hands slack_sdk the same answers and errors urllib would, so its retry handlers (rate limits,
connection errors) behave exactly as before.
"""

from __future__ import annotations

import http.client
import io
import logging
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.config import Settings
from bot.redaction import REDACTOR
from bot.slack.kept_alive import KeptAlive

# Enough connections for every thread that may call Slack at once (waitress's 16, the work
# pools and the sweep).
POOL_SIZE = 32


class SlackClient(WebClient):
    """Every Web API call passes here: a secret in flight never reaches Slack, whatever
    text carried it, and calls reuse kept-alive connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # slack_sdk checks its logger's own level (not the effective one) before it formats
        # every request and answer, whole views included, for a debug line: a logger at
        # NOTSET pays for that on every call.
        kwargs.setdefault("logger", _QUIET)
        super().__init__(*args, **kwargs)
        self._http = KeptAlive(timeout=self.timeout, size=POOL_SIZE, ssl_context=self.ssl)

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        for name in ("data", "params", "json"):
            if kwargs.get(name) is not None:
                kwargs[name] = REDACTOR.scrub_deep(kwargs[name])
        return super().api_call(api_method, **kwargs)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if not url.lower().startswith("http") or self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        try:
            body = req.data if isinstance(req.data, bytes) else None
            answer = self._http.post(url, body, dict(req.header_items()))
        except (OSError, http.client.HTTPException) as error:
            # What urllib raises, so ConnectionErrorRetryHandler retries as it always did.
            raise URLError(str(error) or type(error).__name__) from error
        if answer.status >= 400:
            raise HTTPError(
                url, answer.status, answer.reason, answer.headers, io.BytesIO(answer.body)
            )
        charset = answer.headers.get_content_charset() or "utf-8"
        return {
            "status": answer.status,
            "headers": dict(answer.headers.items()),
            "body": answer.body.decode(charset),
        }

    def close(self) -> None:
        self._http.close()


_QUIET = logging.getLogger("slack_sdk.web.quiet")
_QUIET.setLevel(logging.INFO)


def slack_client(settings: Settings) -> SlackClient:
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    return SlackClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )
