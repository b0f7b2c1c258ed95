"""The first modal: what is refused on the field, and what TFE's answers turn into."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk.web.base_client import BaseClient

from tests.fakes.slack import FakeSlack, SlackDriver, StoredView
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER, SERVICE, open_form, request, view_text
from tests.harness import RunningBot, eventually


@pytest.mark.sqlite_only
def test_command_prefills_the_organization(slack: SlackDriver) -> None:
    form = open_form(slack, "acme-infra")
    element = next(b for b in form.view["blocks"] if b.get("block_id") == "organization")["element"]
    assert element["initial_value"] == "acme-infra"


def _workspace_field(form: StoredView) -> str:
    block = next(b for b in form.view["blocks"] if b.get("block_id") == "workspace")
    return str(block["element"].get("initial_value", ""))


def test_the_organizations_last_workspace_is_suggested(slack: SlackDriver, bot: RunningBot) -> None:
    assert _workspace_field(open_form(slack, "acme-infra")) == ""  # nothing to suggest yet
    request(slack, values={**SERVICE, "Bitbucket workspace": "Acme-Team"})
    slack.wait_for_view_text(OWNER, "is under way")
    # Another person connecting the same organization gets the workspace filled in.
    assert _workspace_field(open_form(slack, "acme-infra", user="U3THIRD")) == "acme-team"
    assert _workspace_field(open_form(slack, "other-org", user="U5FIFTH")) == ""
    # A restarted bot (nothing remembered) finds it in the database.
    second = RunningBot(bot.settings, jobs=False)
    try:
        other = SlackDriver(slack.fake, second.url)
        assert _workspace_field(open_form(other, "acme-infra", user="U4FOURTH")) == "acme-team"
        other.http.close()
    finally:
        second.stop()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("org", ["acme infra", "acme/infra", "<!channel>", "x" * 256, "ação"])
def test_malformed_organization_is_refused_on_its_field(
    slack: SlackDriver, fake_tfe: FakeTFE, org: str
) -> None:
    form = open_form(slack, "")
    answer = slack.submit(form, {**SERVICE, "Terraform organization": org})
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"organization"}
    assert (
        "letters, digits, - and _" in answer["errors"]["organization"]
        or "at most" in (answer["errors"]["organization"])
    )
    assert not fake_tfe.requests  # nothing was asked of TFE


@pytest.mark.sqlite_only
def test_service_account_needs_a_username_and_own_account_needs_the_acknowledgement(
    slack: SlackDriver,
) -> None:
    form = open_form(slack)
    answer = slack.submit(
        form,
        {
            "Whose Bitbucket account will own the connection?": "A shared service account (recommended)"
        },
    )
    # The workspace is required too: the consumer is made in its settings.
    assert set(answer["errors"]) == {"service_username", "workspace"}
    assert "bitbucket.org/" in answer["errors"]["workspace"]
    answer = slack.submit(
        form,
        {
            "Whose Bitbucket account will own the connection?": "My own Bitbucket account",
            "Bitbucket workspace": "https://bitbucket.org/acme-team/",  # a pasted address works
        },
    )
    assert set(answer["errors"]) == {"ownership_ack"}
    assert "recorded as yours" in answer["errors"]["ownership_ack"]


def test_own_account_with_acknowledgement_starts(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    request(
        slack,
        values={
            "Whose Bitbucket account will own the connection?": "My own Bitbucket account",
            "If you use your own account": [
                "I understand the connection will be recorded as owned by me"
            ],
            "Bitbucket workspace": "Acme-Team",
        },
    )
    slack.wait_for_view_text(OWNER, "is under way")
    connection = bot.runtime.service.get(1)
    assert connection.account_kind == "personal" and connection.bitbucket_workspace == "acme-team"
    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))[0]
    assert "ownership recorded" in json.dumps(progress.blocks)
    assert "/acme-team/workspace/settings/oauth-consumers/new" in json.dumps(progress.blocks)


@pytest.mark.sqlite_only
def test_unknown_organization_says_not_found_or_no_access(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    request(slack, "no-such-org")
    view = slack.wait_for_view_text(OWNER, "no organization named no-such-org")
    assert "may not see it" in view_text(view)
    # The hints name this Terraform (TFE_URL), not HCP Terraform's address.
    host = bot.settings.tfe_url.split("://", 1)[1]
    assert f"{host}/app/&lt;organization&gt;" in view_text(
        view
    ) or f"{host}/app/<organization>" in view_text(view)
    assert "app.terraform.io" not in view_text(view)
    # The form is back, filled in as it was, so the user can fix the name and submit again.
    assert view.view["callback_id"] == "connect_request"
    assert "svc-terraform" in view_text(view)
    assert not fake_slack.messages
    with bot.runtime.engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from connections").scalar() == 0


@pytest.mark.sqlite_only
def test_token_without_vcs_permission_is_explained(slack: SlackDriver, fake_tfe: FakeTFE) -> None:
    fake_tfe.add_organization("locked-org", can_update_oauth=False)
    request(slack, "locked-org")
    view = slack.wait_for_view_text(OWNER, "may not manage its VCS")
    assert "Manage VCS settings" in view_text(view)


@pytest.mark.sqlite_only
def test_missing_permission_key_is_not_taken_as_no(slack: SlackDriver, fake_tfe: FakeTFE) -> None:
    fake_tfe.add_organization("old-install", can_update_oauth=None)
    request(slack, "old-install")
    slack.wait_for_view_text(OWNER, "is under way")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, "refused the bot's API token"),
        (403, "may not do this"),
        (500, "try again in a minute"),
        (503, "try again in a minute"),
    ],
)
def test_tfe_failures_on_the_check_are_explained_and_retryable(
    slack: SlackDriver, fake_tfe: FakeTFE, fake_slack: FakeSlack, status: int, words: str
) -> None:
    fake_tfe.fail(
        "GET",
        r"/api/v2/organizations/acme-infra",
        status=status,
        times=10,
        body={"errors": [{"status": str(status), "title": "boom"}]},
    )
    _form, _ = request(slack)
    view = slack.wait_for_view_text(OWNER, words, timeout=30)
    assert view.view["callback_id"] == "connect_request"
    # When TFE recovers, pressing Continue again starts the connection.
    fake_tfe.clear_faults()
    slack.submit(view, {})
    slack.wait_for_view_text(OWNER, "is under way")
    assert len(fake_slack.channel_messages(CHANNEL)) == 1


def test_a_second_request_for_a_busy_organization_is_refused(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    request(slack)
    slack.wait_for_view_text(OWNER, "is under way")
    request(slack, user="U3THIRD")
    view = slack.wait_for_view_text("U3THIRD", "already under way")
    assert "#1" in view_text(view)
    assert len(fake_slack.channel_messages(CHANNEL)) == 1


def test_replayed_submission_starts_one_connection(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    form = open_form(slack)
    payload = slack.submission_payload(form, SERVICE, OWNER)
    for _ in range(3):
        assert slack.post_payload(payload, headers={"X-Slack-Retry-Num": "1"}).status_code == 200
    slack.wait_for_view_text(OWNER, "is under way")
    with bot.runtime.engine.connect() as db:
        assert db.exec_driver_sql("select count(*) from connections").scalar() == 1
    assert len(fake_slack.channel_messages(CHANNEL)) == 1


@pytest.mark.sqlite_only
def test_help(slack: SlackDriver) -> None:
    response = slack.command("help")
    assert "/connect-bitbucket [organization]" in response.text


@pytest.mark.sqlite_only
def test_channel_the_bot_cannot_post_in_falls_back_to_a_dm(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    fake_slack.unpostable.add(CHANNEL)
    request(slack)
    slack.wait_for_view_text(OWNER, "is under way")
    progress = eventually(lambda: fake_slack.channel_messages("D" + OWNER))[0]
    assert "can't post in the channel" in json.dumps(progress.blocks)
    assert bot.runtime.service.get(1).progress_channel == "D" + OWNER


def test_slack_refusing_the_progress_message_is_retried_by_the_sweep(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    fake_slack.fail(
        "POST",
        r"/api/chat.postMessage",
        status=200,
        times=1,
        body={"ok": False, "error": "internal_error"},
    )
    request(slack)
    view = slack.wait_for_view_text(OWNER, "is under way")
    assert "in a moment" in view_text(view)
    now = bot.runtime.flow.clock.now()
    bot.runtime.service.update(1, created_at=now - timedelta(seconds=31), next_due_at=now)
    progress = eventually(lambda: fake_slack.channel_messages(CHANNEL))
    assert len(progress) == 1 and "Enter Key and Secret" in json.dumps(progress[0].blocks)


@pytest.mark.sqlite_only
def test_a_rate_limited_progress_message_is_sent_once_after_retry_after(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    """The outbox does not hold a thread for Slack's 429: it tries that message again once
    Retry-After has passed, and it arrives once."""
    fake_slack.fail(
        "POST",
        r"/api/chat.postMessage",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "1"},
    )
    request(slack)
    slack.wait_for_view_text(OWNER, "is under way", timeout=15)
    eventually(lambda: fake_slack.channel_messages(CHANNEL), timeout=8)
    time.sleep(0.5)
    assert len(fake_slack.channel_messages(CHANNEL)) == 1
    assert len(fake_slack.requests_to("POST", r"/api/chat.postMessage")) == 2


def test_owner_asking_again_is_pointed_to_their_connection(slack: SlackDriver) -> None:
    request(slack)
    slack.wait_for_view_text(OWNER, "is under way")
    request(slack)
    slack.wait_for_view_text(OWNER, "You already started connection #1")


@pytest.fixture
def group_bot(env: dict[str, str], fake_slack: FakeSlack, log_lines: list[str]):  # type: ignore[no-untyped-def]
    fake_slack.user_groups["S0PLATFORM"] = [OWNER]
    running = RunningBot.from_env({**env, "ALLOWED_USERS": "S0PLATFORM, U7LISTED"})
    yield SlackDriver(fake_slack, running.url)
    running.stop()


@pytest.mark.sqlite_only
def test_allowed_users_by_group_and_by_id(group_bot: SlackDriver, fake_slack: FakeSlack) -> None:
    open_form(group_bot, user=OWNER)  # a member of the group
    open_form(group_bot, user="U7LISTED")  # listed by id
    group_bot.command("acme-infra", user="U2OTHER", channel=CHANNEL)
    refusal = eventually(lambda: [m for m in fake_slack.ephemeral if m.user == "U2OTHER"])[0]
    assert "ALLOWED_USERS" in refusal.text
    assert not [v for v in fake_slack.views.values() if v.user == "U2OTHER"]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1  # cached


@pytest.mark.sqlite_only
def test_calls_to_slack_reuse_their_connections(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    eventually(lambda: bot.runtime.directory.loaded)  # its users.list is not counted below
    before_calls, before_connections = len(fake_slack.calls), fake_slack.connections
    for i in range(10):
        bot.runtime.notifier.tell_user(CHANNEL, OWNER, f"note {i}")
    calls = len(fake_slack.calls) - before_calls
    opened = fake_slack.connections - before_connections
    assert calls == 10 and opened <= 1, (calls, opened)


@pytest.mark.sqlite_only
def test_commands_use_the_bots_one_client(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listeners get the bot's client (kept-alive connections, secrets scrubbed), and no
    WebClient is built per request only to be thrown away."""
    eventually(lambda: bot.runtime.directory.loaded)
    open_form(slack, user="U1WARM")  # the pool has its connections
    built: list[object] = []
    original = BaseClient.__init__

    def counted(self: BaseClient, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(BaseClient, "__init__", counted)
    before = fake_slack.connections
    for i in range(4):
        open_form(slack, user=f"U{i}REUSE")
    assert built == []
    assert fake_slack.connections - before <= 1


@pytest.mark.sqlite_only
def test_a_dropped_connection_is_retried_as_slack_sdk_would(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    bot.runtime.notifier.tell_user(CHANNEL, OWNER, "warming the pool")
    # Slack closes the kept-alive connection without answering, once.
    fake_slack.fail("POST", r"/api/chat.postEphemeral", mode="drop")
    bot.runtime.notifier.tell_user(CHANNEL, OWNER, "after a dropped connection")
    assert [m.text for m in fake_slack.ephemeral].count("after a dropped connection") == 1
    assert len(fake_slack.requests_to("POST", r"/api/chat.postEphemeral")) == 3


@pytest.mark.sqlite_only
def test_slack_rate_limits_keep_slack_sdks_retry_behaviour(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    fake_slack.fail("POST", r"/api/chat.postEphemeral", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    bot.runtime.notifier.tell_user(CHANNEL, OWNER, "after a rate limit")
    assert time.monotonic() - started >= 1  # waited Retry-After, then succeeded
    assert [m for m in fake_slack.ephemeral if m.text == "after a rate limit"]
    assert len(fake_slack.requests_to("POST", r"/api/chat.postEphemeral")) == 2  # no extra try


@pytest.mark.sqlite_only
def test_slack_unreachable_for_every_try_is_tried_three_times(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    bot.runtime.notifier.tell_user(CHANNEL, OWNER, "warming the pool")
    fake_slack.fail("POST", r"/api/chat.postEphemeral", mode="drop", times=5)
    with pytest.raises(URLError):
        bot.runtime.notifier.tell_user(CHANNEL, OWNER, "never delivered")
    # The first try and ConnectionErrorRetryHandler's two retries, as slack_sdk makes them.
    assert len(fake_slack.requests_to("POST", r"/api/chat.postEphemeral")) == 1 + 3


@pytest.mark.sqlite_only
def test_a_trigger_that_expired_while_slack_was_slow_tells_the_user_to_try_again(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    # users.info answers after Slack's 3 seconds for the trigger have passed.
    fake_slack.fail(
        "POST",
        r"/api/users.info",
        status=200,
        body={"ok": True, "user": {"id": OWNER}},
        delay=3.2,
    )
    slack.command("acme-infra", user=OWNER, channel=CHANNEL)
    told = eventually(lambda: [m for m in fake_slack.ephemeral if m.user == OWNER], timeout=10)
    assert "did not let me open the form in time" in told[0].text
    assert "/connect-bitbucket" in told[0].text  # how to try again
    assert not fake_slack.views
    open_form(slack)  # and trying again works


@pytest.mark.sqlite_only
def test_a_trigger_opens_one_modal_only(slack: SlackDriver, fake_slack: FakeSlack) -> None:
    trigger = fake_slack.issue_trigger(OWNER)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}
    first = slack.http.post(
        fake_slack.url + "/api/views.open",
        headers={"Authorization": f"Bearer {fake_slack.token}"},
        json={"trigger_id": trigger, "view": view},
    ).json()
    again = slack.http.post(
        fake_slack.url + "/api/views.open",
        headers={"Authorization": f"Bearer {fake_slack.token}"},
        json={"trigger_id": trigger, "view": view},
    ).json()
    assert first["ok"] and again == {"ok": False, "error": "expired_trigger_id"}
