"""Day two, scope: a connection limited to chosen Terraform projects (`organization-scoped:
false` with the projects relationship); a move refuses, item by item, what lies outside."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import OWNER, REASON, SERVICE, WHY, approve, open_form
from tests.flow.test_move import ORG, decide_move, first_connection, move_card, replace_connection
from tests.harness import RunningBot, eventually

PROJECTS = "Limit to projects (optional)"


def test_the_form_names_projects_and_the_client_is_limited_to_them(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    platform = fake_tfe.add_project(ORG, "Platform")
    fake_tfe.add_project(ORG, "Apps")
    bot = make_bot(APPROVERS="U9APPROVER U7OTHER")
    slack = SlackDriver(fake_slack, bot.url)
    form = open_form(slack)
    slack.submit(form, {**SERVICE, WHY: REASON, PROJECTS: "platform, Nope"})
    again = slack.wait_for_view_text(OWNER, "has no project named Nope")
    assert "Apps, Platform" in json.dumps(again.view)  # what it does have
    assert bot.runtime.service.open_for_organization(ORG) is None  # nothing started
    slack.submit(again, {**SERVICE, WHY: REASON, PROJECTS: "platform"})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    approve(slack)
    connection = bot.runtime.service.get(1)
    assert connection.project_ids == platform and connection.project_names == "Platform"
    client_id = first_client(slack, fake_slack, fake_tfe)
    body = fake_tfe.requests_to("POST", rf"/api/v2/organizations/{ORG}/oauth-clients")[-1].json()
    assert body["data"]["attributes"]["organization-scoped"] is False
    assert body["data"]["relationships"]["projects"]["data"] == [
        {"type": "projects", "id": platform}
    ]
    assert fake_tfe.clients[client_id].projects == [platform]


def first_client(slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE) -> str:
    from tests.flow.steps import KEY, SECRET, credentials_form

    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    return fake_tfe.bitbucket_clients(ORG)[0].id


def test_a_move_to_a_limited_connection_refuses_what_lies_outside_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    platform = fake_tfe.add_project(ORG, "Platform")
    apps = fake_tfe.add_project(ORG, "Apps")
    bot, slack, client_id, token = first_connection(make_bot, fake_slack, fake_tfe)
    inside = fake_tfe.link(ORG, "workspaces", "network", token, project=platform)
    outside = fake_tfe.link(ORG, "workspaces", "storefront", token, project=apps)
    eventually(lambda: bot.runtime.service.get(1).uses_workspaces == 2, timeout=10)
    fake_tfe.clients[client_id].tokens.clear()
    new_token = replace_connection(
        slack, fake_slack, fake_tfe, bot, client_id, **{PROJECTS: "Platform"}
    )
    decide_move(slack, fake_slack, "U9APPROVER", "Move workspaces")
    report = eventually(
        lambda: move_card(fake_slack, "U9APPROVER", "Move of acme-infra done"), timeout=20
    )[0]
    said = json.dumps(report.blocks)
    assert "1 of 2 moved, 1 failed" in report.text
    assert ("storefront" in said and "outside the new connection&#39;s projects" in said) or (
        "outside the new connection's projects" in said
    )
    assert fake_tfe.linked_item(inside)["attributes"]["vcs-repo"]["oauth-token-id"] == new_token  # type: ignore[index]
    assert fake_tfe.linked_item(outside)["attributes"]["vcs-repo"]["oauth-token-id"] == token  # type: ignore[index]
    # Refused without a call: Terraform was never asked to relink it.
    assert not fake_tfe.requests_to("PATCH", rf"/api/v2/workspaces/{outside}")
