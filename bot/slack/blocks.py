"""Block Kit for every message and modal the bot shows, built with slack_sdk's typed models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.connections import validation
from bot.connections.model import Connection
from bot.connections.service import AccountKind
from bot.connections.states import STEPS, State, current_step, is_open
from bot.flows.connect import PERMISSIONS, ConsumerValues
from bot.slack import ids
from bot.slack.text import code, escape, fit, fit_escaped

SECTION_MAX = 3000
TITLE_MAX = 24
HEADER_MAX = 150


@dataclass(frozen=True)
class BitbucketPages:
    add_consumer: str
    consumers: str


@dataclass(frozen=True)
class RequestForm:
    """What the first modal holds, so it can be shown again with an error."""

    channel_id: str
    organization: str = ""
    account_kind: AccountKind = AccountKind.SERVICE_ACCOUNT
    username: str = ""
    acknowledged: bool = False
    workspace: str = ""
    add_another: bool = False


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(text, SECTION_MAX))


def _section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text), block_id=block_id)


def context_block(text: str) -> ContextBlock:
    return ContextBlock(elements=[_mrkdwn(text)])


def _error(text: str) -> ContextBlock:
    return context_block(f":warning: {escape(text)}")


def _button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    primary: bool = False,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=fit(text, 75), emoji=True),
        action_id=action_id,
        value=value,
        url=url,
        style="primary" if primary else None,
    )


def _modal(
    title: str,
    blocks: Sequence[Block],
    *,
    callback_id: str | None = None,
    submit: str | None = None,
    close: str = "Close",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=fit(title, TITLE_MAX)),
        submit=PlainTextObject(text=fit(submit, TITLE_MAX)) if submit else None,
        close=PlainTextObject(text=fit(close, TITLE_MAX)),
        blocks=list(blocks)[:100],
        private_metadata=json.dumps(metadata) if metadata else None,
    )
    return view.to_dict()


# The first modal: organization and owning account.

SERVICE_LABEL = "A shared service account (recommended)"
PERSONAL_LABEL = "My own Bitbucket account"


ADD_ANOTHER_LABEL = "Add another Bitbucket connection anyway"


def add_another_input() -> InputBlock:
    """The opt-in to a second Bitbucket client, shown only when one exists already."""
    option = Option(value="yes", text=PlainTextObject(text=ADD_ANOTHER_LABEL))
    return InputBlock(
        block_id=ids.ADD_ANOTHER,
        label="The organization already has a Bitbucket connection",
        optional=True,
        element=CheckboxesElement(action_id=ids.VALUE, options=[option]),
    )


def request_view(
    form: RequestForm,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    offer_add_another: bool = False,
) -> dict[str, Any]:
    """The modal `/connect-bitbucket` opens; `errors` go under the named fields."""
    errors = errors or {}
    kinds = {
        AccountKind.SERVICE_ACCOUNT: Option(
            value=AccountKind.SERVICE_ACCOUNT.value,
            text=PlainTextObject(text=SERVICE_LABEL),
            description=PlainTextObject(
                text="A Bitbucket account the team shares, with admin access to the repositories."
            ),
        ),
        AccountKind.PERSONAL: Option(
            value=AccountKind.PERSONAL.value,
            text=PlainTextObject(text=PERSONAL_LABEL),
            description=PlainTextObject(
                text="The connection stops working if you leave or lose access."
            ),
        ),
    }
    ack_option = Option(
        value="yes",
        text=PlainTextObject(text="I understand the connection will be recorded as owned by me"),
    )
    blocks: list[Block] = []
    if notice:
        blocks.append(_section(f":warning: {escape(notice)}"))
    blocks += [
        InputBlock(
            block_id=ids.ORGANIZATION,
            label="Terraform organization",
            hint="The name in app.terraform.io/app/<organization>: letters, digits, - and _",
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.organization, validation.ORGANIZATION_MAX) or None,
                max_length=validation.ORGANIZATION_MAX,
                placeholder="my-organization",
            ),
        ),
        InputBlock(
            block_id=ids.ACCOUNT_KIND,
            label="Whose Bitbucket account will own the connection?",
            element=RadioButtonsElement(
                action_id=ids.VALUE,
                options=list(kinds.values()),
                initial_option=kinds[form.account_kind],
            ),
        ),
        InputBlock(
            block_id=ids.SERVICE_USERNAME,
            label="Service account's Bitbucket username",
            hint="Needed for a service account. It must be admin on the team's repositories.",
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.username, validation.BITBUCKET_NAME_MAX) or None,
                max_length=validation.BITBUCKET_NAME_MAX,
                placeholder="terraform-bot",
            ),
        ),
        InputBlock(
            block_id=ids.OWNERSHIP_ACK,
            label="If you use your own account",
            optional=True,
            element=CheckboxesElement(
                action_id=ids.VALUE,
                options=[ack_option],
                initial_options=[ack_option] if form.acknowledged else None,
            ),
        ),
        InputBlock(
            block_id=ids.WORKSPACE,
            label="Bitbucket workspace (optional)",
            hint="The workspace ID, as in bitbucket.org/<workspace>",
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.workspace, validation.BITBUCKET_NAME_MAX) or None,
                max_length=validation.BITBUCKET_NAME_MAX,
            ),
        ),
    ]
    if offer_add_another:
        blocks.append(add_another_input())
    blocks = _errors_under(blocks, errors)
    return _modal(
        "Connect Bitbucket",
        blocks,
        callback_id=ids.REQUEST_VIEW,
        submit="Continue",
        close="Cancel",
        metadata={"channel": form.channel_id},
    )


def _errors_under(blocks: list[Block], errors: dict[str, str]) -> list[Block]:
    """Put each error right under its field (for errors found after the modal was acked)."""
    out: list[Block] = []
    for block in blocks:
        out.append(block)
        if block.block_id in errors:
            out.append(_error(errors[block.block_id]))
    return out


def busy_view(title: str, text: str) -> dict[str, Any]:
    """Shown while the bot talks to TFE or Bitbucket after a submission."""
    return _modal(title, [_section(f":hourglass_flowing_sand: {text}")])


def message_view(title: str, text: str) -> dict[str, Any]:
    """A modal that just says something, with a Close button."""
    return _modal(title, [_section(text)])


def started_view(connection: Connection) -> dict[str, Any]:
    start = (
        f":white_check_mark: Connection #{connection.id} for *{escape(connection.organization)}* "
        "is under way. "
    )
    if connection.progress_channel:
        return message_view(
            "Connection started",
            start + f"Follow its progress message in <#{connection.progress_channel}>: step 1 is "
            "to create the OAuth consumer in Bitbucket, then press *Enter Key and Secret*.",
        )
    return message_view(
        "Connection started",
        start + "Slack would not take its progress message just now; I'll post it in the "
        "channel in a moment and you continue from there.",
    )


# The second modal: the consumer's key and secret.


def credentials_view(
    connection: Connection,
    *,
    key: str = "",
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    offer_add_another: bool = False,
) -> dict[str, Any]:
    """Key and Secret; the secret never gets an initial value, and the view has no buttons."""
    errors = errors or {}
    blocks: list[Block] = []
    if notice:
        blocks.append(_section(f":warning: {escape(notice)}"))
    blocks += [
        _section(
            f"Paste the Key and Secret of the OAuth consumer you made for "
            f"*{escape(connection.organization)}*. In Bitbucket: OAuth consumers → click the "
            "consumer's name to show them. The secret goes to Terraform and nowhere else."
        ),
        InputBlock(
            block_id=ids.KEY,
            label="Key",
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(key, validation.KEY_MAX) or None,
                max_length=validation.KEY_MAX,
            ),
        ),
        InputBlock(
            block_id=ids.SECRET,
            label="Secret",
            hint="Shown on your screen while you type; it is not kept by the bot.",
            element=PlainTextInputElement(action_id=ids.VALUE, max_length=validation.SECRET_MAX),
        ),
    ]
    if offer_add_another:
        blocks.append(add_another_input())
    return _modal(
        "Key and Secret",
        _errors_under(blocks, errors),
        callback_id=ids.CREDENTIALS_VIEW,
        submit="Connect",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def _warnings(connection: Connection) -> list[Block]:
    lines = (connection.check_warnings or "").splitlines()
    return [context_block(f":warning: {fit_escaped(line, 2900)}") for line in lines[:5]]


def client_created_view(connection: Connection) -> dict[str, Any]:
    """After the create: what happened, what to know, and what is next."""
    return _modal(
        "OAuth client created",
        [
            _section(
                ":white_check_mark: Bitbucket accepted the consumer and Terraform has the OAuth "
                f"client {code(connection.oauth_client_id or '')}. Next: paste the callback URL "
                "into the consumer; it is in the progress message."
            ),
            *_warnings(connection),
        ],
    )


# The progress message: one per connection, updated in place.


def _owner_line(connection: Connection) -> str:
    if connection.account_kind == AccountKind.SERVICE_ACCOUNT.value:
        account = "service account"
        if connection.bitbucket_username:
            account += " " + code(connection.bitbucket_username)
    else:
        account = "their own Bitbucket account (ownership recorded)"
    line = f"Connection #{connection.id} · owner <@{connection.owner_id}> · {account}"
    if connection.bitbucket_workspace:
        line += f" · workspace {code(connection.bitbucket_workspace)}"
    return line


def _steps(connection: Connection) -> str:
    state = connection.current_state
    last_open = State(connection.last_open_state) if connection.last_open_state else None
    current = current_step(state, last_open)
    ended = state in (State.CANCELLED, State.EXPIRED, State.FAILED, State.DENIED)
    lines = []
    for index, (_, title) in enumerate(STEPS):
        if index < current:
            lines.append(f":white_check_mark: {index + 1}. {title}")
        elif index == current and ended:
            lines.append(f":x: *{index + 1}. {title}*")
        elif index == current:
            lines.append(f":arrow_forward: *{index + 1}. {title}*")
        else:
            lines.append(f":white_square: {index + 1}. {title}")
    return "\n".join(lines)


def consumer_instructions(values: ConsumerValues) -> str:
    permissions = "\n".join(f"    • {area}: *{level}*" for area, level in PERMISSIONS)
    return (
        "*Step 1: create the OAuth consumer in Bitbucket* with exactly these values:\n"
        f"• Name: {code(values.name)}\n"
        "• Description: anything that helps your team, e.g. who owns it\n"
        f"• Callback URL: {code(values.callback_url)} (a placeholder: you replace it in step 3)\n"
        f"• URL: {code(values.url)}\n"
        "• :ballot_box_with_check: *This is a private consumer*\n"
        f"• Permissions:\n{permissions}\n"
        "Save it, click its name to see the *Key* and *Secret*, then press *Enter Key and Secret*."
    )


def cancel_button(connection: Connection) -> ButtonElement:
    """Cancel, with Slack's own confirmation dialog first."""
    button = _button("Cancel connection", ids.CANCEL, value=str(connection.id))
    button.style = "danger"
    button.confirm = ConfirmObject(
        title="Cancel this connection?",
        text=(
            f"Connection #{connection.id} for {fit(connection.organization, 200)} stops here. "
            "If the bot created an OAuth client in Terraform and it has no token, the bot "
            "deletes it."
        ),
        confirm="Cancel connection",
        deny="Keep it",
    )
    return button


def step_blocks(
    connection: Connection, *, values: ConsumerValues, pages: BitbucketPages, poll_every: float
) -> list[Block]:
    """What the owner does now, with the controls for it (empty once the connection ended)."""
    state = connection.current_state
    if state == State.AWAITING_CREDENTIALS:
        return [
            _section(consumer_instructions(values)),
            ActionsBlock(
                block_id="step1",
                elements=[
                    _button(
                        "Open Bitbucket: Add OAuth consumer",
                        ids.OPEN_BITBUCKET,
                        url=pages.add_consumer,
                    ),
                    _button(
                        "Enter Key and Secret",
                        ids.ENTER_CREDENTIALS,
                        value=str(connection.id),
                        primary=True,
                    ),
                    cancel_button(connection),
                ],
            ),
        ]
    if state == State.AWAITING_CALLBACK:
        return [
            _section(
                ":white_check_mark: Terraform has the OAuth client "
                f"{code(connection.oauth_client_id or '')}.\n"
                "*Step 3: paste this callback URL into the consumer*, replacing the placeholder:\n"
                f"```{escape(connection.callback_url or '')}```\n"
                "In Bitbucket: OAuth consumers → the consumer's ⋯ menu → *Edit* → "
                "*Callback URL* → *Save*."
            ),
            *_warnings(connection),
            ActionsBlock(
                block_id="step3",
                elements=[
                    _button(
                        "Open Bitbucket: OAuth consumers", ids.OPEN_CONSUMERS, url=pages.consumers
                    ),
                    _button(
                        "I've updated the callback URL",
                        ids.CALLBACK_UPDATED,
                        value=str(connection.id),
                        primary=True,
                    ),
                    cancel_button(connection),
                ],
            ),
        ]
    if state == State.AWAITING_AUTHORIZATION:
        if connection.authorize_clicked_at:
            waiting = (
                f"<@{connection.owner_id}> opened the authorize link. Waiting for Terraform to "
                f"receive the token (checking every {poll_every:g}s at first)."
            )
        else:
            waiting = (
                f"*Step 4: authorize.* <@{connection.owner_id}> has the *Authorize* link in a "
                "direct message. Open it while logged in to Terraform, then press *Grant access* "
                "in Bitbucket with the account that owns the connection."
            )
        return [
            _section(waiting),
            ActionsBlock(
                block_id="step4",
                elements=[
                    _button(
                        "Send me the authorize link again",
                        ids.RESEND_AUTHORIZE,
                        value=str(connection.id),
                    ),
                    cancel_button(connection),
                ],
            ),
        ]
    return []


def progress_message(
    connection: Connection,
    *,
    values: ConsumerValues,
    pages: BitbucketPages,
    poll_every: float,
) -> tuple[str, list[dict[str, Any]]]:
    """The text fallback and blocks of a connection's progress message."""
    org = connection.organization
    state = connection.current_state
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=fit(f"Connect Bitbucket Cloud to {org}", HEADER_MAX))
        ),
        context_block(_owner_line(connection)),
        _section(_steps(connection)),
        DividerBlock(),
        *step_blocks(connection, values=values, pages=pages, poll_every=poll_every),
    ]
    text = f"Connecting Bitbucket Cloud to {escape(org)}: {state.value.replace('_', ' ')}"
    if state == State.CONNECTED:
        who = (
            f" as Bitbucket user {code(connection.authorized_as)}"
            if connection.authorized_as
            else ""
        )
        blocks.append(
            _section(
                f":tada: *Connected.* Terraform holds the OAuth token{who}. Workspaces in "
                f"*{escape(org)}* can now use repositories from Bitbucket Cloud through OAuth "
                f"client {code(connection.oauth_client_id or '')}."
            )
        )
        text = f"Bitbucket Cloud is connected to {escape(org)}"
    elif state == State.FAILED or not is_open(state):
        note = connection.status_note or f"This connection is {state.value}."
        blocks.append(_section(f":x: {fit_escaped(note, 2000)}"))
        elements = [_button("Start over", ids.START_OVER, value=connection.organization[:2000])]
        if state == State.FAILED:
            elements.append(cancel_button(connection))
        blocks.append(ActionsBlock(block_id="ended", elements=elements))
    return text, [b.to_dict() for b in blocks]


def authorize_message(connection: Connection, link: str) -> tuple[str, list[dict[str, Any]]]:
    """The owner's private message with the Authorize button."""
    account = (
        f"the service account {code(connection.bitbucket_username)}"
        if connection.bitbucket_username
        else "your own Bitbucket account"
        if connection.account_kind == AccountKind.PERSONAL.value
        else "the service account"
    )
    blocks: list[Block] = [
        _section(
            f"*Step 4: authorize Terraform for {escape(connection.organization)}* (connection "
            f"#{connection.id}).\n"
            f"1. Log in to Bitbucket as {account} (log out of any other Bitbucket account first).\n"
            "2. Log in to Terraform.\n"
            "3. Press *Authorize*, then *Grant access* on Bitbucket's page.\n"
            "This link is for you alone; I'll tell the channel when Terraform has the token."
        ),
        ActionsBlock(
            block_id="authorize",
            elements=[
                _button(
                    "Authorize", ids.AUTHORIZE, url=link, value=str(connection.id), primary=True
                )
            ],
        ),
    ]
    return f"Authorize Terraform for {escape(connection.organization)}", [
        b.to_dict() for b in blocks
    ]


def authorize_hint(connection: Connection, link: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The owner's DM when Authorize was opened but no token arrived: likely causes, in order."""
    account = (
        f"the service account {code(connection.bitbucket_username)}"
        if connection.bitbucket_username
        else "the Bitbucket account that owns the connection"
    )
    text = (
        f"*Terraform has no token yet for {escape(connection.organization)}* (connection "
        f"#{connection.id}). The likely causes, most likely first:\n"
        "1. *The consumer's callback URL is still the placeholder.* In Bitbucket, edit the "
        "consumer and set its Callback URL to exactly:\n"
        f"```{escape(connection.callback_url or '')}```\n"
        f"2. *You authorized with the wrong Bitbucket account.* Log out of Bitbucket, log in as "
        f"{account}, and press Authorize again.\n"
        "3. *You were not logged in to Terraform* (or not as a member of the organization). "
        "Log in to Terraform, then press Authorize again.\n"
        "I keep watching; I'll tell the channel as soon as Terraform has the token."
    )
    elements = (
        [_button("Authorize", ids.AUTHORIZE, url=link, value=str(connection.id), primary=True)]
        if link
        else []
    )
    body: list[Block] = [_section(text)]
    if elements:
        body.append(ActionsBlock(block_id="authorize_hint", elements=elements))
    return (
        f"No token yet for {escape(connection.organization)}: check the callback URL",
        [b.to_dict() for b in body],
    )


def connected_announcement(connection: Connection) -> tuple[str, list[dict[str, Any]]]:
    """The short message the channel gets when the connection is complete."""
    kind = (
        "service account"
        if connection.account_kind == AccountKind.SERVICE_ACCOUNT.value
        else "personal account"
    )
    account = f" {code(connection.bitbucket_username)}" if connection.bitbucket_username else ""
    text = (
        f":white_check_mark: Bitbucket Cloud is connected to Terraform organization "
        f"*{escape(connection.organization)}*. "
        f"OAuth client {code(connection.oauth_client_id or '')}"
        f" · owner <@{connection.owner_id}> · {kind}{account}"
    )
    return (
        f"Bitbucket Cloud is connected to {escape(connection.organization)}",
        [_section(text).to_dict()],
    )


# Keeping after stalled connections.

_NEXT_MOVE = {
    State.AWAITING_CREDENTIALS: "create the OAuth consumer in Bitbucket and enter its Key and "
    "Secret",
    State.AWAITING_CALLBACK: "paste the callback URL into the consumer, then press "
    "*I've updated the callback URL*",
    State.AWAITING_AUTHORIZATION: "open the *Authorize* link and grant access in Bitbucket",
}


def _when(moment: datetime) -> str:
    """A date Slack shows in each reader's own time zone."""
    stamp = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _stuck_at(connection: Connection) -> str:
    index = current_step(connection.current_state)
    if index >= len(STEPS):
        return "the end"
    return f"step {index + 1}: {STEPS[index][1]}"


def reminder_message(
    connection: Connection, *, number: int, expires: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The owner's DM about a stalled connection, with Resume and Cancel."""
    org = escape(connection.organization)
    move = _NEXT_MOVE.get(connection.current_state, "finish the connection")
    blocks: list[Block] = [
        _section(
            f":bell: Your Bitbucket connection for *{org}* (#{connection.id}) has made no "
            f"progress since {_when(connection.progressed_at)}. It is at {_stuck_at(connection)}."
            f"\n*Next:* {move}. Press *Resume* to pick it up where you left off."
        ),
        context_block(
            f"Reminder {number}. If nothing happens it expires {_when(expires)}, and the bot "
            "removes what it created in Terraform."
        ),
        ActionsBlock(
            block_id="reminder",
            elements=[
                _button("Resume", ids.RESUME, value=str(connection.id), primary=True),
                cancel_button(connection),
            ],
        ),
    ]
    return f"Reminder: your Bitbucket connection for {org} is waiting for you", [
        b.to_dict() for b in blocks
    ]


def escalation_message(
    connection: Connection, *, reminders: int, approvers: tuple[str, ...]
) -> tuple[str, list[dict[str, Any]]]:
    """For the channel and the approvers: a connection its owner has not finished."""
    org = escape(connection.organization)
    mentions = " ".join(f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in approvers)
    helpers = f" {mentions}, can you help?" if mentions else ""
    text = (
        f":rotating_light: Connection #{connection.id} for *{org}* has made no progress since "
        f"{_when(connection.progressed_at)}, after {reminders} reminders to its owner "
        f"<@{connection.owner_id}>. It is stuck at {_stuck_at(connection)}.{helpers} "
        f"The owner can press *Resume* in my reminder, or cancel it with "
        f"`/connect-bitbucket cancel {connection.id}`."
    )
    return f"Connection #{connection.id} for {org} is stalled", [_section(text).to_dict()]


def ended_message(connection: Connection, summary: str) -> tuple[str, list[dict[str, Any]]]:
    """To the owner when a connection expired or was cancelled: what was cleaned up."""
    org = escape(connection.organization)
    verb = "expired" if connection.current_state == State.EXPIRED else "was cancelled"
    text = (
        f":wastebasket: Connection #{connection.id} for *{org}* {verb}. {escape(summary)}\n"
        f"To connect {org} later, run `/connect-bitbucket {org}`."
    )
    return f"Connection #{connection.id} for {org} {verb}", [_section(text).to_dict()]
