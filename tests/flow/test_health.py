"""After "connected": the health watch notices a deleted client or token, a re-issued
token, and a personal owner who left; it stays quiet while all is well."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    OWNER,
    SECRET,
    SERVICE,
    credentials_form,
    started,
)
from tests.harness import RunningBot, eventually

APPROVER = "U9APPROVER"
PERSONAL = {
    "Whose Bitbucket account will own the connection?": "My own Bitbucket account",
    "If you use your own account": ["I understand the connection will be recorded as owned by me"],
    "Bitbucket workspace": "acme-team",
}


def connected(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    bot: RunningBot,
    values: Any = None,
) -> str:
    """A connection all the way to connected (`values=False`: from where it stands); returns
    its OAuth client id."""
    if values is False:
        pass
    elif values is None:
        started(slack, fake_slack)
    else:
        from tests.flow.steps import open_form

        slack.submit(open_form(slack), values)
        slack.wait_for_view_text(OWNER, "is under way")
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    client_id: str = fake_tfe.bitbucket_clients("acme-infra")[0].id
    fake_tfe.authorize(client_id)
    eventually(lambda: bot.runtime.service.get(1).state == "connected")
    return client_id


def channel_says(fake_slack: FakeSlack, words: str) -> list[Any]:
    return [m for m in fake_slack.channel_messages(CHANNEL) if words in m.text]


def test_a_deleted_token_breaks_it_and_a_new_one_heals_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.5", APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    eventually(lambda: len(channel_says(fake_slack, "is connected to acme-infra")) == 2)
    quiet = len(fake_slack.messages)

    def checked_at() -> Any:
        return bot.runtime.service.get(1).health_checked_at

    # Two healthy checks, however loaded the machine (1.5 s of sleep once saw none).
    first = eventually(checked_at, timeout=15)
    eventually(lambda: checked_at() != first, timeout=15)
    assert len(fake_slack.messages) == quiet  # healthy: no message

    fake_tfe.clients[client_id].tokens.clear()  # someone deleted the token in TFE
    eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=10)
    told = eventually(lambda: channel_says(fake_slack, "is broken"))[0]
    assert "no OAuth token" in json.dumps(told.blocks)
    for user in (OWNER, APPROVER):
        dm = eventually(
            lambda user=user: [
                m for m in fake_slack.channel_messages("D" + user) if "is broken" in m.text
            ]
        )[0]
        assert "Reconnect" in json.dumps(dm.blocks)
    # A new connection for the organization may start: broken is settled, not unfinished.
    assert bot.runtime.service.open_for_organization("acme-infra") is None

    fake_tfe.authorize(client_id)  # someone authorized again in TFE's UI
    eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=10)
    eventually(lambda: channel_says(fake_slack, "works again"))
    assert len(channel_says(fake_slack, "is broken")) == 1


def test_a_deleted_client_breaks_it(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.5")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_tfe.clients.pop(client_id)
    eventually(lambda: bot.runtime.service.get(1).state == "broken", timeout=10)
    told = eventually(lambda: channel_says(fake_slack, "is broken"))[0]
    assert "gone from Terraform" in json.dumps(told.blocks)
    slack.command("status 1", user=OWNER, channel=CHANNEL)
    eventually(
        lambda: [m for m in fake_slack.ephemeral if "last health check" in json.dumps(m.blocks)]
    )


def test_reconnect_starts_a_prefilled_connection(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.5")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    fake_tfe.clients[client_id].tokens.clear()
    eventually(lambda: channel_says(fake_slack, "is broken"))
    slack.click("Reconnect", user=OWNER)
    form = slack.wait_for_view(
        OWNER,
        lambda v: v.get("callback_id") == "connect_request" and "acme-team" in json.dumps(v),
    )
    text = json.dumps(form.view)
    assert "acme-infra" in text and "svc-terraform" in text
    slack.submit(form, SERVICE)
    # The broken connection's client is still in TFE, but it is being replaced: no question
    # whether to add another, the new connection is under way.
    slack.wait_for_view_text(OWNER, "is under way")
    assert "Add another Bitbucket connection anyway" not in json.dumps(
        [v.view for v in fake_slack.views.values()]
    )
    eventually(lambda: bot.runtime.service.open_for_organization("acme-infra") is not None)

    # Carried through to "connected", the new connection replaces the broken one.
    seen = set(fake_slack.views)
    slack.click("Enter Key and Secret", user=OWNER)
    credentials = eventually(
        lambda: [
            v
            for key, v in list(fake_slack.views.items())
            if key not in seen and v.view.get("callback_id") == "connect_credentials"
        ]
    )[0]
    slack.submit(credentials, {"Key": KEY, "Secret": SECRET})
    new_client = eventually(
        lambda: [c for c in fake_tfe.bitbucket_clients("acme-infra") if c.id != client_id]
    )[0]
    # Opened first, as in test_move: unclicked, the bot looks for the token once a minute.
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize", value="2"))
    fake_tfe.authorize(new_client.id)
    eventually(lambda: bot.runtime.service.get(2).state == "connected")
    old = eventually(
        lambda: (lambda c: c if c.state == "cancelled" else None)(bot.runtime.service.get(1))
    )
    assert "Replaced by connection #2" in (old.status_note or "")
    assert client_id in (old.status_note or "")  # its client stays, and the note names it
    assert client_id in fake_tfe.clients
    eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages(CHANNEL)
            if "Replaced by connection #2" in json.dumps(m.blocks)
        ],
        timeout=5,  # sent right away, not by the sweep ten seconds later
    )


def test_an_owner_who_left_is_told_once(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3", APPROVERS=f"{APPROVER} U7OTHER")
    slack = SlackDriver(fake_slack, bot.url)
    from tests.flow.steps import REASON, WHY, approve, open_form

    slack.submit(open_form(slack), {**PERSONAL, WHY: REASON})
    slack.wait_for_view_text(OWNER, "waits for an approver")
    approve(slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    fake_tfe.authorize(fake_tfe.bitbucket_clients("acme-infra")[0].id)
    eventually(lambda: bot.runtime.service.get(1).state == "connected")
    notices = eventually(
        lambda: channel_says(fake_slack, "is connected to acme-infra")[1:]  # after the progress
    )
    assert "stops working if they lose access" in json.dumps(notices[0].blocks)

    fake_slack.user_flags[OWNER] = {"deleted": True}
    told = eventually(lambda: channel_says(fake_slack, "depends on someone who left"), timeout=10)
    assert "Reconnect with a service account" in json.dumps(told[0].blocks)
    eventually(
        lambda: [m for m in fake_slack.channel_messages("D" + APPROVER) if "who left" in m.text]
    )
    time.sleep(1.5)  # several more checks
    assert len(channel_says(fake_slack, "depends on someone who left")) == 1
    slack.click("Reconnect with a service account", user=APPROVER)
    form = slack.wait_for_view(APPROVER, lambda v: v.get("callback_id") == "connect_request")
    assert "A shared service account" in json.dumps(form.view["blocks"][1])


def test_authorized_as_another_account_is_said_and_counts_as_personal(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot(HEALTH_EVERY="0.3")
    slack = SlackDriver(fake_slack, bot.url)
    started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    fake_tfe.authorize(fake_tfe.bitbucket_clients("acme-infra")[0].id, user="jane-personal")
    notice = eventually(lambda: channel_says(fake_slack, "is connected to acme-infra")[1:])[0]
    text = json.dumps(notice.blocks)
    assert "jane-personal" in text and "not the service account" in text
    fix = eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages("D" + OWNER)
            if "wrong Bitbucket account" in m.text
        ]
    )[0]
    assert "Re-authorize" in json.dumps(fix.blocks)
    fake_slack.user_flags[OWNER] = {"is_restricted": True}  # the owner is now a guest
    eventually(lambda: channel_says(fake_slack, "depends on someone who left"), timeout=10)


def test_two_replicas_check_once_and_tell_once(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    first = make_bot(HEALTH_EVERY="0.5")
    second = make_bot(HEALTH_EVERY="0.5")  # the same database: another replica
    slack = SlackDriver(fake_slack, first.url)
    client_id = connected(slack, fake_slack, fake_tfe, first)
    tokens = rf"/api/v2/oauth-clients/{client_id}"
    eventually(lambda: first.runtime.service.get(1).health_checked_at is not None, timeout=10)
    time.sleep(2)  # four intervals, two replicas sweeping
    checks = len(fake_tfe.requests_to("GET", tokens))
    assert checks <= 6, checks  # one check per interval, not one per replica
    fake_tfe.clients[client_id].tokens.clear()
    eventually(lambda: channel_says(fake_slack, "is broken"), timeout=10)
    time.sleep(1.5)
    # The progress message (the channel's first) says so too; the notice comes once.
    notices = [m for m in fake_slack.channel_messages(CHANNEL)[1:] if "is broken" in m.text]
    assert len(notices) == 1
    assert second.runtime.service.get(1).state == "broken"


def test_only_broken_connections_of_the_same_workspace_are_replaced(database_url: str) -> None:
    from bot import db
    from bot.clock import SystemClock
    from bot.connections.model import AccountKind
    from bot.connections.service import ConnectionService, NewConnection
    from bot.connections.states import State

    db.migrate(database_url)
    service = ConnectionService(db.make_sessionmaker(db.make_engine(database_url)), SystemClock())

    made_ids: list[int] = []

    def connection_at(state: State, workspace: str, organization: str = "acme-infra") -> int:
        made = service.start(
            NewConnection(
                request_ref=f"seed:{len(made_ids)}",
                team_id="T",
                channel_id=CHANNEL,
                owner_id=OWNER,
                organization=organization,
                account_kind=AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc",
                bitbucket_workspace=workspace,
            )
        )
        path = [
            State.AWAITING_CALLBACK,
            State.AWAITING_AUTHORIZATION,
            State.CONNECTED,
            State.BROKEN,
        ]
        for step in path[: path.index(state) + 1]:
            service.advance_to(made.id, step, actor="test")
        made_ids.append(made.id)
        return made.id

    same = connection_at(State.BROKEN, "acme-team")
    other_workspace = connection_at(State.BROKEN, "other-team")
    healthy = connection_at(State.CONNECTED, "acme-team")
    other_org = connection_at(State.BROKEN, "acme-team", organization="acme-two")
    newer = connection_at(State.CONNECTED, "acme-team")
    assert [c.id for c in service.replaced_by(service.get(newer))] == [same]
    assert {other_workspace, healthy, other_org}.isdisjoint(
        c.id for c in service.replaced_by(service.get(newer))
    )
