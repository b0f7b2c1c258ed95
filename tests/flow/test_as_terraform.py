"""As Terraform: `status 1` shows the code that adopts a bot-made connection, parsed here by a
real HCL2 parser; only who may see the connection gets it, and what Terraform named a
workspace cannot break out of its string."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from typing import Any

import hcl2
import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER, STRANGER
from tests.flow.test_health import connected
from tests.flow.test_reauthorize import button_in
from tests.harness import RunningBot, eventually

ORG = "acme-infra"
EVIL = 'evil"${file("/etc/passwd")}'


def status_card(slack: SlackDriver, fake_slack: FakeSlack) -> Any:
    def says() -> list[Any]:
        slack.command("status 1", user=OWNER, channel=CHANNEL)
        time.sleep(0.3)
        return [m for m in fake_slack.ephemeral if "As Terraform" in json.dumps(m.blocks)]

    return eventually(says, timeout=15)[-1]


def plain(value: Any) -> Any:
    """python-hcl2 keeps a string's quotes and escapes: the value HCL means."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def code_in(message: Any) -> str:
    text = next(
        b["text"]["text"]
        for b in message.blocks
        if b.get("text", {}).get("text", "").startswith("```")
    )
    return html.unescape(re.fullmatch(r"```\n(.*)```", text, re.S).group(1))  # type: ignore[union-attr]


@pytest.mark.sqlite_only
def test_as_terraform_shows_hcl_that_reads_the_client_and_uses_its_token(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", ALLOWED_USERS=OWNER)
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = bot.runtime.service.get(1).oauth_token_id
    assert token
    fake_tfe.link(ORG, "workspaces", EVIL, token, identifier="acme-team/app")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 1, timeout=10)
    card = status_card(slack, fake_slack)

    slack.click("As Terraform", user=OWNER, found=button_in(card, "As Terraform"))
    shown = eventually(
        lambda: [m for m in fake_slack.ephemeral if "as Terraform" in m.text and m.user == OWNER]
    )[-1]
    parsed = plain(hcl2.loads(code_in(shown)))
    data = parsed["data"][0]["tfe_oauth_client"]["bitbucket"]
    assert data["oauth_client_id"] == client_id
    resources = {kind: body for r in parsed["resource"] for kind, body in r.items()}
    workspace = next(iter(resources["tfe_workspace"].values()))
    assert workspace["organization"] == ORG
    assert workspace["vcs_repo"][0]["identifier"] == "acme-team/app"
    for kind in ("tfe_workspace", "tfe_policy_set", "tfe_registry_module"):
        repo = next(iter(resources[kind].values()))["vcs_repo"][0]
        assert repo["oauth_token_id"] == "${data.tfe_oauth_client.bitbucket.oauth_token_id}"
    # The workspace's odd name stays one string, its template escaped: nothing runs, and
    # nothing else is defined.
    assert workspace["name"] == EVIL.replace("${", "$${")
    assert set(resources) == {"tfe_workspace", "tfe_policy_set", "tfe_registry_module"}
    assert "read, not imported" in json.dumps(shown.blocks).lower()

    # Someone who may not see the connection presses a forged button: the same answer as
    # for a connection that does not exist, and no code.
    before = len(fake_slack.ephemeral)
    slack.click("As Terraform", user=STRANGER, found=button_in(card, "As Terraform"))
    refused = eventually(
        lambda: [m for m in fake_slack.ephemeral[before:] if m.user == STRANGER], timeout=10
    )[-1]
    assert refused.text == "That connection no longer exists."
    assert not [
        m for m in fake_slack.ephemeral[before:] if "tfe_oauth_client" in json.dumps(m.blocks)
    ]
