"""Signatures, and the consumer secret going to TFE and nowhere else."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.db import normalize_url
from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE, error_body
from tests.flow.steps import KEY, OWNER, SECRET, credentials_form, started
from tests.harness import RunningBot


@pytest.mark.sqlite_only
def test_bad_signature_is_refused(slack: SlackDriver, fake_slack: FakeSlack) -> None:
    form = {
        "command": "/connect-bitbucket",
        "text": "acme-infra",
        "user_id": OWNER,
        "channel_id": "C1CHAN",
        "trigger_id": fake_slack.issue_trigger(OWNER),
    }
    response = slack.post_form(form, secret="not-the-signing-secret")
    assert response.status_code == 401
    time.sleep(0.3)
    assert not fake_slack.calls_to("views.open")


@pytest.mark.sqlite_only
def test_stale_signature_is_refused(slack: SlackDriver, fake_slack: FakeSlack) -> None:
    form = {
        "command": "/connect-bitbucket",
        "text": "",
        "user_id": OWNER,
        "channel_id": "C1CHAN",
        "trigger_id": fake_slack.issue_trigger(OWNER),
    }
    response = slack.post_form(form, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401


def database_text(database_url: str) -> str:
    """Every value in every table, as text."""
    engine = create_engine(normalize_url(database_url))
    out = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                out.append(repr(tuple(row)))
    engine.dispose()
    return "\n".join(out)


def test_the_secret_reaches_tfe_and_nothing_else(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    bot: RunningBot,
    log_lines: list[str],
    database_url: str,
    fake_bitbucket: FakeBitbucket,
) -> None:
    started(slack, fake_slack)
    # Faults on the way: a failed create and a replayed submission.
    fake_tfe.fail("POST", r"/api/v2/organizations/acme-infra/oauth-clients", status=500)
    fake_tfe.fail(
        "POST",
        r"/api/v2/organizations/acme-infra/oauth-clients",
        status=422,
        body=error_body(422, "invalid attribute", f"Secret {SECRET} is invalid", "secret"),
    )
    form = credentials_form(slack)
    slack.submit(form, {"Key": KEY, "Secret": SECRET})
    view = slack.wait_for_view_text(OWNER, "is invalid", timeout=20)
    assert "Secret [redacted] is invalid" in str(view.view)  # TFE's echo of it is scrubbed
    payload = slack.submission_payload(view, {"Secret": SECRET}, OWNER)
    slack.post_payload(payload)
    slack.post_payload(payload)
    slack.wait_for_view_text(OWNER, "OAuth client created")
    # A bad signature on a body holding the secret (Bolt would log such a body at INFO).
    slack.post_payload(payload, secret="wrong-signing-secret")
    # And a request to an unknown callback id holding it.
    slack.post_payload({**payload, "view": {**payload["view"], "callback_id": "unknown"}})
    bot.runtime.work.shutdown(wait=True)

    # It reached TFE (so the check below is not vacuous) ...
    client = fake_tfe.bitbucket_clients("acme-infra")[0]
    assert client.secret == SECRET
    # ... and nothing else: no log line, no database row, no Slack call.
    assert log_lines, "the bot logged nothing; the log check would be vacuous"
    assert not [line for line in log_lines if SECRET in line]
    assert SECRET not in database_text(database_url)
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):
            assert SECRET.encode() not in file.read_bytes(), file
    assert SECRET not in fake_slack.all_text()
    # The short-lived Bitbucket token of the check is dropped the same way.
    tokens = list(fake_bitbucket.tokens)
    assert tokens
    everything = "\n".join(log_lines) + database_text(database_url) + fake_slack.all_text()
    assert not [token for token in tokens if token in everything]


@pytest.mark.sqlite_only
def test_owner_only_modal_submission(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    started(slack, fake_slack)
    form = credentials_form(slack)
    payload = slack.submission_payload(form, {"Key": KEY, "Secret": SECRET}, "U2OTHER")
    answer = slack.post_payload(payload).json()
    assert answer["response_action"] == "errors"
    assert "Only the connection's owner" in answer["errors"]["key"]
    assert not fake_tfe.requests_to("POST", r"/api/v2/organizations/acme-infra/oauth-clients")


def test_an_outside_error_that_echoes_the_secret_never_carries_it_on(
    slack: SlackDriver,
    fake_slack: FakeSlack,
    fake_bitbucket: FakeBitbucket,
    bot: RunningBot,
    log_lines: list[str],
    database_url: str,
) -> None:
    import base64
    from urllib.parse import quote

    pair = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    encodings = [SECRET, quote(SECRET + "/x")[:-4], pair, pair.rstrip("=")]
    started(slack, fake_slack)
    fake_bitbucket.fail(
        "POST",
        r"/site/oauth2/access_token",
        status=400,
        body={
            "error": f"invalid_client {SECRET}",
            "error_description": f"bad credentials {SECRET} (Basic {pair}) {quote(SECRET)}",
        },
    )
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    view = slack.wait_for_view_text(OWNER, "Bitbucket refused the check", timeout=20)
    assert view.view["callback_id"] == "connect_credentials"
    bot.runtime.work.shutdown(wait=True)
    everything = "\n".join(log_lines) + database_text(database_url) + fake_slack.all_text()
    assert fake_bitbucket.requests_to("POST", r"/site/oauth2/access_token")
    assert not [e for e in encodings if e in everything]
