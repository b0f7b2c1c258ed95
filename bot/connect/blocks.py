"""The progress message: one per connection, every step, updated in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
)

from bot.connections.model import AccountKind, Connection
from bot.connections.pages import (
    PERMISSIONS,
    PLACEHOLDER_CALLBACK,
    BitbucketPages,
    ConsumerValues,
)
from bot.connections.states import State, is_open
from bot.slack import ids
from bot.slack.blocks.describe import decision_line, decision_section, mentions
from bot.slack.blocks.kit import (
    HEADER_MAX,
    button,
    context_block,
    section,
    step_number,
    steps_of,
    warnings,
)
from bot.slack.blocks.remedies import cancel_button, remedy_buttons
from bot.slack.text import code, escape, fit, fit_escaped

# The progress message: one per connection, updated in place.

# A connection's own steps, where another Bitbucket than Cloud has them ([]: none here).
StepsOf = Callable[[Connection], list[Block]]


def _owner_line(connection: Connection) -> str:
    if connection.account_kind == AccountKind.SERVICE_ACCOUNT:
        account = "service account"
        if connection.bitbucket_username:
            account += " " + code(connection.bitbucket_username)
    else:
        account = "their own Bitbucket account (ownership recorded)"
    line = f"Connection #{connection.id} · owner <@{connection.owner_id}> · {account}"
    if connection.bitbucket_workspace:
        line += f" · workspace {code(connection.bitbucket_workspace)}"
    if connection.data_center_url:
        line += f" · Bitbucket Data Center {code(connection.data_center_url)}"
    return line


def _steps(connection: Connection) -> str:
    shown, current = steps_of(connection)
    ended = connection.state in (State.CANCELLED, State.EXPIRED, State.FAILED, State.DENIED)
    lines = []
    for index, (_, title) in enumerate(shown):
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
    callback = (
        f"• Callback URL: {code(values.callback_url)} (a placeholder: you replace it in step 3)\n"
        if values.callback_url == PLACEHOLDER_CALLBACK
        else "• Callback URL (Terraform's own for this connection, copy it exactly):\n"
        f"```{escape(values.callback_url)}```\n"
    )
    return (
        "*Step 1: create the OAuth consumer in Bitbucket* with exactly these values:\n"
        f"• Name: {code(values.name)}\n"
        "• Description: anything that helps your team, e.g. who owns it\n"
        f"{callback}"
        f"• URL: {code(values.url)}\n"
        "• :ballot_box_with_check: *This is a private consumer*\n"
        f"• Permissions:\n{permissions}\n"
        "Save it, click its name to see the *Key* and *Secret*, then press *Enter Key and Secret*."
    )


def step_blocks(
    connection: Connection,
    *,
    values: ConsumerValues,
    pages: BitbucketPages,
    poll_every: float,
    approvers: tuple[str, ...] = (),
    data_center_steps: StepsOf | None = None,
) -> list[Block]:
    """What the owner does now, with the controls for it (empty once the connection ended).
    A Data Center connection's own steps come from `data_center_steps`."""
    state = connection.state
    if state == State.AWAITING_APPROVAL:
        return _waiting_for_approval(connection, approvers)
    decided = [decision_section(connection)] if connection.decided_by else []
    if connection.data_center and data_center_steps is not None:
        own = data_center_steps(connection)
        if own:
            return [*decided, *own] if state == State.AWAITING_CREDENTIALS else own
    if state == State.AWAITING_CREDENTIALS:
        return [*decided, *_step_consumer(connection, values, pages)]
    if state == State.AWAITING_CALLBACK:
        return _step_callback(connection, pages)
    if state == State.AWAITING_AUTHORIZATION:
        return _step_authorize(connection, poll_every)
    return []


def _waiting_for_approval(connection: Connection, approvers: tuple[str, ...]) -> list[Block]:
    who = mentions(approvers) or "an approver"
    return [
        section(
            f":hourglass_flowing_sand: *Waiting for approval* from {who}. Nothing is created "
            "in Terraform until an approver approves; then step 1 appears here."
        ),
        ActionsBlock(block_id="approval", elements=[cancel_button(connection)]),
    ]


def _step_consumer(
    connection: Connection, values: ConsumerValues, pages: BitbucketPages
) -> list[Block]:
    return [
        section(consumer_instructions(values)),
        ActionsBlock(
            block_id="step1",
            elements=[
                button(
                    "Open Bitbucket: Add OAuth consumer",
                    ids.OPEN_BITBUCKET,
                    url=pages.add_consumer,
                ),
                button(
                    "Enter Key and Secret",
                    ids.ENTER_CREDENTIALS,
                    value=str(connection.id),
                    primary=True,
                ),
                cancel_button(connection),
            ],
        ),
    ]


def _step_callback(connection: Connection, pages: BitbucketPages) -> list[Block]:
    why = (
        "Terraform gave the OAuth client another callback URL than the one in step 1, so "
        "the consumer needs this one instead"
        if connection.callback_differs
        else "replacing the placeholder"
    )
    return [
        section(
            ":white_check_mark: Terraform has the OAuth client "
            f"{code(connection.oauth_client_id or '')}.\n"
            f"*Step 3: paste this callback URL into the consumer* ({why}):\n"
            f"```{escape(connection.callback_url or '')}```\n"
            "In Bitbucket: OAuth consumers → the consumer's ⋯ menu → *Edit* → "
            "*Callback URL* → *Save*."
        ),
        *warnings(connection),
        ActionsBlock(
            block_id="step3",
            elements=[
                button("Open Bitbucket: OAuth consumers", ids.OPEN_CONSUMERS, url=pages.consumers),
                button(
                    "I've updated the callback URL",
                    ids.CALLBACK_UPDATED,
                    value=str(connection.id),
                    primary=True,
                ),
                cancel_button(connection),
            ],
        ),
    ]


def _step_authorize(connection: Connection, poll_every: float) -> list[Block]:
    if connection.authorize_clicked_at:
        waiting = (
            f"<@{connection.owner_id}> opened the authorize link. Waiting for Terraform to "
            f"receive the token (checking every {poll_every:g}s at first)."
        )
    else:
        waiting = (
            f"*Step {step_number(connection, 'authorize')}: authorize.* "
            f"<@{connection.owner_id}> has the *Authorize* link in a "
            "direct message. Open it while logged in to Terraform, then press *Grant access* "
            "in Bitbucket with the account that owns the connection."
        )
    return [
        section(waiting),
        *warnings(connection),
        ActionsBlock(
            block_id="step4",
            elements=[
                button(
                    "Send me the authorize link again",
                    ids.RESEND_AUTHORIZE,
                    value=str(connection.id),
                ),
                cancel_button(connection),
            ],
        ),
    ]


def progress_message(
    connection: Connection,
    *,
    values: ConsumerValues,
    pages: BitbucketPages,
    poll_every: float,
    approvers: tuple[str, ...] = (),
    data_center_steps: StepsOf | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The text fallback and blocks of a connection's progress message."""
    org = connection.organization
    state = connection.state
    which = connection.which_bitbucket.words
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=fit(f"Connect {which} to {org}", HEADER_MAX))),
        context_block(_owner_line(connection)),
        section(_steps(connection)),
        DividerBlock(),
        *step_blocks(
            connection,
            values=values,
            pages=pages,
            poll_every=poll_every,
            approvers=approvers,
            data_center_steps=data_center_steps,
        ),
    ]
    text = f"Connecting {which} to {escape(org)}: {state.words}"
    if state == State.CONNECTED:
        who = (
            f" as Bitbucket user {code(connection.authorized_as)}"
            if connection.authorized_as
            else ""
        )
        blocks.append(
            section(
                f":tada: *Connected.* Terraform holds the OAuth token{who}. Workspaces in "
                f"*{escape(org)}* can now use repositories from {which} through OAuth "
                f"client {code(connection.oauth_client_id or '')}."
            )
        )
        text = f"{which} is connected to {escape(org)}"
    elif state == State.DENIED:
        blocks.append(section(":no_entry: " + decision_line(connection)))
    elif state == State.BROKEN:
        note = connection.health_note or "Terraform no longer holds the OAuth token."
        blocks.append(section(f":rotating_light: *Broken.* {fit_escaped(note, 2000)}"))
        blocks.append(
            ActionsBlock(
                block_id="broken",
                elements=[*remedy_buttons(connection), cancel_button(connection)],
            )
        )
        text = f"The Bitbucket connection of {escape(org)} is broken"
    elif state == State.FAILED or not is_open(state):
        note = connection.status_note or f"This connection is {state.words}."
        blocks.append(section(f":x: {fit_escaped(note, 2000)}"))
        elements = [button("Start over", ids.START_OVER, value=connection.organization[:2000])]
        if state == State.FAILED:
            elements.append(cancel_button(connection))
        blocks.append(ActionsBlock(block_id="ended", elements=elements))
    return text, [b.to_dict() for b in blocks]
