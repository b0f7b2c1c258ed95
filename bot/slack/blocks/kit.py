"""Shared Block Kit pieces: limits, small builders, and the values views are built from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.connections import validation
from bot.connections.model import AccountKind, Bitbucket, Connection
from bot.connections.states import current_step, steps
from bot.slack import ids
from bot.slack.text import escape, fit, fit_escaped

SECTION_MAX = 3000
TITLE_MAX = 24
HEADER_MAX = 150


@dataclass(frozen=True)
class RequestForm:
    """What the first modal holds, so it can be shown again with an error."""

    channel_id: str
    organization: str = ""
    account_kind: AccountKind = AccountKind.SERVICE_ACCOUNT
    username: str = ""
    acknowledged: bool = False
    workspace: str = ""
    projects: str = ""  # Terraform project names, comma-separated; empty: organization-wide
    add_another: bool = False
    reason: str = ""
    # Asked for (and required) when APPROVERS is set.
    ask_reason: bool = False
    # Where the organization's name is seen: the TFE host from TFE_URL.
    tfe_host: str = "app.terraform.io"
    # Bitbucket Data Center is offered (BITBUCKET_DC_URL set, the server's say-so): its
    # address is asked, this one preset.
    bitbucket: Bitbucket = Bitbucket.CLOUD
    data_center_url: str = ""
    offer_data_center: bool = False


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(text, SECTION_MAX))


def section(text: str, block_id: str | None = None) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text), block_id=block_id)


def context_block(text: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(text)])


def error_context(text: str) -> ContextBlock:
    return context_block(f":warning: {escape(text)}")


def button(
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


def modal(
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


def steps_of(connection: Connection) -> tuple[tuple[tuple[str, str], ...], int]:
    """The steps this connection shows (four or five) and the index of the current one."""
    with_callback = connection.with_callback_step
    data_center = connection.bitbucket == Bitbucket.DATA_CENTER
    current = current_step(
        connection.state, connection.last_open_state, with_callback, data_center=data_center
    )
    return steps(with_callback, data_center=data_center), current


def step_number(connection: Connection, key: str) -> int:
    """The number a step has in this connection's progress message ("authorize" is 3 or 4)."""
    shown, _ = steps_of(connection)
    return 1 + [k for k, _ in shown].index(key)


def warnings(connection: Connection) -> list[Block]:
    lines = (connection.check_warnings or "").splitlines()
    return [context_block(f":warning: {fit_escaped(line, 2900)}") for line in lines[:5]]


REASON_MAX = 1000


COMMENT_MAX = 1000


def errors_under(blocks: list[Block], errors: dict[str, str]) -> list[Block]:
    """Put each error right under its field (for errors found after the modal was acked)."""
    out: list[Block] = []
    for block in blocks:
        out.append(block)
        if block.block_id in errors:
            out.append(error_context(errors[block.block_id]))
    return out


def busy_view(title: str, text: str) -> dict[str, Any]:
    """Shown while the bot talks to TFE or Bitbucket after a submission."""
    return modal(title, [section(f":hourglass_flowing_sand: {text}")])


def message_view(title: str, text: str) -> dict[str, Any]:
    """A modal that just says something, with a Close button."""
    return modal(title, [section(text)])


def key_and_secret_inputs(key: str = "") -> list[Block]:
    """The Key and Secret inputs of Connect's and Rotate's forms (read back, once, by
    forms.read_key_and_secret); the secret is never filled in again."""
    return [
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
