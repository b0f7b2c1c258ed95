"""What people see of the Data Center steps: the bot making the client, the administrator's
application link (its values in the order Bitbucket asks for them), the token's SSH key,
and the hint when the authorization brought no token."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, PlainTextObject, UserSelectElement

from bot.connections.model import Connection
from bot.connections.pages import ApplicationLink
from bot.connections.states import SETTLED, State
from bot.slack import ids
from bot.slack.blocks.kit import button, section, step_number
from bot.slack.blocks.remedies import cancel_button
from bot.slack.text import code, escape

MENU_PATH = (
    "Administration (the gear) → *Application Links* → *Create link* → "
    "*Atlassian product via OAuth 1.0*"
)


def step_blocks(connection: Connection, link: ApplicationLink, ssh_keys_page: str) -> list[Block]:
    """The current Data Center step with its controls; [] where the Cloud steps serve."""
    if connection.state == State.AWAITING_CREDENTIALS:
        return [
            section(
                ":hourglass_flowing_sand: *Step 1: the bot makes the keys and the OAuth client "
                f"in Terraform* for {escape(connection.data_center_url or '')}. Nothing to do "
                "yet: the application link's values appear here in a moment."
            ),
            ActionsBlock(block_id="dc_client", elements=[cancel_button(connection)]),
        ]
    if connection.state == State.AWAITING_LINK:
        return link_blocks(connection, link, for_helper=False)
    if connection.state == State.AWAITING_SSH_KEY:
        return ssh_key_blocks(connection, ssh_keys_page)
    return []


def link_values(link: ApplicationLink) -> str:
    """The values to paste, in the order Bitbucket's forms ask for them, once each."""
    return (
        f"1. {MENU_PATH}.\n"
        f"2. *Application URL*: {code(link.application_url)} → *Continue* (Bitbucket may "
        "say it cannot reach it: continue anyway).\n"
        "3. *Application Name*: the Consumer Name below; *Application Type*: *Generic "
        "Application*; tick *Create incoming link* → *Continue*.\n"
        f"4. *Consumer Key*: {code(link.consumer_key)}\n"
        f"5. *Consumer Name*: {code(link.consumer_name)}\n"
        f"6. *Public Key*:\n```{escape(link.public_key.strip())}```\n"
        "7. *Continue*: the link is listed under Application Links."
    )


def link_blocks(connection: Connection, link: ApplicationLink, *, for_helper: bool) -> list[Block]:
    """Step 2: the application link, for the owner (with the hand-off) or the colleague."""
    number = step_number(connection, "link")
    who = (
        f"<@{connection.owner_id}> asked you to do this for connection #{connection.id} "
        f"({escape(connection.organization)}): it needs a Bitbucket administrator."
        if for_helper
        else "A *Bitbucket administrator* does this step. If that is not you, hand it to one "
        "below: they get these values in a direct message."
    )
    if connection.link_helper and not for_helper:
        who += f" Handed to <@{connection.link_helper}>."
    elements: list[Any] = [
        button("Open Bitbucket: Application Links", ids.OPEN_APPLICATION_LINKS, url=link.page),
        button(
            "I've created the application link",
            ids.LINK_CREATED,
            value=str(connection.id),
            primary=True,
        ),
    ]
    if not for_helper:
        elements += [
            UserSelectElement(
                action_id=ids.LINK_HELPER,
                placeholder=PlainTextObject(text="Hand this step to a colleague"),
                initial_user=connection.link_helper or None,
            ),
            cancel_button(connection),
        ]
    return [
        section(
            f":white_check_mark: Terraform has the OAuth client "
            f"{code(connection.oauth_client_id or '')} and its keys.\n"
            f"*Step {number}: create the application link in Bitbucket Data Center* "
            f"({escape(connection.data_center_url or '')}). {who}\n{link_values(link)}"
        ),
        # The block id carries the connection for the user select, which has no value.
        ActionsBlock(block_id=f"{ids.LINK_HELPER}:{connection.id}", elements=elements),
    ]


def ssh_key_blocks(connection: Connection, ssh_keys_page: str) -> list[Block]:
    """Step 4: the token's SSH key, which goes on the service user's account."""
    user = connection.authorized_as or connection.bitbucket_username
    account = f"the service user {code(user)}" if user else "the Bitbucket user who authorized"
    number = step_number(connection, "ssh_key")
    if connection.state in SETTLED:
        heading = (
            f"*Terraform has a new token for {escape(connection.organization)}* (connection "
            f"#{connection.id}), with a new SSH key. *Replace the SSH key on {account}* with "
            "this one"
        )
    else:
        heading = f"*Step {number}: add this SSH key to {account}*"
    if not connection.ssh_public_key:
        return [
            section(
                f":hourglass_flowing_sand: *Step {number}: the SSH key.* Terraform holds the "
                "token; the bot is giving it an SSH key to clone with. Its public half "
                "appears here in a moment."
            ),
            ActionsBlock(block_id="dc_ssh_wait", elements=[cancel_button(connection)]),
        ]
    return [
        section(
            f"{heading} (Terraform clones over SSH with it). Log in to Bitbucket as that user "
            "→ your avatar → *Manage account* → *SSH keys* → *Add key*, paste it, and save:\n"
            f"```{escape(connection.ssh_public_key.strip())}```"
        ),
        ActionsBlock(
            block_id="dc_ssh_key",
            elements=[
                button("Open Bitbucket: SSH keys", ids.OPEN_SSH_KEYS, url=ssh_keys_page),
                button(
                    "I've added the SSH key",
                    ids.SSH_KEY_ADDED,
                    value=str(connection.id),
                    primary=True,
                ),
                cancel_button(connection),
            ],
        ),
    ]


def link_message(
    connection: Connection, link: ApplicationLink, *, for_helper: bool
) -> tuple[str, list[dict[str, Any]]]:
    """The DM with the application link's values: to the owner, or the colleague."""
    text = f"Create the application link for {escape(connection.organization)}"
    return text, [b.to_dict() for b in link_blocks(connection, link, for_helper=for_helper)]


def ssh_key_message(connection: Connection, ssh_keys_page: str) -> tuple[str, list[dict[str, Any]]]:
    text = f"Add the SSH key for {escape(connection.organization)}"
    return text, [b.to_dict() for b in ssh_key_blocks(connection, ssh_keys_page)]


def authorize_hint(connection: Connection, link: str | None) -> tuple[str, list[dict[str, Any]]]:
    """No token after Authorize: with Data Center, the application link is the likely cause."""
    text = (
        f"*Terraform has no token yet for {escape(connection.organization)}* (connection "
        f"#{connection.id}). The likely causes, most likely first:\n"
        "1. *The application link is missing or its values differ.* In Bitbucket, "
        "Administration → Application Links: the link's incoming Consumer Key must be "
        f"{code(connection.consumer_key or '')} and its Public Key exactly the one in the "
        "progress message. Fix it, then press Authorize again.\n"
        "2. *You were logged in to Bitbucket as an administrator.* Log out, log in as "
        f"{code(connection.bitbucket_username or 'the service user')}, and press Authorize "
        "again.\n"
        "3. *You were not logged in to Terraform.* Log in, then press Authorize again.\n"
        "I keep watching; I'll tell the channel as soon as the connection is done."
    )
    body: list[Block] = [section(text)]
    if link:
        body.append(
            ActionsBlock(
                block_id="authorize_hint",
                elements=[
                    button(
                        "Authorize", ids.AUTHORIZE, url=link, value=str(connection.id), primary=True
                    )
                ],
            )
        )
    return (
        f"No token yet for {escape(connection.organization)}: check the application link",
        [b.to_dict() for b in body],
    )
