"""Where things stand: `/connect-bitbucket status`, one connection in full, and App Home."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock, HeaderBlock, PlainTextObject

from bot.connections.model import Connection, ConnectionEvent, HealthOutcome
from bot.connections.states import SETTLED, State, is_open
from bot.connections.upkeep import RotationStage
from bot.slack import ids
from bot.slack.blocks.describe import fit_escaped_lines, ownership, uses, when
from bot.slack.blocks.kit import button, context_block, section, steps_of
from bot.slack.blocks.remedies import (
    cancel_button,
    reauthorize_button,
    remedy_buttons,
    rotate_button,
)
from bot.slack.text import code, escape, fit_escaped

MESSAGE_BLOCKS = 50
HOME_BLOCKS = 100
TIMELINE_EVENTS = 30

# When a connection's next reminder is due (None: none planned), from the Slack layer.
NextReminder = Callable[[Connection], datetime | None]


def _step(connection: Connection) -> str:
    shown, index = steps_of(connection)
    if connection.state == State.CONNECTED:
        return "all steps done"
    if connection.state == State.BROKEN:
        return "broken: " + fit_escaped(connection.health_note or "no token", 200)
    if connection.state == State.AWAITING_APPROVAL:
        return "waiting for approval"
    if index >= len(shown):
        return "ended"
    return f"step {index + 1} of {len(shown)}: {shown[index][1]}"


def dependents_blocks(rows: Sequence[Any], total: int) -> list[Block]:
    """The list of what uses the token: kind, name, repository and branch."""
    if not rows:
        return []
    lines = [
        f"• {row.kind} {code(row.name)}"
        + (f" · {code(row.identifier)}" if row.identifier else "")
        + (f" @ {code(row.branch)}" if row.branch else "")
        for row in rows
    ]
    more = f"\n…and {total - len(rows)} more." if total > len(rows) else ""
    return [section(fit_escaped_lines("*What uses it*", lines, more))]


def token_sight(connection: Connection) -> str:
    """The last health check in words: does Terraform's token work at Bitbucket?"""
    checked = when(connection.health_checked_at) if connection.health_checked_at else "never"
    outcome = connection.health_outcome
    if connection.state == State.BROKEN:
        return f"last health check {checked}: broken"
    if outcome == HealthOutcome.WORKS:
        n = connection.repos_seen
        seen = f"{n} repositor{'y' if n == 1 else 'ies'}" if n is not None else "repositories"
        return f"Terraform reads {seen} through it, checked {checked}"
    if outcome == HealthOutcome.SEES_NOTHING:
        who = code(connection.authorized_as) if connection.authorized_as else "the account"
        return (
            f"works, but {who} that authorized it sees no repository (checked {checked}): "
            "re-authorize with an account that has access"
        )
    if outcome == HealthOutcome.REFUSED:
        return f"Bitbucket refused its token at the last check ({checked}); checking again"
    if outcome == HealthOutcome.UNREACHABLE:
        return f"last checked {checked}: could not reach Terraform"
    if outcome == HealthOutcome.EXISTENCE_ONLY:
        return (
            f"checked {checked}: this Terraform does not let the bot test the token; only its "
            "existence is watched"
        )
    return f"last health check {checked}: healthy"


def connection_line(connection: Connection, next_reminder: datetime | None) -> str:
    """One connection in a line or two: number, organization, state, step, owner, age."""
    line = (
        f"*#{connection.id} {escape(connection.organization)}* · {connection.state.words} · "
        f"{_step(connection)}\nowner <@{connection.owner_id}> · {ownership(connection)} · "
        f"started {when(connection.created_at)}"
    )
    if next_reminder is not None and is_open(connection.state):
        line += f" · next reminder {when(next_reminder)}"
    if connection.health_checked_at is not None:
        line += f" · {token_sight(connection)}"
    used = uses(connection)
    if used is not None:
        line += f" · used by {used}"
    return line


def next_actions(connection: Connection, viewer: str, *, approver: bool) -> list[Any]:
    """The buttons of the next action the viewer may take on this connection. Their
    action_ids carry the connection's number, so they stay unique in a list of many."""
    return [_numbered(b, connection.id) for b in _next_actions(connection, viewer, approver)]


def _numbered(element: Any, connection_id: int) -> Any:
    element.action_id = f"{element.action_id}:{connection_id}"
    return element


def _next_actions(connection: Connection, viewer: str, approver: bool) -> list[Any]:
    if connection.state == State.AWAITING_APPROVAL and approver and viewer != connection.owner_id:
        deny = button("Deny", ids.DENY, value=str(connection.id))
        deny.style = "danger"
        return [button("Approve", ids.APPROVE, value=str(connection.id), primary=True), deny]
    if is_open(connection.state) and (viewer == connection.owner_id or approver):
        elements: list[Any] = []
        if viewer == connection.owner_id and connection.state != State.AWAITING_APPROVAL:
            elements.append(button("Resume", ids.RESUME, value=str(connection.id), primary=True))
        elements.append(cancel_button(connection))
        return elements
    return []


def _listing(
    title: str,
    connections: Sequence[Connection],
    viewer: str,
    *,
    approver: bool,
    next_reminder: NextReminder,
    room: int,
) -> list[Block]:
    """A titled list that fits in `room` blocks, saying "and N more" when it does not."""
    blocks: list[Block] = [section(f"*{title}*")]
    if not connections:
        blocks.append(context_block("None."))
        return blocks
    shown = 0
    for connection in connections:
        actions = next_actions(connection, viewer, approver=approver)
        needed = 1 + (1 if actions else 0)
        if len(blocks) + needed > room - 1:
            break
        blocks.append(section(connection_line(connection, next_reminder(connection))))
        if actions:
            blocks.append(ActionsBlock(block_id=f"{title[:20]}-{connection.id}", elements=actions))
        shown += 1
    total = getattr(connections, "total", len(connections))  # exact, past the rows read
    if shown < total:
        blocks.append(
            context_block(
                f"…and {total - shown} more. `/connect-bitbucket status <number>` "
                "shows any one of them."
            )
        )
    return blocks


def status_blocks(
    viewer: str,
    *,
    mine: Sequence[Connection],
    channel: Sequence[Connection],
    waiting: Sequence[Connection],
    finished: Sequence[Connection],
    approver: bool,
    next_reminder: NextReminder,
) -> tuple[str, list[dict[str, Any]]]:
    """The caller's status: their connections, the channel's, what waits on them, and the
    last finished ones; within a message's 50 blocks."""
    # Each connection once (a listing's buttons must stay unique in the message): the
    # channel's list comes without the viewer's own and, for approvers, what waits for them.
    parts = [
        ("Your connections", mine, 16),
        ("This channel's connections", channel, 12),
        ("Waiting for your approval", waiting, 12 if approver else 0),
        ("Recently finished", finished, 9),
    ]
    blocks: list[Block] = []
    for title, items, room in parts:
        if room:
            blocks += _listing(
                title, items, viewer, approver=approver, next_reminder=next_reminder, room=room
            )

    def count(items: Sequence[Connection]) -> int:
        return int(getattr(items, "total", len(items)))

    text = (
        f"Bitbucket connections: {count(mine)} of yours open, {count(waiting)} waiting for approval"
    )
    return text, [b.to_dict() for b in blocks[:MESSAGE_BLOCKS]]


def detail_blocks(
    connection: Connection,
    events: Sequence[ConnectionEvent],
    *,
    live: str | None,
    next_reminder: datetime | None,
    dependents: tuple[Sequence[Any], int] = ((), 0),
) -> tuple[str, list[dict[str, Any]]]:
    """One connection in full: where it stands, its OAuth client, a live check, the timeline."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=f"#{connection.id} {connection.organization}"[:150])),
        section(connection_line(connection, next_reminder)),
    ]
    facts = [
        connection.which_bitbucket.words,
        f"OAuth client: {code(connection.oauth_client_id or 'not created yet')}",
    ]
    if connection.data_center_url:
        facts.append(
            f"at {code(connection.data_center_url)} (version "
            f"{escape(connection.data_center_version or 'unknown')})"
        )
    if connection.bitbucket_workspace:
        facts.append(f"workspace {code(connection.bitbucket_workspace)}")
    if connection.authorized_as:
        facts.append(f"authorized as Bitbucket user {code(connection.authorized_as)}")
    facts.append(
        f"limited to projects {escape(connection.project_names)}"
        if connection.project_names
        else "the whole organization may use it"
    )
    blocks.append(context_block(" · ".join(facts)))
    if live:
        blocks.append(section(live))
    blocks += _day_two(connection)
    used = uses(connection)
    if used is not None:
        counted = connection.dependents_checked_at
        blocks.append(
            context_block(
                f"Used by {used}"
                + (f" (counted {when(counted)})" if counted else "")
                + ". They all stop working if this connection breaks."
            )
        )
        blocks += dependents_blocks(*dependents)
    blocks.append(DividerBlock())
    lines = []
    for event in list(events)[-TIMELINE_EVENTS:]:
        who = "the bot" if event.actor == "bot" else f"<@{event.actor}>"
        change = (
            f"{event.from_state.words} → {event.to_state.words}"
            if event.from_state and event.from_state != event.to_state
            else (event.to_state.words if event.from_state is None else "")
        )
        note = f" · {fit_escaped(event.note, 300)}" if event.note else ""
        lines.append(f"{when(event.at)} · {who}{' · ' + change if change else ''}{note}")
    blocks.append(section("*Timeline*\n" + "\n".join(lines)))
    return f"Connection #{connection.id} for {escape(connection.organization)}", [
        b.to_dict() for b in blocks
    ]


def _day_two(connection: Connection) -> list[Block]:
    """A settled connection: a repair or rotation under way, and the buttons to start one."""
    if connection.state not in SETTLED:
        return []
    lines = []
    if connection.repair_started_at is not None:
        lines.append(
            f"Waiting for <@{connection.repair_by}> to re-authorize it "
            f"(asked {when(connection.repair_started_at)})."
        )
    if connection.rotation_stage == RotationStage.AWAITING_APPROVAL:
        lines.append(
            f"<@{connection.rotation_by}> asked to rotate its key and secret: waiting "
            "for an approver."
        )
    elif connection.rotation_stage == RotationStage.AWAITING_CREDENTIALS:
        lines.append(
            f"Rotation approved: waiting for <@{connection.rotation_by}>'s new key and secret."
        )
    if connection.credentials_set_at is not None:
        lines.append(f"Key and secret set {when(connection.credentials_set_at)}.")
    found: list[Block] = [context_block(" ".join(lines))] if lines else []
    if connection.client_gone or connection.state == State.BROKEN:
        elements = remedy_buttons(connection)
    else:
        elements = [
            reauthorize_button(connection, primary=False),
            rotate_button(connection),
        ]
    if connection.oauth_client_id and not connection.client_gone:
        elements.append(button("As Terraform", ids.AS_TERRAFORM, value=str(connection.id)))
    return [*found, ActionsBlock(block_id="day_two", elements=elements)]


def home_view(
    viewer: str,
    *,
    mine: Sequence[Connection],
    waiting: Sequence[Connection],
    recent: Sequence[Connection],
    approver: bool,
    next_reminder: NextReminder,
) -> dict[str, Any]:
    """The App Home tab: start a connection, yours, waiting for you, recently connected."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Bitbucket Cloud for Terraform")),
        section(
            "Connect a Terraform organization to Bitbucket Cloud, step by step. Your connections "
            "and what waits for you are below."
        ),
        ActionsBlock(
            block_id="home_start",
            elements=[button("Connect an organization", ids.HOME_CONNECT, primary=True)],
        ),
        DividerBlock(),
    ]
    blocks += _listing(
        "Your connections", mine, viewer, approver=approver, next_reminder=next_reminder, room=30
    )
    if approver:
        blocks += _listing(
            "Waiting for your approval",
            waiting,  # without the viewer's own requests
            viewer,
            approver=True,
            next_reminder=next_reminder,
            room=30,
        )
    blocks += _listing(
        "Recently connected",
        recent,
        viewer,
        approver=approver,
        next_reminder=next_reminder,
        room=HOME_BLOCKS - len(blocks),
    )
    return {"type": "home", "blocks": [b.to_dict() for b in blocks[:HOME_BLOCKS]]}
