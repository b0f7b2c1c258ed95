"""Recognising a Slack delivery seen before (Events API retries, replays, double clicks)."""

from __future__ import annotations

from typing import Any

from bot.connections.service import ConnectionService


def delivery_key(body: dict[str, Any]) -> str | None:
    """A key that is the same for every delivery of one user action, and differs otherwise."""
    kind = body.get("type")
    if kind == "view_submission":
        view = body.get("view") or {}
        return f"view:{view.get('id')}:{view.get('hash')}"
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        user = (body.get("user") or {}).get("id")
        return f"action:{action.get('action_id')}:{action.get('action_ts')}:{user}"
    if kind == "event_callback":
        return f"event:{body.get('event_id')}"
    if body.get("command"):
        return f"command:{body.get('trigger_id')}"
    return None


def first_time(service: ConnectionService, body: dict[str, Any]) -> bool:
    """True for the first delivery of a request; False for a repeat of one already handled."""
    key = delivery_key(body)
    return key is None or service.first_delivery(key)
