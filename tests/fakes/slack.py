"""A fake Slack Web API on loopback, and a driver that plays Slack towards the bot.

The fake keeps messages and views the way Slack would and refuses what Slack refuses
(bad tokens, expired triggers, Block Kit over its limits). The driver sends the bot
signed requests at its real endpoint and finds controls by the words on them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from tests.fakes.base import FakeServer, Reply, Request

# How often a driver waiting for a view or a button looks again (each look reads them all).
LOOK_EVERY = 0.05
BOT_TOKEN = "xoxb-fake-bot-token-not-real"
APP_TOKEN = "xapp-fake-app-token-not-real"
SIGNING_SECRET = "fake-signing-secret-not-real"
TEAM = "T0FAKE"


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def zone_at_hour(hour: int) -> str:
    """An Etc/GMT zone whose local time now is within hour:00-hour:59 (hours -12..+12)."""
    now = datetime.now(UTC)
    shift = (hour - now.hour + 12) % 24 - 12  # hours east of UTC
    # Etc/GMT signs are inverted: Etc/GMT-3 is three hours east of UTC.
    return "Etc/GMT" + (f"-{shift}" if shift > 0 else f"+{-shift}" if shift < 0 else "")


class BlockKitError(Exception):
    pass


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def check_blocks(blocks: list[dict[str, Any]], *, limit: int) -> None:
    """The Block Kit limits Slack enforces, for the block types the bot uses."""
    if len(blocks) > limit:
        raise BlockKitError(f"{len(blocks)} blocks, limit {limit}")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for block in blocks:
        block_id = block.get("block_id")
        if block_id:
            if block_id in block_ids or len(block_id) > 255:
                raise BlockKitError(f"bad block_id {block_id!r}")
            block_ids.add(block_id)
        kind = block.get("type")
        if kind == "section" and _text_len(block.get("text")) > 3000:
            raise BlockKitError("section text over 3000")
        if kind == "header" and _text_len(block.get("text")) > 150:
            raise BlockKitError("header over 150")
        if kind == "context":
            for element in block.get("elements", []):
                if _text_len(element) > 3000:
                    raise BlockKitError("context text over 3000")
        elements = block.get("elements", []) if kind == "actions" else []
        if kind == "input":
            elements = [block["element"]]
            if _text_len(block.get("label")) > 2000:
                raise BlockKitError("label over 2000")
        for element in elements:
            action_id = element.get("action_id")
            if action_id:
                key = f"{block_id}/{action_id}" if kind == "input" else action_id
                if key in action_ids:
                    raise BlockKitError(f"duplicate action_id {action_id}")
                action_ids.add(key)
            if element.get("type") == "button":
                if _text_len(element.get("text")) > 75:
                    raise BlockKitError("button text over 75")
                if len(element.get("url") or "") > 3000 or len(element.get("value") or "") > 2000:
                    raise BlockKitError("button url/value too long")


def check_view(view: dict[str, Any]) -> None:
    for name in ("title", "submit", "close"):
        if name in view and _text_len(view[name]) > 24:
            raise BlockKitError(f"{name} over 24")
    if len(view.get("private_metadata") or "") > 3000:
        raise BlockKitError("private_metadata over 3000")
    check_blocks(view.get("blocks", []), limit=100)


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str | None = None  # set for ephemeral messages
    history: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # Slack message metadata the bot attached


@dataclass
class StoredView:
    id: str
    hash: str
    view: dict[str, Any]
    user: str
    version: int = 0


def mint_trigger(user: str) -> str:
    """A trigger_id as Slack hands one out with an interaction: good once, for 3 seconds.
    It carries who and when, so any process can mint one this fake accepts."""
    return f"{time.monotonic_ns()}.{user}.{uuid.uuid4().hex[:8]}"


def read_trigger(trigger: str) -> tuple[str, float] | None:
    """(user, issued at on time.monotonic()) of a minted trigger_id; None for any other."""
    parts = trigger.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1]:
        return None
    return parts[1], int(parts[0]) / 1e9


class FakeSlack(FakeServer):
    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.messages: list[Message] = []
        self.ephemeral: list[Message] = []
        self.views: dict[str, StoredView] = {}
        # Each user's published App Home, and how often it was published.
        self.homes: dict[str, dict[str, Any]] = {}
        self.home_history: dict[str, list[dict[str, Any]]] = {}  # every tab shown, in order
        self.home_versions: dict[str, int] = {}
        self.used_triggers: set[str] = set()
        self.unpostable: set[str] = set()
        # Users' time zones; by default one where it is early afternoon now, so tests
        # never meet the owner's night by accident.
        self.user_tz: dict[str, str] = {}
        self.user_groups: dict[str, list[str]] = {}
        # The workspace's people as users.list lists them (users.info answers for anyone).
        self.members: list[str] = []
        # An Enterprise Grid org-wide install: each workspace's members (users.list then
        # wants a team_id). Empty: a plain workspace install.
        self.grid: dict[str, list[str]] = {}
        # Posts a second per channel and the burst allowed, then 429 (None: no limit).
        self.channel_rate: tuple[float, int] | None = None
        # Slack's tiers, per method across every caller (every replica): (a second, burst).
        self.method_rate: dict[str, tuple[float, int]] = {}
        self._method_calls: dict[str, tuple[float, float]] = {}
        self.refused_for_rate = 0
        self._channel_posts: dict[str, tuple[float, float]] = {}
        # Until this time.monotonic(), every Web API call answers 503 (a Slack outage).
        self.down_until = 0.0
        # The bot token's scopes, as Slack reports them in the x-oauth-scopes header.
        # Methods this Slack does not know (as an Enterprise Grid or GovSlack may answer).
        self.unknown_methods: set[str] = set()
        self.home_hashes: dict[str, str] = {}  # the hash of each user's current Home tab
        self.scopes = [
            "commands",
            "chat:write",
            "chat:write.public",
            "im:write",
            "im:history",
            "users:read",
            "usergroups:read",
        ]
        # users.info flags per user: deleted, is_bot, is_restricted, is_ultra_restricted.
        self.user_flags: dict[str, dict[str, bool]] = {}
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._ts = itertools.count(1)
        self.route("POST", r"/api/(?P<method>[a-zA-Z.]+)", self._api)

    # What tests read.

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [args for name, args in self.calls if name == method]

    def all_text(self) -> str:
        """Every byte the bot sent to Slack, for leak checks."""
        with self.lock:
            return "\n".join(r.body.decode(errors="replace") for r in self.requests)

    def channel_messages(self, channel: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.channel == channel]

    def issue_trigger(self, user: str) -> str:
        return mint_trigger(user)

    def apply_ack(self, view_id: str, version: int, response: dict[str, Any]) -> None:
        """What Slack does with a view_submission's answer: update, clear or close."""
        with self.lock:
            stored = self.views.get(view_id)
            if stored is None:
                return
            action = response.get("response_action")
            if action == "update" and stored.version == version:
                check_view(response["view"])
                self._replace(stored, response["view"])
            elif action in (None, "clear") and stored.version == version:
                self.views.pop(view_id, None)

    # The Web API.

    def _api(self, request: Request, match: Any) -> Reply:
        auth = request.headers.get("authorization")
        if match["method"] == "apps.connections.open":
            if auth != f"Bearer {APP_TOKEN}" or not self.socket_url:
                return Reply(200, {"ok": False, "error": "invalid_auth"})
            with self.lock:
                self.calls.append(("apps.connections.open", {}))
            return Reply(200, {"ok": True, "url": self.socket_url})
        if time.monotonic() < self.down_until:
            return Reply(503, {"ok": False, "error": "service_unavailable"})
        if auth != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        content_type = request.headers.get("content-type", "")
        args: dict[str, Any] = request.json() if "json" in content_type else request.form()
        for key in ("blocks", "view", "metadata"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        method = match["method"]
        with self.lock:
            self.calls.append((method, args))
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if method in self.method_rate and not self._within_tier(method):
            with self.lock:
                self.refused_for_rate += 1
            return Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
        if handler is None or method in self.unknown_methods:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        try:
            headers = {"x-oauth-scopes": ",".join(self.scopes)}
            return Reply(200, {"ok": True, **handler(args)}, headers=headers)
        except BlockKitError as error:
            return Reply(200, {"ok": False, "error": "invalid_blocks", "errors": [str(error)]})
        except SlackError as error:
            return Reply(200, {"ok": False, "error": str(error)})
        except RateLimited:
            with self.lock:
                self.refused_for_rate += 1
            return Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "connect-bitbucket",
            "team_id": TEAM,
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

    def _post(self, args: dict[str, Any], *, ephemeral: bool) -> Message:
        channel = str(args.get("channel") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if channel in self.unpostable:
            raise SlackError("not_in_channel")
        blocks = args.get("blocks") or []
        check_blocks(blocks, limit=50)
        if not args.get("text") and not blocks:
            raise SlackError("no_text")
        message = Message(
            channel,
            f"{int(time.time())}.{next(self._ts):06d}",
            str(args.get("text") or ""),
            blocks,
            user=args.get("user") if ephemeral else None,
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
        )
        with self.lock:
            (self.ephemeral if ephemeral else self.messages).append(message)
        return message

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages, newest first; a DM's needs im:history, any other channel's
        channels:history (which the bot never asks for)."""
        channel = str(args.get("channel") or "")
        needed = "im:history" if channel.startswith("D") else "channels:history"
        if needed not in self.scopes:
            raise SlackError("missing_scope")
        limit = max(1, min(999, int(args.get("limit") or 100)))
        with_metadata = str(args.get("include_all_metadata") or "").lower() in ("1", "true")
        with self.lock:
            found = [m for m in self.messages if m.channel == channel][::-1][:limit]
        return {
            "messages": [
                {
                    "type": "message",
                    "ts": m.ts,
                    "text": m.text,
                    "bot_id": "BBOT",
                    **({"metadata": m.metadata} if with_metadata and m.metadata else {}),
                }
                for m in found
            ],
            "has_more": False,
        }

    def _within_tier(self, method: str) -> bool:
        """A token bucket per method: `burst` at once, then `rate` a second."""
        rate, burst = self.method_rate[method]
        now = time.monotonic()
        with self.lock:
            tokens, at = self._method_calls.get(method, (float(burst), now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens < 1:
                self._method_calls[method] = (tokens, now)
                return False
            self._method_calls[method] = (tokens - 1, now)
            return True

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.channel_rate is not None:
            # A token bucket per channel: `burst` at once, then `rate` a second.
            rate, burst = self.channel_rate
            now = time.monotonic()
            with self.lock:
                tokens, at = self._channel_posts.get(str(args.get("channel")), (burst, now))
                tokens = min(burst, tokens + (now - at) * rate)
                if tokens < 1:
                    raise RateLimited
                self._channel_posts[str(args.get("channel"))] = (tokens - 1, now)
        message = self._post(args, ephemeral=False)
        return {
            "channel": message.channel,
            "ts": message.ts,
            "message": {"text": message.text, "blocks": message.blocks},
        }

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user"):
            raise SlackError("user_not_found")
        message = self._post(args, ephemeral=True)
        return {"message_ts": message.ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = args.get("blocks") or []
        check_blocks(blocks, limit=50)
        with self.lock:
            for message in self.messages:
                if message.channel == args.get("channel") and message.ts == args.get("ts"):
                    message.history.append({"text": message.text, "blocks": message.blocks})
                    message.text, message.blocks = str(args.get("text") or ""), blocks
                    return {"channel": message.channel, "ts": message.ts}
        raise SlackError("message_not_found")

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if not users or "," in users:
            raise SlackError("users_list_not_supplied")
        return {"channel": {"id": "D" + users}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user"))
        zone = self.user_tz.get(user) or zone_at_hour(13)
        offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
        return {
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": user.lower(),
                "tz": zone,
                "tz_offset": int(offset.total_seconds()),
                "deleted": False,
                "is_bot": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                **self.user_flags.get(user, {}),
            }
        }

    def person(self, user: str) -> dict[str, Any]:
        """The user object users.info, users.list and user_change carry."""
        return dict(self._users_info({"user": user})["user"])

    def _auth_teams_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """The workspaces an org-wide app is in (Enterprise Grid)."""
        if not self.grid:
            raise SlackError("not_an_enterprise")
        return {
            "teams": [{"id": team, "name": team.lower()} for team in self.grid],
            "response_metadata": {"next_cursor": ""},
        }

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # Cursor pagination as Slack does it: an opaque next_cursor, "" on the last page.
        if self.grid:
            # An org-wide install: each workspace's members, and a team_id is required.
            team = str(args.get("team_id") or "")
            if not team:
                raise SlackError("missing_argument")
            if team not in self.grid:
                raise SlackError("team_access_not_granted")
            people = self.grid[team]
        else:
            people = None
        limit = max(1, min(1000, int(args.get("limit") or 1000)))
        cursor = str(args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("user:")) if cursor else 0
        except ValueError:
            raise SlackError("invalid_cursor") from None
        with self.lock:
            people = list(self.members if people is None else people)
        page = people[start : start + limit]
        more = start + limit < len(people)
        next_cursor = base64.b64encode(f"user:{start + limit}".encode()).decode() if more else ""
        return {
            "members": [self.person(user) for user in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup"))
        if group not in self.user_groups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.user_groups[group])}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        issued = read_trigger(trigger)
        with self.lock:
            if issued is None or trigger in self.used_triggers:
                raise SlackError("expired_trigger_id")
            self.used_triggers.add(trigger)
        if time.monotonic() - issued[1] > 3:
            raise SlackError("expired_trigger_id")
        view = args["view"]
        check_view(view)
        stored = StoredView(
            id="V" + uuid.uuid4().hex[:10].upper(), hash="", view={}, user=issued[0]
        )
        self._replace(stored, view)
        with self.lock:
            self.views[stored.id] = stored
        return {"view": dict(stored.view, id=stored.id, hash=stored.hash)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        if view.get("type") != "home":
            raise SlackError("invalid_arguments")
        check_view(view)
        user = str(args.get("user_id") or "")
        if not user:
            raise SlackError("user_not_found")
        with self.lock:
            # As Slack: a publish naming the hash of an older tab is refused.
            given, current = args.get("hash"), self.home_hashes.get(user)
            if given and current and given != current:
                raise SlackError("hash_conflict")
            self.homes[user] = view
            self.home_history.setdefault(user, []).append(view)
            self.home_versions[user] = self.home_versions.get(user, 0) + 1
            self.home_hashes[user] = view_hash = f"{time.time():.6f}.{self.home_versions[user]}"
        return {"view": dict(view, id="VHOME" + user, hash=view_hash)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        check_view(view)
        with self.lock:
            stored = self.views.get(str(args.get("view_id")))
            if stored is None:
                raise SlackError("not_found")
            if args.get("hash") and args["hash"] != stored.hash:
                raise SlackError("hash_conflict")
            self._replace(stored, view)
        return {"view": dict(stored.view, id=stored.id, hash=stored.hash)}

    def _replace(self, stored: StoredView, view: dict[str, Any]) -> None:
        stored.view = view
        stored.version += 1
        stored.hash = f"{stored.version}.{uuid.uuid4().hex[:8]}"


class SlackError(Exception):
    pass


class RateLimited(Exception):
    """Slack's 429: too many calls (here, posts in one channel)."""


def _label(block: dict[str, Any]) -> str:
    label = block.get("label")
    return label.get("text", "") if isinstance(label, dict) else str(label or "")


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    found = []
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button":
                found.append((block, element))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append((block, accessory))
    return found


class SlackDriver:
    """Plays Slack towards the bot: signed slash commands, submissions and clicks."""

    def __init__(self, fake: FakeSlack, bot_url: str, secret: str = SIGNING_SECRET) -> None:
        self.fake = fake
        self.bot_url = bot_url.rstrip("/") + "/slack/events"
        self.secret = secret
        # Plain HTTP to the bot on loopback: no TLS context to build (13 ms a driver).
        self.http = httpx.Client(timeout=10, verify=False)
        self._action_ts = itertools.count(1)
        self.lock = threading.Lock()

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        timestamp = int(time.time()) if timestamp is None else timestamp
        return self.http.post(
            self.bot_url,
            content=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(timestamp),
                "X-Slack-Signature": sign(body, timestamp, secret or self.secret),
                **(headers or {}),
            },
        )

    def event(self, event: dict[str, Any], **kwargs: Any) -> httpx.Response:
        """An Events API delivery, as Slack posts it."""
        body = {
            "token": "fake",
            "team_id": TEAM,
            "api_app_id": "A0FAKE",
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "event": event,
        }
        return self.post(json.dumps(body).encode(), "application/json", **kwargs)

    def open_home(self, user: str) -> httpx.Response:
        return self.event(
            {"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home"}
        )

    def post_form(self, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.post(urlencode(form).encode(), "application/x-www-form-urlencoded", **kwargs)

    def post_payload(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.post_form({"payload": json.dumps(payload)}, **kwargs)

    def command(
        self, text: str = "", *, user: str = "U1OWNER", channel: str = "C1CHAN", **kwargs: Any
    ) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "platform",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/connect-bitbucket",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": "https://hooks.slack.invalid/commands/1",
            "trigger_id": self.fake.issue_trigger(user),
        }
        return self.post_form(form, **kwargs)

    # Views.

    def wait_for_view(self, user: str, predicate: Any = None, timeout: float = 10) -> StoredView:
        """The user's open modal, once `predicate(view dict)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.fake.lock:
                for stored in self.fake.views.values():
                    if stored.user == user and (predicate is None or predicate(stored.view)):
                        return stored
            time.sleep(LOOK_EVERY)
        with self.fake.lock:
            seen = [json.dumps(v.view)[:600] for v in self.fake.views.values()]
        raise AssertionError(f"no matching view for {user}; views: {seen}")

    def wait_for_view_text(self, user: str, text: str, timeout: float = 10) -> StoredView:
        return self.wait_for_view(user, lambda v: text in json.dumps(v), timeout)

    def submission_payload(
        self, stored: StoredView, values: dict[str, Any], user: str
    ) -> dict[str, Any]:
        """A view_submission for `stored` with inputs found by their labels."""
        state: dict[str, dict[str, Any]] = {}
        labels = {_label(b): b for b in stored.view.get("blocks", []) if b.get("type") == "input"}
        for label, value in values.items():
            if label not in labels:
                raise AssertionError(f"no input labelled {label!r}; labels: {list(labels)}")
            block = labels[label]
            element = block["element"]
            entry: dict[str, Any] = {"type": element["type"]}
            if element["type"] == "plain_text_input":
                entry["value"] = value
            elif element["type"] == "radio_buttons":
                option = next(o for o in element["options"] if o["text"]["text"] == value)
                entry["selected_option"] = option
            elif element["type"] == "checkboxes":
                entry["selected_options"] = [
                    o for o in element["options"] if o["text"]["text"] in value
                ]
            elif element["type"] == "users_select":
                entry["selected_user"] = value
            state.setdefault(block["block_id"], {})[element["action_id"]] = entry
        # Inputs left alone still report their initial values, as Slack does.
        for block in stored.view.get("blocks", []):
            if block.get("type") != "input" or block["block_id"] in state:
                continue
            element = block["element"]
            entry = {"type": element["type"]}
            if element["type"] == "plain_text_input":
                entry["value"] = element.get("initial_value")
            elif element["type"] == "radio_buttons":
                entry["selected_option"] = element.get("initial_option")
            elif element["type"] == "checkboxes":
                entry["selected_options"] = element.get("initial_options") or []
            elif element["type"] == "users_select":
                entry["selected_user"] = element.get("initial_user")
            state[block["block_id"]] = {element["action_id"]: entry}
        return {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A0FAKE",
            "trigger_id": self.fake.issue_trigger(user),
            "view": dict(
                stored.view, id=stored.id, hash=stored.hash, team_id=TEAM, state={"values": state}
            ),
            "response_urls": [],
        }

    def submit(
        self,
        stored: StoredView,
        values: dict[str, Any],
        *,
        user: str = "U1OWNER",
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Submit a modal; returns the bot's answer (and applies it, as Slack would)."""
        payload = payload or self.submission_payload(stored, values, user)
        version = stored.version
        response = self.post_payload(payload)
        assert response.status_code == 200, response.text
        answer = response.json() if response.content else {}
        self.fake.apply_ack(stored.id, version, answer)
        return answer

    # Messages and buttons.

    def has_button(self, label: str) -> bool:
        """Whether any message shows a button with this label right now."""
        with self.fake.lock:
            messages = self.fake.messages + self.fake.ephemeral
        return any(
            button["text"]["text"] == label for m in messages for _, button in _buttons(m.blocks)
        )

    def find_button(
        self,
        label: str,
        *,
        channel: str | None = None,
        value: str | None = None,
        timeout: float = 10,
    ) -> tuple[Message, dict[str, Any], dict[str, Any]]:
        """The newest message (or ephemeral) showing a button with this label (and this
        value: a connection's own button, where an older one shows the same label)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.fake.lock:
                messages = list(reversed(self.fake.messages + self.fake.ephemeral))
            for message in messages:
                if channel and message.channel != channel:
                    continue
                for block, button in _buttons(message.blocks):
                    if button["text"]["text"] == label and value in (None, button.get("value")):
                        return message, block, button
            time.sleep(LOOK_EVERY)
        raise AssertionError(f"no button labelled {label!r}")

    def click(
        self,
        label: str,
        *,
        user: str = "U1OWNER",
        channel: str | None = None,
        found: tuple[Message, dict[str, Any], dict[str, Any]] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> httpx.Response:
        message, block, button = found or self.find_button(label, channel=channel)
        payload = payload or self.click_payload(message, block, button, user)
        response = self.post_payload(payload)
        assert response.status_code == 200, response.text
        return response

    def pick_user(
        self, placeholder: str, picked: str, *, user: str = "U1OWNER", channel: str | None = None
    ) -> httpx.Response:
        """Choose a person in a message's users_select (found by its placeholder), as Slack
        sends it: a block_actions with `selected_user` and the select's block_id."""
        for message in reversed(self.fake.messages):
            if channel and message.channel != channel:
                continue
            for block in message.blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("type") == "users_select" and (
                        element["placeholder"]["text"] == placeholder
                    ):
                        shown = {"action_id": element["action_id"], "text": element["placeholder"]}
                        payload = self.click_payload(message, block, shown, user)
                        payload["actions"][0] = {
                            "action_id": element["action_id"],
                            "block_id": block.get("block_id"),
                            "type": "users_select",
                            "selected_user": picked,
                            "action_ts": f"{time.time():.6f}{next(self._action_ts)}",
                        }
                        response = self.post_payload(payload)
                        assert response.status_code == 200, response.text
                        return response
        raise AssertionError(f"no users_select with placeholder {placeholder!r}")

    def click_payload(
        self, message: Message, block: dict[str, Any], button: dict[str, Any], user: str
    ) -> dict[str, Any]:
        action = {
            "action_id": button["action_id"],
            "block_id": block.get("block_id"),
            "text": button["text"],
            "type": "button",
            "action_ts": f"{time.time():.6f}{next(self._action_ts)}",
        }
        if "value" in button:
            action["value"] = button["value"]
        if "url" in button:
            action["url"] = button["url"]
        return {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": "A0FAKE",
            "trigger_id": self.fake.issue_trigger(user),
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": message.user is not None,
            },
            "channel": {"id": message.channel},
            "message": {"ts": message.ts, "blocks": message.blocks},
            "response_url": "https://hooks.slack.invalid/actions/1",
            "actions": [action],
        }
