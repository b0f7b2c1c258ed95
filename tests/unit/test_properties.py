"""Property-based tests: validators, escaping and Block Kit limits hold for any input."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.connect.blocks import progress_message
from bot.connect.message_blocks import authorize_hint, authorize_message, connected_announcement
from bot.connect.modal_blocks import client_created_view, credentials_view, request_view
from bot.connections import validation
from bot.connections.model import AccountKind, Connection
from bot.connections.pages import BitbucketPages, ConsumerValues
from bot.connections.states import State
from bot.slack.blocks.kit import RequestForm
from bot.slack.text import escape, fit, fit_escaped
from tests.fakes.slack import check_blocks, check_view

# Arbitrary unicode, and text built from the pieces that would break mrkdwn if unescaped.
MARKUP = st.lists(
    st.sampled_from(
        [
            "<!channel>",
            "<!here>",
            "<",
            ">",
            "&",
            "&amp;",
            "<@U123|x>",
            "<https://evil.example|click>",
            "`",
            "```",
            "*",
            "_",
            "~",
            "a",
            " ",
            "é",
            "\n",
            "💥",
            "\u200b",
        ]
    ),
    max_size=400,
).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=5000), MARKUP)
ORGANIZATIONS = st.from_regex(r"[A-Za-z0-9_-]{1,255}", fullmatch=True)
NAMES = st.from_regex(r"[A-Za-z0-9_.-]{1,100}", fullmatch=True)
settings.register_profile("ci", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("ci")


@given(ANY_TEXT)
def test_escape_leaves_no_markup_and_loses_nothing(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text or "&" in text  # html.unescape knows more entities
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@given(ANY_TEXT, st.integers(min_value=1, max_value=3000))
def test_fit_respects_the_limit(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert len(out) <= limit
    assert out == text or out.endswith("…")


@given(ANY_TEXT, st.integers(min_value=2, max_value=3000))
def test_fit_escaped_never_cuts_an_entity(text: str, limit: int) -> None:
    out = fit_escaped(text, limit)
    assert len(out) <= limit
    assert "<" not in out and ">" not in out
    assert not re.search(r"&(a|am|l|g|lt|gt)?$", out.removesuffix("…"))


@given(ANY_TEXT)
def test_organization_validator_accepts_exactly_the_tfe_alphabet(raw: str) -> None:
    checked = validation.organization(raw)
    value = raw.strip()
    ok = bool(re.fullmatch(r"[A-Za-z0-9_-]{1,255}", value))
    assert isinstance(checked, validation.Valid) == ok
    if ok:
        assert checked == validation.Valid(value)


@given(ANY_TEXT)
def test_credential_messages_never_repeat_the_input(raw: str) -> None:
    checked = validation.consumer_secret(raw)
    if isinstance(checked, validation.Invalid) and raw.strip():
        assert raw.strip() not in checked.message


@given(ANY_TEXT, ANY_TEXT)
def test_username_and_workspace_validators_never_raise(username: str, workspace: str) -> None:
    for checked in (
        validation.bitbucket_username(username),
        validation.bitbucket_workspace(workspace),
    ):
        assert checked is None or isinstance(checked, validation.Valid | validation.Invalid)
        if isinstance(checked, validation.Valid):
            assert re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", checked.value)


def _connection(**kwargs: object) -> Connection:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fields: dict[str, object] = dict(
        id=123456,
        request_ref="r",
        team_id="T",
        channel_id="C1",
        owner_id="U1",
        organization="acme",
        account_kind=AccountKind.SERVICE_ACCOUNT,
        bitbucket_username="svc",
        bitbucket_workspace=None,
        state=State.AWAITING_CREDENTIALS,
        created_at=now,
        updated_at=now,
        progressed_at=now,
        progress_channel="C1",
        oauth_client_id="oc-123",
        callback_url="https://app.terraform.io/auth/x/callback",
        connect_path="/auth/x",
    )
    fields.update(kwargs)
    return Connection(**fields)


@given(
    organization=ORGANIZATIONS,
    username=NAMES,
    workspace=NAMES,
    state=st.sampled_from(list(State)),
    note=ANY_TEXT,
    warnings=st.lists(ANY_TEXT, max_size=8),
    authorized_as=ANY_TEXT,
    callback=st.text(max_size=3000),
    clicked=st.booleans(),
)
def test_progress_message_stays_within_block_kit_and_escapes_everything(
    organization: str,
    username: str,
    workspace: str,
    state: State,
    note: str,
    warnings: list[str],
    authorized_as: str,
    callback: str,
    clicked: bool,
) -> None:
    connection = _connection(
        organization=organization,
        bitbucket_username=username,
        bitbucket_workspace=workspace,
        state=state,
        status_note=note,
        check_warnings="\n".join(warnings) or None,
        authorized_as=authorized_as or None,
        callback_url=callback,
        authorize_clicked_at=datetime(2026, 1, 1, tzinfo=UTC) if clicked else None,
    )
    values = ConsumerValues(
        f"Terraform Enterprise ({organization})",
        "https://example.com/replace-this-later",
        "https://tfe.example",
    )
    pages = BitbucketPages("https://bitbucket.org/x/new", "https://bitbucket.org/x/api")
    _text, body = progress_message(connection, values=values, pages=pages, poll_every=5)
    check_blocks(body, limit=50)
    _no_injection(body)
    for render in (
        authorize_message(connection, "https://tfe.example/auth/x"),
        authorize_hint(connection, "https://tfe.example/auth/x"),
        connected_announcement(connection),
    ):
        check_blocks(render[1], limit=50)
        _no_injection(render[1])
    check_view(
        credentials_view(
            connection,
            key="k" * 128,
            notice=note,
            errors={"key": note, "secret": note},
            offer_add_another=True,
        )
    )
    check_view(client_created_view(connection))


@given(prefill=ANY_TEXT, notice=ANY_TEXT, error=ANY_TEXT)
def test_request_form_holds_any_command_text(prefill: str, notice: str, error: str) -> None:
    form = RequestForm(channel_id="C1", organization=prefill, username=prefill, workspace=prefill)
    view = request_view(form, notice=notice, errors={"organization": error}, offer_add_another=True)
    check_view(view)
    for block in view["blocks"]:
        element = block.get("element") or {}
        if "initial_value" in element:
            assert len(element["initial_value"]) <= element["max_length"]
    _no_injection(view["blocks"])


def _mrkdwn(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["text"])] if node.get("type") == "mrkdwn" else []
        return found + [t for value in node.values() for t in _mrkdwn(value)]
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn(item)]
    return []


def _no_injection(body: list) -> None:  # type: ignore[type-arg]
    """User text can add no mention, link or broadcast: every <…> in mrkdwn is the bot's own."""
    for text in _mrkdwn(body):
        for special in ("<!channel>", "<!here>", "<!everyone>"):
            assert special not in text
        for tag in re.findall(r"<([^>]*)>", text):
            assert re.fullmatch(r"@U\w+|#C\w+|https?://[^|<>]*(\|[^<>]*)?", tag), tag
