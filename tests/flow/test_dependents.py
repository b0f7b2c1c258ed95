"""What depends on a connection: counted from Terraform with the health check, said in status
and in every broken notice, and kept when the client is deleted (the relinking list)."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER
from tests.flow.test_health import connected
from tests.harness import RunningBot, eventually


def test_what_uses_the_token_is_counted_listed_and_kept_after_the_client_is_deleted(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.5")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    token = fake_tfe.clients[client_id].tokens[0]["id"]
    for i in range(30):  # more than a page of 20 in the fake's default
        fake_tfe.link("acme-infra", "workspaces", f"network-{i:02d}", token, f"acme-team/net{i}")
    fake_tfe.link("acme-infra", "workspaces", "someone-elses", "ot-another-token")
    fake_tfe.link("acme-infra", "workspaces", "cli-driven", None)
    fake_tfe.link("acme-infra", "policy-sets", "sentinel-base", token, "acme-team/policies")
    fake_tfe.link("acme-infra", "policy-sets", "opa-extra", token, "acme-team/opa")
    fake_tfe.link("acme-infra", "registry-modules", "vpc", token, "acme-team/terraform-aws-vpc")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 30, timeout=10)
    connection = bot.runtime.service.get(1)
    assert (connection.uses_policy_sets, connection.uses_modules) == (2, 1)

    slack.command("status 1", user=OWNER, channel=CHANNEL)
    detail = eventually(
        lambda: [m for m in fake_slack.ephemeral if m.user == OWNER and "Connection #1" in m.text]
    )[-1]
    said = json.dumps(detail.blocks)
    assert "30 workspaces, 2 policy sets and 1 registry module" in said
    assert "network-00" in said and "acme-team/net0" in said and "main" in said
    assert "someone-elses" not in said and "cli-driven" not in said
    slack.open_home(OWNER)  # the Home tab's list says it too
    eventually(lambda: "used by 30 workspaces" in json.dumps(fake_slack.homes.get(OWNER, {})))

    # Someone deletes the client in Terraform's UI: everything it served is unlinked there.
    fake_tfe.delete_client(client_id)
    eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=10)
    broken = eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages(CHANNEL)
            if "Terraform runs that need Bitbucket" in json.dumps(m.blocks)
        ]
    )[0]
    assert "30 workspaces, 2 policy sets and 1 registry module" in json.dumps(broken.blocks)
    # The bot's list is now the only record of what to relink, and it stays.
    rows, total = bot.runtime.dependents.of(1)
    assert total == 33 and {r.name for r in rows} >= {"network-29", "sentinel-base", "vpc"}
    assert all(r.oauth_token_id == token for r in rows)
