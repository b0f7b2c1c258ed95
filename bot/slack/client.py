"""The Slack Web API client: connections kept alive, secrets scrubbed, retries as slack_sdk's.

slack_sdk's WebClient opens a new connection (a new TLS handshake, in production) for every
call. This one sends its requests over a shared pool of kept-alive connections instead, and
hands slack_sdk the same answers and errors urllib would, so its retry handlers (rate limits,
connection errors) behave exactly as before.

A call Slack answers is handed back at once: slack_sdk's retry loop would build a urllib
Request, copies of it for the handlers and parse the body twice, and neither of our handlers
retries an answered call. Anything else (an error status, a dropped connection) goes through
that loop, its first attempt being the outcome already in hand, so nothing is sent twice.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.config import Settings
from bot.redaction import REDACTOR
from bot.slack.kept_alive import KeptAlive
from bot.slack.pacing import SharedBuckets, SlackPacer

# Enough connections for every thread that may call Slack at once (waitress's 16, the work
# pools and the sweep).
POOL_SIZE = 32
# The longest the outbox waits for its turn under Slack's limits; past it the call is
# refused and the message is sent when its turn comes. Other background work (reminders)
# waits up to LONGEST_TURN, then goes anyway.
SHORT_TURN = 1.0
LONGEST_TURN = 5.0

_background = threading.local()


@contextmanager
def in_background() -> Iterator[None]:
    """Slack calls made in this thread meanwhile never wait out a 429: the error is raised at
    once, and the caller (the outbox, due work) reschedules just that message for when
    Retry-After says. A thread shared by all due work must never sleep for one refusal."""
    previous = getattr(_background, "on", False)
    _background.on = True
    try:
        yield
    finally:
        _background.on = previous


@contextmanager
def refusable(patience: float = SHORT_TURN) -> Iterator[None]:
    """Calls made in this thread meanwhile (one owed message) may be refused ahead of
    Slack's limits instead of waiting their turn: the outbox's, which sends a refused
    message when its turn comes. `patience`: how long the message may wait in all (0 for
    what nobody waits on, which then never holds a thread)."""
    saved = (
        getattr(_background, "refusable", False),
        getattr(_background, "patience", SHORT_TURN),
        getattr(_background, "waited", 0.0),
        getattr(_background, "calls", 0),
    )
    _background.refusable, _background.patience = True, patience
    _background.waited, _background.calls = 0.0, 0  # this message's turns so far
    try:
        yield
    finally:
        (
            _background.refusable,
            _background.patience,
            _background.waited,
            _background.calls,
        ) = saved


class RateLimitRetryForPeople(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (wait Retry-After, try again) where a person is waiting on the
    answer; in the background the 429 is the answer."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if getattr(_background, "on", False):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class ConnectionRetryUnlessPosted(ConnectionErrorRetryHandler):
    """slack_sdk's retry after a failed connection, except where a post may have reached
    Slack: a connection that broke after the request went out may have posted it, and
    posting again would show it twice. Owed messages (in the background) are then left to
    the outbox, which looks for what Slack took before it posts again."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        posting = request.url.endswith("/chat.postMessage")
        if posting and getattr(_background, "on", False) and not _never_sent(error):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


def _never_sent(error: Exception | None) -> bool:
    """The connection was refused: the request cannot have reached Slack."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, ConnectionRefusedError)


# The handlers that look only at error statuses and failed connections, never at an answer.
_ANSWERS_FINAL = (
    ConnectionErrorRetryHandler,
    ConnectionRetryUnlessPosted,
    RateLimitErrorRetryHandler,
    RateLimitRetryForPeople,
)


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
        self._answers_final = all(type(h) in _ANSWERS_FINAL for h in self.retry_handlers)
        self._first = threading.local()  # a failed fast attempt, for slack_sdk's loop
        self._pacer = SlackPacer()  # Slack's limits, kept ahead of time (share_pace: by all)
        # Told of every call's method and outcome (the metrics); set by the wiring.
        self.observe: Callable[[str, str], None] | None = None

    def share_pace(self, shared: SharedBuckets) -> None:
        """Take background turns from the database every replica shares, so together they
        stay inside Slack's limits for the app."""
        self._pacer.shared = shared

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        for name in ("data", "params", "json"):
            if kwargs.get(name) is not None:
                kwargs[name] = REDACTOR.scrub_deep(kwargs[name])
        try:
            self._take_turn(api_method, kwargs)
        except SlackApiError:
            if self.observe is not None:
                self.observe(api_method, "paced")  # refused ahead of Slack's limit, sent later
            raise
        if self.observe is None:
            return super().api_call(api_method, **kwargs)
        try:
            answer = super().api_call(api_method, **kwargs)
        except SlackApiError as error:
            refused = error.response.status_code == 429 or error.response.get("error") in (
                "ratelimited",
                "rate_limited",
            )
            self.observe(api_method, "ratelimited" if refused else "error")
            raise
        except Exception:
            self.observe(api_method, "unreachable")
            raise
        self.observe(api_method, "ok")
        return answer

    def _take_turn(self, api_method: str, kwargs: dict[str, Any]) -> None:
        """Background work waits its turn for the method (and the channel); in the outbox a
        turn longer than SHORT_TURN refuses the call as Slack would (429, Retry-After), so it
        is sent later and no shared thread sleeps long. A person's own calls go at once
        (Slack's limits are "N and more" a minute, and a 429 there is waited out)."""
        if not getattr(_background, "on", False):
            return
        channel = next(
            (
                str(kwargs[name]["channel"])
                for name in ("json", "params", "data")
                if isinstance(kwargs.get(name), dict) and kwargs[name].get("channel")
            ),
            None,
        )
        waited = 0.0
        refusable = getattr(_background, "refusable", False)
        while (wait := self._pacer.wait_for(api_method, channel)) > 0:
            # A message of several calls (a Home tab's publishes) is refused by what it
            # waits in all, not by each call's wait; it is sent again when its turn comes.
            if refusable and _background.waited + wait > _background.patience:
                # Sent again, the message makes its calls again: by then there is room for
                # all of them, not only this one.
                retry = wait + _background.calls * self._pacer.interval(api_method, channel)
                raise SlackApiError(
                    f"paced: {api_method}",
                    SlackResponse(
                        client=self,
                        http_verb="POST",
                        api_url=api_method,
                        req_args={},
                        data={"ok": False, "error": "ratelimited"},
                        headers={"Retry-After": f"{retry:.2f}"},
                        status_code=429,
                    ),
                )
            if waited + wait > LONGEST_TURN:
                break  # other background work waited long enough: go, and let Slack say
            time.sleep(wait)
            waited += wait
            if refusable:
                _background.waited += wait
        if refusable:
            _background.calls += 1

    def _perform_urllib_http_request(
        self, *, url: str, args: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        if not self._pooled(url) or args["data"] or not self._answers_final:
            return super()._perform_urllib_http_request(url=url, args=args)  # type: ignore[no-any-return]
        headers = args["headers"]
        body: bytes | None = None
        if args["json"]:
            body = json.dumps(args["json"]).encode()
            headers["Content-Type"] = "application/json;charset=utf-8"
        elif args["params"]:
            body = urlencode(args["params"]).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            return self._send(url, body, headers)
        except (URLError, HTTPError) as error:
            self._first.outcome = error  # slack_sdk's loop takes it as its first attempt's
        try:
            return super()._perform_urllib_http_request(url=url, args=args)  # type: ignore[no-any-return]
        finally:
            self._first.outcome = None

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        first: Exception | None = getattr(self._first, "outcome", None)
        if first is not None:
            self._first.outcome = None
            raise first
        if not self._pooled(url):
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        body = req.data if isinstance(req.data, bytes) else None
        return self._send(url, body, dict(req.header_items()))

    def _pooled(self, url: str) -> bool:
        return url.lower().startswith("http") and self.proxy is None

    def _send(self, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        """One POST; failures raised as urllib raises them, which the handlers expect."""
        try:
            answer = self._http.post(url, body, headers)
        except (OSError, http.client.HTTPException) as error:
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


# Above DEBUG, slack_sdk never formats a body for a debug line; above ERROR it does not
# repeat each failed attempt and each retry, which our own lines say once, in context.
_QUIET = logging.getLogger("slack_sdk.web.quiet")
_QUIET.setLevel(logging.CRITICAL)


def slack_client(settings: Settings) -> SlackClient:
    base_url = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else (settings.slack_api_url + "/")
    )
    return SlackClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base_url,
        timeout=max(1, round(settings.slack_timeout)),
        retry_handlers=[
            ConnectionRetryUnlessPosted(max_retry_count=2),
            RateLimitRetryForPeople(max_retry_count=3),
        ],
    )
