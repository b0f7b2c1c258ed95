"""The modals: the connect request, the key and secret, and the small ones between."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
)

from bot.connections import validation
from bot.connections.model import AccountKind, Bitbucket, Connection
from bot.connections.states import State
from bot.slack import ids
from bot.slack.blocks.kit import (
    REASON_MAX,
    RequestForm,
    errors_under,
    key_and_secret_inputs,
    message_view,
    modal,
    section,
    warnings,
)
from bot.slack.text import code, escape, fit

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
    """The modal `/connect-bitbucket` opens; `errors` go under the named fields.

    The plain form (no errors, no notice) is the same for everyone in a channel, and
    building it through the typed models costs more than the rest of a command: it is
    built once per distinct form and shared. Treat the returned dict as read-only.
    """
    if not errors and not notice:
        return _plain_request_view(form, offer_add_another)
    return _build_request_view(form, errors or {}, notice, offer_add_another)


@lru_cache(maxsize=512)
def _plain_request_view(form: RequestForm, offer_add_another: bool) -> dict[str, Any]:
    return _build_request_view(form, {}, None, offer_add_another)


def _build_request_view(
    form: RequestForm, errors: dict[str, str], notice: str | None, offer_add_another: bool
) -> dict[str, Any]:
    blocks: list[Block] = []
    if notice:
        blocks.append(section(f":warning: {escape(notice)}"))
    blocks += [*_who_owns_inputs(form), *_where_inputs(form)]
    if form.ask_reason:
        blocks.append(
            InputBlock(
                block_id=ids.REASON,
                label="Why is this connection needed?",
                hint="An approver reads this before the bot creates anything in Terraform.",
                element=PlainTextInputElement(
                    action_id=ids.VALUE,
                    multiline=True,
                    initial_value=fit(form.reason, REASON_MAX) or None,
                    max_length=REASON_MAX,
                ),
            )
        )
    if offer_add_another:
        blocks.append(add_another_input())
    blocks = errors_under(blocks, errors)
    return modal(
        "Connect Bitbucket",
        blocks,
        callback_id=ids.REQUEST_VIEW,
        submit="Continue",
        close="Cancel",
        metadata={"channel": form.channel_id, "reason": form.ask_reason},
    )


def _who_owns_inputs(form: RequestForm) -> list[Block]:
    """The organization, and whose Bitbucket account owns the connection."""
    kinds = {
        AccountKind.SERVICE_ACCOUNT: Option(
            value=AccountKind.SERVICE_ACCOUNT,
            text=PlainTextObject(text=SERVICE_LABEL),
            description=PlainTextObject(
                text="A Bitbucket account the team shares, with admin access to the repositories."
            ),
        ),
        AccountKind.PERSONAL: Option(
            value=AccountKind.PERSONAL,
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
    return [
        InputBlock(
            block_id=ids.ORGANIZATION,
            label="Terraform organization",
            hint=f"The name in {form.tfe_host}/app/<organization>: letters, digits, - and _",
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
    ]


CLOUD_LABEL = "Bitbucket Cloud"
DATA_CENTER_LABEL = "Bitbucket Data Center"


def _which_bitbucket(form: RequestForm) -> list[Block]:
    """Bitbucket Cloud or a Data Center, only where the operators listed Data Centers."""
    if not form.offer_data_center:
        return []
    options = {
        Bitbucket.CLOUD: Option(
            value=Bitbucket.CLOUD,
            text=PlainTextObject(text=CLOUD_LABEL),
            description=PlainTextObject(text="bitbucket.org: an OAuth consumer in a workspace."),
        ),
        Bitbucket.DATA_CENTER: Option(
            value=Bitbucket.DATA_CENTER,
            text=PlainTextObject(text=DATA_CENTER_LABEL),
            description=PlainTextObject(
                text="Your company's own Bitbucket: an administrator adds an application link."
            ),
        ),
    }
    return [
        InputBlock(
            block_id=ids.BITBUCKET,
            label="Which Bitbucket?",
            element=RadioButtonsElement(
                action_id=ids.VALUE,
                options=list(options.values()),
                initial_option=options[form.bitbucket],
            ),
        ),
        InputBlock(
            block_id=ids.DATA_CENTER_URL,
            label="Bitbucket Data Center address",
            hint="Only for Bitbucket Data Center: one of the addresses this bot's operators "
            "listed. The bot checks it before it creates anything.",
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.data_center_url, 255) or None,
                max_length=255,
                placeholder="https://bitbucket.example.com",
            ),
        ),
    ]


def _where_inputs(form: RequestForm) -> list[Block]:
    """Which Bitbucket, its workspace, and the Terraform projects it is limited to."""
    return [
        *_which_bitbucket(form),
        InputBlock(
            block_id=ids.WORKSPACE,
            label="Bitbucket workspace",
            hint=(
                "Bitbucket Cloud only: the part after bitbucket.org/ in the workspace's address."
                if form.offer_data_center
                else "The part after bitbucket.org/ in the workspace's address: the OAuth "
                "consumer is made in its settings."
            ),
            optional=form.offer_data_center,
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.workspace, validation.BITBUCKET_NAME_MAX) or None,
                max_length=validation.BITBUCKET_NAME_MAX,
            ),
        ),
        InputBlock(
            block_id=ids.PROJECTS,
            label="Limit to projects (optional)",
            hint="Terraform project names, comma-separated. Empty: the whole organization may "
            "use the connection.",
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.VALUE,
                initial_value=fit(form.projects, 1000) or None,
                max_length=1000,
            ),
        ),
    ]


def started_view(connection: Connection) -> dict[str, Any]:
    start = (
        f":white_check_mark: Connection #{connection.id} for *{escape(connection.organization)}* "
        "is under way. "
    )
    if connection.state == State.AWAITING_APPROVAL:
        return message_view(
            "Connection requested",
            f":hourglass_flowing_sand: Connection #{connection.id} for "
            f"*{escape(connection.organization)}* waits for an approver. I've asked them; "
            "you'll hear from me when one decides, and then you continue with step 1.",
        )
    if connection.progress_channel and connection.data_center:
        return message_view(
            "Connection started",
            start + f"Follow its progress message in <#{connection.progress_channel}>: the bot "
            "makes the keys and the OAuth client now, then a Bitbucket administrator creates "
            "the application link with the values it shows.",
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
        blocks.append(section(f":warning: {escape(notice)}"))
    blocks += [
        section(
            f"Paste the Key and Secret of the OAuth consumer you made for "
            f"*{escape(connection.organization)}*. In Bitbucket: OAuth consumers → click the "
            "consumer's name to show them. The secret goes to Terraform and nowhere else."
        ),
        *key_and_secret_inputs(key),
    ]
    if offer_add_another:
        blocks.append(add_another_input())
    return modal(
        "Key and Secret",
        errors_under(blocks, errors),
        callback_id=ids.CREDENTIALS_VIEW,
        submit="Connect",
        close="Cancel",
        metadata={"connection": connection.id},
    )


def client_created_view(connection: Connection) -> dict[str, Any]:
    """After the create: what happened, what to know, and what is next."""
    if connection.callback_differs:
        following = (
            "Terraform gave it another callback URL than the one you entered in Bitbucket, so "
            "paste Terraform's into the consumer; it is in the progress message."
        )
    elif connection.with_callback_step:
        following = "paste the callback URL into the consumer; it is in the progress message."
    else:
        following = (
            "authorize. The *Authorize* link is in your direct messages with me; the "
            "consumer already has the right callback URL."
        )
    return modal(
        "OAuth client created",
        [
            section(
                ":white_check_mark: Bitbucket accepted the consumer and Terraform has the OAuth "
                f"client {code(connection.oauth_client_id or '')}. Next: {following}"
            ),
            *warnings(connection),
        ],
    )
