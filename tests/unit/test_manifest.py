"""app_manifest.yaml is valid for Slack and asks for no more than the bot uses."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from bot.slack import ids
from tests.harness import ROOT

SCHEMA = ROOT / "tests" / "data" / "slack-manifest.schema.v1.json"


def manifest() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "app_manifest.yaml").read_text())


def test_manifest_matches_slacks_schema() -> None:
    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text()))


def test_manifest_has_the_command_interactivity_and_least_scopes() -> None:
    data = manifest()
    commands = data["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [ids.COMMAND]
    assert commands[0]["url"].endswith("/slack/events")
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert data["settings"]["socket_mode_enabled"] is False
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    # The Home tab; who is a full member (the member directory, scope users:read).
    assert data["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "team_join",
        "user_change",
    ]
    assert data["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert set(data["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "chat:write.public",
        "im:write",
        "im:history",
        "users:read",
        "usergroups:read",
    }
    # `python -m bot check` compares the granted scopes with the same list.
    from bot.slack.scopes import BOT_SCOPES

    assert set(BOT_SCOPES) == set(data["oauth_config"]["scopes"]["bot"])


def test_every_web_api_method_the_bot_calls_is_covered_by_a_scope() -> None:
    # Each Web API method the code calls, and the scope that allows it.
    needs = {
        "chat_postMessage": "chat:write",
        "chat_update": "chat:write",
        "chat_postEphemeral": "chat:write",
        "conversations_open": "im:write",
        "conversations_history": "im:history",
        "views_open": None,
        "views_update": None,
        "views_publish": None,
        "users_info": "users:read",
        "users_list": "users:read",
        "usergroups_users_list": "usergroups:read",
    }
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    called = set(
        re.findall(r"\.(chat_\w+|conversations_\w+|views_\w+|users_\w+|usergroups_\w+)\(", source)
    )
    assert called <= set(needs), f"scope not known for {called - set(needs)}"
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert {needs[m] for m in called if needs[m]} <= scopes
