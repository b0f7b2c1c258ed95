"""A move that knows before it starts: the dry run asks Terraform, once per repository,
whether the new token sees it; what it cannot see is left out before anyone approves,
listed with the reason, and never PATCHed. Where Terraform cannot answer, the move goes as
before and says so."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.flow.test_move import (
    APPROVER,
    ORG,
    channel,
    decide_move,
    first_connection,
    move_card,
    replace_connection,
)
from tests.harness import RunningBot, eventually

PATCHES = r"/api/v2/(workspaces|policy-sets)/.*"
CHECKS = r"/api/v2/organizations/[^/]+/vcs/repo"


def test_the_dry_run_leaves_out_what_the_new_token_cannot_see(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    workspaces = [
        fake_tfe.link(ORG, "workspaces", f"app-{n:02d}", token, identifier=f"acme-team/app-{n:02d}")
        for n in range(30)
    ]
    # Two workspaces on one repository: asked about once.
    workspaces.append(
        fake_tfe.link(ORG, "workspaces", "app-03-prod", token, identifier="acme-team/app-03")
    )
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 31, timeout=10)
    fake_tfe.delete_client(client_id)
    fake_tfe.hidden_repos.update({"acme-team/app-03", "acme-team/app-11"})
    new_token = replace_connection(slack, fake_slack, fake_tfe, bot, client_id)

    dry = eventually(lambda: channel(fake_slack, "to the new connection?"), timeout=10)[0]
    said_in_channel = json.dumps(dry.blocks)
    assert "Dry run:* 28 would be pointed" in said_in_channel
    assert "3 items left out" in said_in_channel
    assert "acme-team/" not in said_in_channel  # the channel hears counts, not names
    checks = fake_tfe.requests_to("GET", CHECKS)
    assert len(checks) == 30  # one question per distinct repository
    assert {r.query["oauth_token_id"][0] for r in checks} == {new_token}
    card = eventually(lambda: move_card(fake_slack, APPROVER, "to the new connection?"))[0]
    text = json.dumps(card.blocks)
    assert "Not attempted, and why:" in text
    assert "the new connection cannot see acme-team/app-11" in text
    assert "app-03-prod" in text and "needs read access" in text
    assert fake_tfe.requests_to("PATCH", PATCHES) == []  # nothing before the approval

    decide_move(slack, fake_slack, APPROVER, "Move workspaces")
    done = eventually(lambda: channel(fake_slack, "Move of acme-infra done"), timeout=20)[0]
    assert "28 of 31 moved, 0 failed, 0 left, 3 not attempted" in done.text
    report = eventually(lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"))[0]
    said = json.dumps(report.blocks)
    assert "Not attempted, and why:" in said and "acme-team/app-11" in said
    patched = [r.path for r in fake_tfe.requests_to("PATCH", PATCHES)]
    assert len(patched) == len(set(patched)) == 28  # once each, and no 422 spent
    hidden = {workspaces[3], workspaces[11], workspaces[30]}
    for item_id in workspaces:
        repo = fake_tfe.linked_item(item_id)["attributes"]["vcs-repo"]  # type: ignore[index]
        assert (repo is None) == (item_id in hidden)
    assert len(fake_tfe.requests_to("GET", CHECKS)) == 30  # not asked again


def test_a_terraform_without_the_check_moves_as_before_and_says_so(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    for n in range(3):
        fake_tfe.link(ORG, "workspaces", f"svc-{n}", token, identifier=f"acme-team/svc-{n}")
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 3, timeout=10)
    fake_tfe.delete_client(client_id)
    fake_tfe.hidden_repos.add("acme-team/svc-1")
    fake_tfe.no_token_test = True  # neither authorized-repos nor vcs/repo
    replace_connection(slack, fake_slack, fake_tfe, bot, client_id)

    card = eventually(lambda: move_card(fake_slack, APPROVER, "to the new connection?"))[0]
    text = json.dumps(card.blocks)
    assert "Dry run:* 3 would be pointed" in text
    assert "could not say which repositories the new connection sees" in text
    assert len(fake_tfe.requests_to("GET", CHECKS)) == 1  # the first 404 ends the asking
    decide_move(slack, fake_slack, APPROVER, "Move workspaces")
    report = eventually(
        lambda: move_card(fake_slack, APPROVER, "Move of acme-infra done"), timeout=20
    )[0]
    assert "2 of 3 moved, 1 failed" in report.text  # as before: the PATCH says it
    assert "not attempted" not in report.text
