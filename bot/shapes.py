"""The shapes Slack sends, checked before Bolt reads a body.

Bolt and our listeners read `user.id`, `actions[0].action_id`, `event.type` and the like
without asking whether `user` is a dict: a signed body of another shape (a leaked signing
secret, a replayed and edited request, a Slack bug) ended in a 500 from deep inside them. A
body whose known keys have the wrong type is refused here with a 400 instead; keys we do not
know are left alone, since Slack adds fields.
"""

from __future__ import annotations

from typing import Any

# Keys of an interaction payload (form field `payload`) and the types each may have.
_PAYLOAD_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "user": (dict,),
    "team": (dict, type(None)),
    "enterprise": (dict, type(None)),
    "channel": (dict, type(None)),
    "container": (dict,),
    "view": (dict,),
    "message": (dict,),
    "state": (dict,),
    "actions": (list,),
    "authorizations": (list,),
    "response_urls": (list,),
    "trigger_id": (str,),
    "api_app_id": (str,),
    "callback_id": (str,),
    "is_enterprise_install": (bool,),
}
# Interactions that always come from a person: `user.id` must be there.
_FROM_A_PERSON = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
)

# Keys of an Events API envelope (a JSON body) and of the event inside it.
_ENVELOPE_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "token": (str,),
    "team_id": (str,),
    "api_app_id": (str,),
    "event": (dict,),
    "event_id": (str,),
    "event_time": (int,),
    "authorizations": (list,),
    "enterprise_id": (str, type(None)),
    "is_enterprise_install": (bool,),
    "is_ext_shared_channel": (bool,),
    "challenge": (str,),
}
_EVENT_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "user": (str, dict),
    "channel": (str, dict),
    "team": (str,),
    "user_team": (str,),
    "tab": (str,),
    "item": (dict,),
    "message": (dict,),
    "previous_message": (dict,),
    "assistant_thread": (dict,),
    "thread_ts": (str,),
}


def _typed(body: dict[str, Any], types: dict[str, tuple[type, ...]]) -> bool:
    for key, allowed in types.items():
        if key not in body:
            continue
        value = body[key]
        # bool is an int in Python; a number is never a flag here, nor a flag a number.
        if isinstance(value, bool) and bool not in allowed:
            return False
        if not isinstance(value, allowed):
            return False
    return True


def _has_id(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str)


def _all_dicts(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(item, dict) for item in items)


def payload_ok(payload: dict[str, Any]) -> bool:
    """An interaction payload of a shape Slack sends."""
    if not isinstance(payload.get("type"), str) or not _typed(payload, _PAYLOAD_TYPES):
        return False
    kind = payload["type"]
    if kind in _FROM_A_PERSON and not _has_id(payload.get("user")):
        return False
    if "user" in payload and not _has_id(payload["user"]):
        return False
    for key in ("team", "channel", "enterprise"):
        if isinstance(payload.get(key), dict) and not _has_id(payload[key]):
            return False
    if not _all_dicts(payload.get("authorizations", [])):
        return False
    if kind == "block_actions":
        actions = payload.get("actions")
        if not actions or not _all_dicts(actions):
            return False
        if not all(isinstance(action.get("action_id"), str) for action in actions):
            return False
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("id", ""), str):
            return False
        state = view.get("state", {})
        if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
            return False
        if not all(isinstance(block, dict) for block in state.get("values", {}).values()):
            return False
    return True


# Fields Slack sends with every slash command; a listener reads each of them.
_COMMAND_FIELDS = ("command", "user_id", "team_id", "channel_id", "trigger_id")


def command_ok(form: dict[str, list[str]]) -> bool:
    """A slash command form of the shape Slack sends: each field once and not empty."""
    return all(len(form.get(name) or []) == 1 and form[name][0] for name in _COMMAND_FIELDS)


def envelope_ok(envelope: dict[str, Any]) -> bool:
    """An Events API body of a shape Slack sends."""
    if not isinstance(envelope.get("type"), str) or not _typed(envelope, _ENVELOPE_TYPES):
        return False
    if not _all_dicts(envelope.get("authorizations", [])):
        return False
    kind = envelope["type"]
    if kind == "url_verification":
        return isinstance(envelope.get("challenge"), str)
    if kind == "event_callback":
        event = envelope.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return False
        if not _typed(event, _EVENT_TYPES):
            return False
        if isinstance(event.get("user"), dict) and not _has_id(event["user"]):
            return False
        if isinstance(event.get("channel"), dict) and not _has_id(event["channel"]):
            return False
    return True
