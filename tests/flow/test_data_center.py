"""Bitbucket Data Center end to end, through the bot's real endpoint as Slack drives it: the
form's choice, the keys and client the bot makes, the administrator's application link
(its values in order, once; handed to a colleague), Authorize, the token's SSH key, and
the channel's notice. The private keys reach Terraform and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.fakes.bitbucket_dc import FakeBitbucketDC
from tests.fakes.slack import FakeSlack, Message, SlackDriver, StoredView
from tests.fakes.tfe import AuthorizationFailed, FakeOAuthClient, FakeTFE
from tests.flow.steps import (
    CHANNEL,
    KEY,
    ORG,
    OWNER,
    REASON,
    SECRET,
    STRANGER,
    WHY,
    approve,
    open_form,
    view_text,
)
from tests.flow.test_security import database_text
from tests.harness import BotProcess, RunningBot, eventually

ADMIN = "U3ADMIN"
DATA_CENTER = {
    "Which Bitbucket?": "Bitbucket Data Center",
    "Whose Bitbucket account will own the connection?": "A shared service account (recommended)",
    "Service account's Bitbucket username": "svc-terraform",
}


@pytest.fixture
def data_center(fake_tfe: FakeTFE) -> Iterator[FakeBitbucketDC]:
    fake = FakeBitbucketDC()
    fake.start()
    fake_tfe.data_center = fake  # its application links decide the fake's authorizations
    yield fake
    fake.stop()


@pytest.fixture
def dc_slack(
    fake_slack: FakeSlack, make_bot: Callable[..., RunningBot], data_center: FakeBitbucketDC
) -> Iterator[SlackDriver]:
    running = make_bot(BITBUCKET_DC_URL=f"{data_center.url},https://other.example.invalid")
    driver = SlackDriver(fake_slack, running.url)
    driver.bot = running  # type: ignore[attr-defined]
    yield driver
    driver.http.close()


def data_center_client(fake_tfe: FakeTFE) -> FakeOAuthClient:
    clients = [
        c
        for c in list(fake_tfe.clients.values())
        if c.attributes["service-provider"] == "bitbucket_data_center"
    ]
    assert len(clients) == 1, clients
    return clients[0]


def text_of(message: Message) -> str:
    return json.dumps(message.blocks)


def public_of(private_pem: str, encoding: serialization.Encoding) -> str:
    key = serialization.load_pem_private_key(
        private_pem.encode(), None, unsafe_skip_rsa_key_validation=True
    )
    form = (
        serialization.PublicFormat.OpenSSH
        if encoding == serialization.Encoding.OpenSSH
        else serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key.public_key().public_bytes(encoding, form).decode()


def fresh_form(slack: SlackDriver) -> StoredView:
    """The connect form `/connect-bitbucket` opens now (not one opened before)."""
    with slack.fake.lock:
        before = set(slack.fake.views)
    assert slack.command(ORG, user=OWNER, channel=CHANNEL).status_code == 200
    return slack.wait_for_view(
        OWNER,
        lambda v: (
            v.get("callback_id") == "connect_request"
            and not [i for i, s in slack.fake.views.items() if s.view is v and i in before]
        ),
    )


def start_data_center(slack: SlackDriver, data_center: FakeBitbucketDC) -> None:
    form = fresh_form(slack)
    shown = view_text(form)
    assert "Which Bitbucket?" in shown and data_center.url in shown  # offered, address preset
    answer = slack.submit(form, DATA_CENTER)
    assert answer["response_action"] == "update"
    slack.wait_for_view_text(OWNER, "application link")


def test_data_center_from_the_form_to_the_channel(
    dc_slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    log_lines: list[str],
    database_url: str,
) -> None:
    slack = dc_slack
    start_data_center(slack, data_center)
    # The bot made the keys and the client: the administrator's step is in the channel.
    slack.find_button("I've created the application link", channel=CHANNEL)
    client = data_center_client(fake_tfe)
    attributes = client.attributes
    assert attributes["http-url"] == attributes["api-url"] == data_center.url
    public_key = attributes["rsa-public-key"]
    assert public_of(client.secret, serialization.Encoding.PEM).strip() == public_key.strip()
    progress = fake_slack.channel_messages(CHANNEL)[0]
    body = text_of(progress)
    assert "Connect Bitbucket Data Center to acme-infra" in body
    # The values to paste, in the order Bitbucket asks for them, each once.
    values = [
        f"{fake_tfe.url}/app/{ORG}",  # Application URL
        attributes["key"],  # Consumer Key
        f"Terraform ({ORG})",  # Consumer Name
        json.dumps(public_key.strip())[1:-1],  # Public Key (as JSON text)
    ]
    at = [body.find(value) for value in values]
    assert -1 not in at and at == sorted(at), at
    assert [body.count(value) for value in values] == [1, 1, 1, 1]
    assert "Bitbucket administrator" in body and "Application Links" in body
    _, _, page = slack.find_button("Open Bitbucket: Application Links", channel=CHANNEL)
    assert page["url"] == f"{data_center.url}/plugins/servlet/applinks/listApplicationLinks"
    # The owner has the same values in a direct message.
    owner_dm = eventually(
        lambda: [
            m
            for m in fake_slack.messages
            if m.channel == "D" + OWNER and "Consumer Key" in m.text + text_of(m)
        ]
    )
    assert attributes["key"] in text_of(owner_dm[0])

    # A stranger's press moves nothing.
    slack.click("I've created the application link", user=STRANGER, channel=CHANNEL)
    eventually(lambda: "can say the link exists" in fake_slack.all_text())
    assert not slack.has_button("Authorize")

    # The owner hands the step to an administrator, who gets the values in a DM.
    slack.pick_user("Hand this step to a colleague", ADMIN, channel=CHANNEL)
    handed = eventually(lambda: [m for m in fake_slack.messages if m.channel == "D" + ADMIN])[0]
    assert attributes["key"] in text_of(handed) and "asked you" in text_of(handed)
    eventually(lambda: f"I've sent <@{ADMIN}>" in fake_slack.all_text())

    # Without the link, Terraform's authorization fails as the signature check would.
    with pytest.raises(AuthorizationFailed):
        fake_tfe.authorize(client.id, user="svc-terraform")
    data_center.create_application_link(
        consumer_key=attributes["key"],
        consumer_name=f"Terraform ({ORG})",
        public_key=public_key,
        application_url=f"{fake_tfe.url}/app/{ORG}",
    )
    slack.click("I've created the application link", user=ADMIN, channel="D" + ADMIN)
    _, _, authorize = slack.find_button("Authorize", channel="D" + OWNER, timeout=15)
    assert authorize["url"] == fake_tfe.url + attributes["connect-path"]
    slack.click("Authorize", user=OWNER, channel="D" + OWNER)
    token = fake_tfe.authorize(client.id, user="svc-terraform")

    # The token gets its SSH key; the owner gets the public half to add.
    slack.find_button("I've added the SSH key", channel="D" + OWNER, timeout=15)
    ssh_private = fake_tfe.ssh_keys[token]
    ssh_public = public_of(ssh_private, serialization.Encoding.OpenSSH)
    assert ssh_public in text_of(fake_slack.channel_messages(CHANNEL)[0])
    assert not re.search("is connected to", fake_slack.all_text())  # not before the key
    slack.click("I've added the SSH key", user=STRANGER, channel=CHANNEL)
    eventually(lambda: "can say the SSH key is added" in fake_slack.all_text())
    slack.click("I've added the SSH key", user=OWNER, channel="D" + OWNER)
    notice = eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages(CHANNEL)
            if "Bitbucket Data Center is connected to Terraform organization" in text_of(m)
        ]
    )
    assert len(notice) == 1

    # The private keys went to Terraform and nowhere else.
    slack.bot.runtime.work.shutdown(wait=True)  # type: ignore[attr-defined]
    secrets = [client.secret, ssh_private]
    lines = [s.strip() for s in "\n".join(secrets).splitlines() if s.strip() and "--" not in s]
    assert log_lines, "the bot logged nothing; the log check would be vacuous"
    everything = "\n".join(log_lines) + database_text(database_url) + fake_slack.all_text()
    assert not [line for line in lines if line in everything]
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):
            raw = file.read_bytes()
            assert not [line for line in lines if line.encode() in raw], file


def refusal_on_the_address(fake_slack: FakeSlack, words: str) -> str:
    """The form shown again with `words` under the address field."""

    def shown() -> str | None:
        with fake_slack.lock:
            views = [v.view for v in fake_slack.views.values() if v.user == OWNER]
        for view in views:
            for block in view.get("blocks", []):
                if block.get("type") == "context" and words in json.dumps(block):
                    return json.dumps(view)
        return None

    return eventually(shown)


def test_an_address_that_is_not_bitbucket_is_refused_on_the_field(
    dc_slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> None:
    data_center.display_name = "Jira"
    dc_slack.submit(open_form(dc_slack), DATA_CENTER)
    view = refusal_on_the_address(fake_slack, "not as Bitbucket Data Center does")
    assert "Bitbucket Data Center address" in view
    # Nothing was made in Terraform, and no connection holds the organization.
    assert not [
        c
        for c in list(fake_tfe.clients.values())
        if c.attributes["service-provider"] == "bitbucket_data_center"
    ]
    # An address not listed is refused without a request to it.
    asked = len(data_center.requests_to("GET", r"/rest/api/1.0/application-properties"))
    typed = {**DATA_CENTER, "Bitbucket Data Center address": "http://169.254.169.254"}
    dc_slack.submit(open_form(dc_slack), typed)
    refusal_on_the_address(fake_slack, "its operators listed")
    assert len(data_center.requests_to("GET", r"/rest/api/1.0/application-properties")) == asked
    # Fixed, the same form goes on.
    data_center.display_name = "Bitbucket"
    dc_slack.submit(
        open_form(dc_slack), {**DATA_CENTER, "Bitbucket Data Center address": data_center.url}
    )
    dc_slack.find_button("I've created the application link", channel=CHANNEL, timeout=15)


def connect_data_center(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> tuple[FakeOAuthClient, str]:
    """The owner's own way through, administrator's step included: the client and token."""
    start_data_center(slack, data_center)
    slack.find_button("I've created the application link", channel=CHANNEL)
    client = data_center_client(fake_tfe)
    data_center.create_application_link(
        consumer_key=client.attributes["key"],
        consumer_name=f"Terraform ({ORG})",
        public_key=client.attributes["rsa-public-key"],
        application_url=f"{fake_tfe.url}/app/{ORG}",
    )
    slack.click("I've created the application link", user=OWNER, channel=CHANNEL)
    authorize = slack.find_button("Authorize", channel="D" + OWNER, timeout=15)
    slack.click("Authorize", user=OWNER, found=authorize)  # the bot watches closely from now
    token = fake_tfe.authorize(client.id, user="svc-terraform")
    slack.click(
        "I've added the SSH key",
        channel=CHANNEL,
        found=slack.find_button("I've added the SSH key", channel=CHANNEL, timeout=15),
    )
    eventually(lambda: "Bitbucket Data Center is connected" in fake_slack.all_text())
    return client, token


def test_a_rotation_replaces_the_key_pair_and_the_link_then_the_token_and_its_ssh_key(
    dc_slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    log_lines: list[str],
) -> None:
    slack = dc_slack
    client, old_token = connect_data_center(slack, fake_slack, fake_tfe, data_center)
    old_public, old_private = client.attributes["rsa-public-key"], client.secret

    slack.command(f"rotate {ORG}", user=OWNER)
    form = slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_keys")
    assert "application link's public key" in view_text(form)
    slack.submit(form, {})
    slack.wait_for_view_text(OWNER, "Terraform has the new keys")
    new_public = client.attributes["rsa-public-key"]
    assert new_public != old_public and client.secret != old_private
    assert public_of(client.secret, serialization.Encoding.PEM).strip() == new_public.strip()
    # The steps: the link's new public key first, then Authorize.
    steps = eventually(
        lambda: [
            m
            for m in fake_slack.messages
            if m.channel == "D" + OWNER and "replaces the application link" in text_of(m)
        ]
    )[0]
    assert json.dumps(new_public.strip())[1:-1] in text_of(steps)
    assert slack.has_button("Open Bitbucket: Application Links")
    # Until the administrator replaces it, the authorization fails as a signature would.
    with pytest.raises(AuthorizationFailed):
        fake_tfe.authorize(client.id, user="svc-terraform")
    data_center.create_application_link(
        consumer_key=client.attributes["key"],
        consumer_name=f"Terraform ({ORG})",
        public_key=new_public,
        application_url=f"{fake_tfe.url}/app/{ORG}",
    )
    new_token = fake_tfe.authorize(client.id, user="svc-terraform")
    eventually(lambda: "is repaired" in fake_slack.all_text(), timeout=15)
    # The new token gets an SSH key of its own; the owner is asked to replace the old one.
    eventually(lambda: new_token in fake_tfe.ssh_keys, timeout=15)
    ssh_public = public_of(fake_tfe.ssh_keys[new_token], serialization.Encoding.OpenSSH)
    replace = eventually(
        lambda: [
            m
            for m in fake_slack.messages
            if m.channel == "D" + OWNER and "Replace the SSH key" in text_of(m)
        ]
    )[0]
    assert ssh_public in text_of(replace) and new_token != old_token
    slack.bot.runtime.work.shutdown(wait=True)  # type: ignore[attr-defined]
    lines = [s.strip() for s in client.secret.splitlines() if s.strip() and "--" not in s]
    everything = "\n".join(log_lines) + fake_slack.all_text()
    assert not [line for line in lines if line in everything]


CREATE = r"/api/v2/organizations/acme-infra/oauth-clients"


def test_a_lost_answer_to_the_create_adopts_the_client_terraform_made(
    dc_slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> None:
    fake_tfe.fail("POST", CREATE, mode="drop_after")  # Terraform makes it; the answer is lost
    start_data_center(dc_slack, data_center)
    dc_slack.find_button("I've created the application link", channel=CHANNEL, timeout=15)
    client = data_center_client(fake_tfe)  # one, not two
    shown = text_of(fake_slack.channel_messages(CHANNEL)[0])
    # The values shown are the ones Terraform has (the retry made none of its own).
    assert client.attributes["key"] in shown
    assert json.dumps(client.attributes["rsa-public-key"].strip())[1:-1] in shown
    assert len(fake_tfe.requests_to("POST", CREATE)) == 1


@pytest.mark.starts_early
def test_a_bot_killed_while_making_the_client_carries_on_after_the_restart(
    env: dict[str, str],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    tmp_path: Path,
) -> None:
    env = {**env, "BITBUCKET_DC_URL": data_center.url}
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, first.url)
    fake_tfe.fail("POST", CREATE, delay=3, mode="drop_after")  # the bot dies before the answer
    start_data_center(slack, data_center)
    eventually(lambda: fake_tfe.requests_to("POST", CREATE))
    first.kill()
    eventually(lambda: data_center_client(fake_tfe), timeout=10)  # Terraform made it

    second = BotProcess(env, log).wait_ready()
    try:
        # Nobody resubmits anything: the bot adopts the client and shows its values.
        SlackDriver(fake_slack, second.url).find_button(
            "I've created the application link", channel=CHANNEL, timeout=20
        )
        client = data_center_client(fake_tfe)
        shown = text_of(fake_slack.channel_messages(CHANNEL)[0])
        assert client.attributes["key"] in shown
        assert len(fake_tfe.requests_to("POST", CREATE)) == 1
        assert not [
            m for m in fake_slack.channel_messages("D" + OWNER) if "submit the form" in m.text
        ]
    finally:
        assert second.stop() == 0
    assert "Traceback" not in log.read_text()


def test_a_forged_hand_off_changes_nothing(
    dc_slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> None:
    start_data_center(dc_slack, data_center)
    dc_slack.find_button("I've created the application link", channel=CHANNEL)
    # A stranger hands the step to themself: refused in the store; no DM with the values.
    dc_slack.pick_user("Hand this step to a colleague", STRANGER, user=STRANGER, channel=CHANNEL)
    eventually(lambda: "can hand the step on" in fake_slack.all_text())
    assert not [
        m for m in fake_slack.channel_messages("D" + STRANGER) if "Consumer Key" in text_of(m)
    ]
    # A tampered block id (another connection, junk) finds nothing.
    message = fake_slack.channel_messages(CHANNEL)[0]
    for tampered in ("link_helper:999", "link_helper:1 OR 1=1", "other:1"):
        block = {"block_id": tampered}
        payload = dc_slack.click_payload(
            message, block, {"action_id": "link_helper", "text": {"text": "x"}}, OWNER
        )
        payload["actions"][0].update(type="users_select", selected_user=ADMIN)
        assert dc_slack.post_payload(payload).status_code == 200
    eventually(lambda: fake_slack.all_text().count("That connection no longer exists") == 3)
    # A selected "user" that is no Slack id is refused.
    dc_slack.pick_user("Hand this step to a colleague", "<script>", channel=CHANNEL)
    eventually(lambda: "Pick a person from the list" in fake_slack.all_text())
    assert not fake_slack.channel_messages("D" + ADMIN)


def test_a_missing_application_link_is_caught_at_authorize_with_the_remedy(
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    make_bot: Callable[..., RunningBot],
) -> None:
    # 36 polls is "a few minutes" at the default 5 s; at 0.05 s it is under 2 s.
    running = make_bot(BITBUCKET_DC_URL=data_center.url, TOKEN_POLL_EVERY="0.05")
    slack = SlackDriver(fake_slack, running.url)
    start_data_center(slack, data_center)
    # Someone says the link exists, but nobody made it: the authorization brings no token.
    slack.click("I've created the application link", user=OWNER, channel=CHANNEL)
    client = data_center_client(fake_tfe)
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize", timeout=15))
    with pytest.raises(AuthorizationFailed):
        fake_tfe.authorize(client.id, user="svc-terraform")
    hint = eventually(
        lambda: [m for m in fake_slack.channel_messages("D" + OWNER) if "No token yet" in m.text],
        timeout=15,
    )[0]
    text = text_of(hint)
    causes = [
        text.index(words)
        for words in (
            "application link is missing or its values differ",
            "logged in to Bitbucket as an administrator",
            "not logged in to Terraform",
        )
    ]
    assert causes == sorted(causes)
    assert client.attributes["key"] in text and "callback URL" not in text
    slack.http.close()


def test_approved_first_then_status_and_home_say_data_center(
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    make_bot: Callable[..., RunningBot],
) -> None:
    running = make_bot(BITBUCKET_DC_URL=data_center.url, APPROVERS="U9APPROVER")
    slack = SlackDriver(fake_slack, running.url)
    form = open_form(slack)
    slack.submit(form, {**DATA_CENTER, WHY: REASON})
    slack.find_button("Approve")
    card = eventually(lambda: fake_slack.channel_messages("DU9APPROVER"))[0]
    assert "Bitbucket Data Center" in text_of(card) and data_center.url in text_of(card)
    assert not [c for c in list(fake_tfe.clients.values())]  # nothing before the decision
    approve(slack)
    # Approved: the bot makes the client, and the administrator's step appears.
    slack.find_button("I've created the application link", channel=CHANNEL, timeout=15)
    assert "makes the keys" in fake_slack.all_text()
    slack.command("status 1", user=OWNER)
    detail = eventually(
        lambda: [m for m in fake_slack.ephemeral if "Timeline" in text_of(m)], timeout=10
    )[0]
    assert "Bitbucket Data Center" in text_of(detail) and data_center.url in text_of(detail)
    assert "step 2 of 5: Create the application link in Bitbucket" in text_of(detail)
    slack.http.close()


def test_the_health_watch_breaks_it_and_a_new_data_center_connection_replaces_it(
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    data_center: FakeBitbucketDC,
    make_bot: Callable[..., RunningBot],
) -> None:
    running = make_bot(BITBUCKET_DC_URL=data_center.url, HEALTH_EVERY="0.5")
    slack = SlackDriver(fake_slack, running.url)
    old, _ = connect_data_center(slack, fake_slack, fake_tfe, data_center)
    fake_tfe.clients.pop(old.id)  # deleted in Terraform by hand
    eventually(lambda: running.runtime.service.get(1).state == "broken", timeout=10)
    eventually(lambda: "is broken" in fake_slack.all_text())
    # Reconnect opens the form on the same Data Center.
    slack.click("Reconnect", user=OWNER, channel=CHANNEL)
    form = slack.wait_for_view(
        OWNER, lambda v: v.get("callback_id") == "connect_request" and "Reconnect" not in str(v)
    )
    chosen = next(b for b in form.view["blocks"] if b.get("block_id") == "bitbucket")["element"][
        "initial_option"
    ]
    assert chosen["value"] == "data_center"
    connect_data_center(slack, fake_slack, fake_tfe, data_center)
    # Connected again: the broken one is closed as replaced.
    eventually(lambda: running.runtime.service.get(1).state == "cancelled", timeout=10)
    assert "Replaced by connection #2" in (running.runtime.service.get(1).status_note or "")
    slack.http.close()


def test_cancelled_while_terraform_makes_the_client_leaves_no_client_behind(
    dc_slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> None:
    fake_tfe.fail("POST", CREATE, delay=2, mode="drop_after")  # slow, and the answer is lost
    form = fresh_form(dc_slack)
    dc_slack.submit(form, DATA_CENTER)
    eventually(lambda: fake_tfe.requests_to("POST", CREATE))
    dc_slack.click("Cancel connection", user=OWNER, channel=CHANNEL)
    eventually(lambda: dc_slack.bot.runtime.service.get(1).state == "cancelled")  # type: ignore[attr-defined]
    # Terraform made it after the cancel; the bot deletes it once it knows.
    eventually(lambda: fake_tfe.requests_to("DELETE", r"/api/v2/oauth-clients/[^/]+"), timeout=15)
    assert not [
        c
        for c in list(fake_tfe.clients.values())
        if c.attributes["service-provider"] == "bitbucket_data_center"
    ]
    assert len(fake_tfe.requests_to("POST", CREATE)) == 1


@pytest.mark.sqlite_only
def test_the_step_is_never_handed_to_a_guest_or_a_deactivated_user(
    dc_slack: SlackDriver, fake_slack: FakeSlack, data_center: FakeBitbucketDC
) -> None:
    fake_slack.user_flags["U4GUEST"] = {"is_restricted": True}
    fake_slack.user_flags["U5GONE"] = {"deleted": True}
    start_data_center(dc_slack, data_center)
    dc_slack.find_button("I've created the application link", channel=CHANNEL)
    for person in ("U4GUEST", "U5GONE"):
        dc_slack.pick_user("Hand this step to a colleague", person, channel=CHANNEL)
        eventually(lambda p=person: f"<@{p}> is not a full member" in fake_slack.all_text())
        assert not fake_slack.channel_messages("D" + person)
    # They may not say the link exists either.
    dc_slack.click("I've created the application link", user="U4GUEST", channel=CHANNEL)
    eventually(lambda: "can say the link exists" in fake_slack.all_text())
    assert dc_slack.bot.runtime.service.get(1).state == "awaiting_application_link"  # type: ignore[attr-defined]


@pytest.mark.sqlite_only
def test_a_forged_key_and_secret_rotation_of_a_data_center_connection_changes_nothing(
    dc_slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, data_center: FakeBitbucketDC
) -> None:
    client, _ = connect_data_center(dc_slack, fake_slack, fake_tfe, data_center)
    secret, public = client.secret, client.attributes["rsa-public-key"]
    dc_slack.command(f"rotate {ORG}", user=OWNER)
    form = dc_slack.wait_for_view(OWNER, lambda v: v.get("callback_id") == "rotate_keys")
    # The Cloud form's submission, forged onto the Data Center connection's modal.
    payload = dc_slack.submission_payload(form, {}, OWNER)
    payload["view"]["callback_id"] = "rotate_credentials"
    payload["view"]["state"]["values"] = {
        # A consumer Bitbucket knows: only the server's own check stands in the way.
        "key": {"value": {"type": "plain_text_input", "value": KEY}},
        "secret": {"value": {"type": "plain_text_input", "value": SECRET}},
    }
    assert dc_slack.post_payload(payload).status_code == 200
    dc_slack.wait_for_view_text(OWNER, "rotates with new keys the bot makes")
    assert (client.secret, client.attributes["rsa-public-key"]) == (secret, public)
    assert not fake_tfe.requests_to("PATCH", r"/api/v2/oauth-clients/[^/]+")
