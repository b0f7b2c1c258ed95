"""A move's messages. The channel's one message says counts and outcomes only (guests of the
channel read it). The cards in the deciders' and the owner's direct messages name what is
moved and what failed, and carry the buttons: Move workspaces and Cancel move while it waits,
then Re-publish modules and Delete old client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.connections.move_tables import Move, MoveItem, MoveState, RepoCheck
from bot.move.store import Tally
from bot.slack import ids
from bot.slack.blocks.describe import fit_escaped_lines
from bot.slack.blocks.kit import button, context_block, modal, section
from bot.slack.text import code, escape, fit_escaped

SHOWN = 20
BAR = 20


@dataclass(frozen=True)
class MoveView:
    """What a move's messages are built from, read once per send."""

    move: Move
    tally: Tally
    items: Sequence[MoveItem]  # the dry run's first items to move (while planned)
    failures: Sequence[MoveItem]  # the first items that failed
    left_out: Sequence[MoveItem] = ()  # the first the new token cannot see: not attempted


def _line(item: MoveItem, reason: bool = False) -> str:
    where = f" · {code(item.identifier)}" if item.identifier else ""
    where += f" @ {code(item.branch)}" if item.branch else ""
    why = f": {fit_escaped(item.reason or 'no reason given', 300)}" if reason else ""
    return f"• {item.kind} {code(item.name)}{where}{why}"


def bar(tally: Tally) -> str:
    settled = tally.done + tally.failed + tally.left_out
    filled = round(BAR * settled / tally.total) if tally.total else BAR
    return "▓" * filled + "░" * (BAR - filled)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _head(move: Move) -> str:
    org = escape(move.organization)
    if move.from_connection_id != move.to_connection_id:
        return (
            f"*Move what used connection #{move.from_connection_id}* (OAuth client "
            f"{code(move.from_client_id or 'gone')}) *to connection #{move.to_connection_id}* "
            f"of *{org}* (token {code(move.to_token_id)})"
        )
    return (
        f"*Relink what still named the old token of {org}'s connection "
        f"#{move.to_connection_id}* to its new token {code(move.to_token_id)} (re-authorized)"
    )


def _modules_note(move: Move) -> str:
    if not move.modules_left:
        return ""
    return (
        f"\n{_plural(move.modules_left, 'registry module')} also used the old client: a move "
        "does not relink modules (they are re-published from the new connection, which deletes "
        "and re-creates their versions), so they are left as they are."
    )


def _counts(tally: Tally) -> str:
    counts = f"{tally.done} of {tally.total} moved, {tally.failed} failed, {tally.pending} left"
    return counts + (f", {tally.left_out} not attempted" if tally.left_out else "")


def _to_move(tally: Tally) -> int:
    return tally.total - tally.left_out


def _sight_note(move: Move, tally: Tally, *, listed: bool) -> str:
    """What the dry run learned of the repositories, for the planned move."""
    if tally.left_out:
        where = " (listed below)" if listed else ""
        return (
            f"\n{_plural(tally.left_out, 'item')} left out{where}: the new connection cannot see "
            "their repositories, so they are not attempted and keep the old token."
        )
    if move.repos_checked == RepoCheck.UNCHECKED:
        return (
            "\nThis Terraform could not say which repositories the new connection sees; any it "
            "cannot see are refused when moved, and listed in the report."
        )
    return ""


def _ended(move: Move) -> str:
    if move.state == MoveState.CANCELLED:
        return "cancelled" + (f" by <@{move.cancelled_by}>" if move.cancelled_by else "")
    if move.state == MoveState.EXPIRED:
        return "expired: nobody decided in time"
    return "done"


def _title(move: Move, tally: Tally) -> str:
    org = escape(move.organization)
    if move.state == MoveState.PLANNED:
        return f"Move {_to_move(tally)} items of {org} to the new connection?"
    if move.state == MoveState.RUNNING:
        return f"Moving {org}: {_counts(tally)}"
    verb = str(move.state)
    return f"Move of {org} {verb}: {_counts(tally)}"


# The channel's message: counts and outcomes, no names.


def channel_message(view: MoveView) -> tuple[str, list[dict[str, Any]]]:
    """For the connection's channel: where the move stands, in numbers."""
    move, tally = view.move, view.tally
    if move.state == MoveState.PLANNED:
        text = (
            f"{_head(move)}\n*Dry run:* {_to_move(tally)} would be pointed at the new token, "
            "keeping their repository and branch. Nothing changes until an approver decides: "
            "each has the list and the buttons in a direct message."
            + _sight_note(move, tally, listed=False)
            + _modules_note(move)
        )
    elif move.state == MoveState.RUNNING:
        text = (
            f"{_head(move)}\n`{bar(tally)}` {_counts(tally)}. Approved by "
            f"<@{move.approved_by}>; paced under Terraform's rate limit."
        )
    else:
        text = f"{_head(move)}\n`{bar(tally)}` Move {_ended(move)}: {_counts(tally)}."
        if tally.failed:
            text += " What failed, and why, is in the approvers' and the owner's direct messages."
        text += _modules_note(move) if move.state == MoveState.DONE else ""
    body: list[Block] = [section(text)]
    if move.modules_republished_by:
        body.append(context_block(f"<@{move.modules_republished_by}> re-published the modules."))
    if move.old_client_deleted_by:
        body.append(
            context_block(
                f"<@{move.old_client_deleted_by}> deleted the old OAuth client "
                f"{code(move.from_client_id or '')}."
            )
        )
    return _title(move, tally), [b.to_dict() for b in body]


# The cards: the names, and the buttons for whoever decides.


def move_card(
    view: MoveView, *, decides: bool, reminder: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """One person's card about a move; `decides`: with the buttons (an approver's, or the new
    connection's owner's where there are no approvers)."""
    move, tally = view.move, view.tally
    body: list[Block] = [section(reminder)] if reminder else []
    if move.state == MoveState.PLANNED:
        shown = _to_move(tally)
        more = f"\n…and {shown - len(view.items)} more." if shown > len(view.items) else ""
        who = "you decide" if decides else "an approver decides"
        body.append(
            section(
                fit_escaped_lines(
                    f"{_head(move)}\n*Dry run:* {shown} would be pointed at the new token, "
                    f"keeping their repository and branch. Nothing changes until {who}."
                    + _sight_note(move, tally, listed=True)
                    + _modules_note(move),
                    [_line(item) for item in view.items],
                    more,
                )
            )
        )
        if view.left_out:
            body.append(_left_out_section(view))
        if decides:
            body.append(_decision_buttons(move))
        return _title(move, tally), [b.to_dict() for b in body]
    if move.state == MoveState.RUNNING:
        body.append(
            section(
                f"{_head(move)}\n`{bar(tally)}` {_counts(tally)}. Approved by "
                f"<@{move.approved_by}>; paced under Terraform's rate limit."
            )
        )
        if decides:
            body.append(
                ActionsBlock(
                    block_id="move",
                    elements=[button("Cancel move", ids.MOVE_CANCEL, value=str(move.id))],
                )
            )
        return _title(move, tally), [b.to_dict() for b in body]
    body += _report(view, decides=decides)
    return _title(move, tally), [b.to_dict() for b in body]


def _left_out_section(view: MoveView) -> Block:
    tally = view.tally
    more = (
        f"\n…and {tally.left_out - len(view.left_out)} more."
        if tally.left_out > len(view.left_out)
        else ""
    )
    return section(
        fit_escaped_lines(
            "*Not attempted, and why:*",
            [_line(item, reason=True) for item in view.left_out],
            more,
        )
    )


def _decision_buttons(move: Move) -> ActionsBlock:
    return ActionsBlock(
        block_id="move",
        elements=[
            button("Move workspaces", ids.MOVE_START, value=str(move.id), primary=True),
            button("Cancel move", ids.MOVE_CANCEL, value=str(move.id)),
        ],
    )


def _report(view: MoveView, *, decides: bool) -> list[Block]:
    move, tally = view.move, view.tally
    lines = [_line(item, reason=True) for item in view.failures]
    more = (
        f"\n…and {tally.failed - len(view.failures)} more."
        if tally.failed > len(view.failures)
        else ""
    )
    body: list[Block] = [
        section(
            fit_escaped_lines(
                f"{_head(move)}\n`{bar(tally)}` Move {_ended(move)}: {_counts(tally)}."
                + (" Failed, and why:" if view.failures else "")
                + (_modules_note(move) if move.state == MoveState.DONE else ""),
                lines,
                more,
            )
        )
    ]
    if view.left_out:
        body.append(_left_out_section(view))
    if move.modules_report:
        body.append(
            section(
                f"*Registry modules re-published by <@{move.modules_republished_by}>:*\n"
                + "\n".join(
                    f"• {fit_escaped(line, 300)}" for line in move.modules_report.split("\n")[:20]
                )
            )
        )
    elif move.modules_republished_by:
        body.append(
            context_block(f"<@{move.modules_republished_by}> is re-publishing the modules…")
        )
    if move.old_client_deleted_by:
        body.append(
            context_block(
                f"<@{move.old_client_deleted_by}> deleted the old OAuth client "
                f"{code(move.from_client_id or '')}."
            )
        )
    if decides and move.state == MoveState.DONE:
        buttons = []
        if move.modules_left and not move.modules_republished_by:
            buttons.append(button("Re-publish modules", ids.REPUBLISH, value=str(move.id)))
        if (
            move.from_client_id
            and not move.old_client_deleted_by
            and move.from_connection_id != move.to_connection_id
        ):
            buttons.append(button("Delete old client", ids.DELETE_OLD_CLIENT, value=str(move.id)))
        if buttons:
            body.append(ActionsBlock(block_id="move_done", elements=buttons))
    return body


def reminder_line(move: Move, *, number: int, expires: datetime) -> str:
    """The head of a reminder card: which reminder, and when the move expires."""
    return (
        f":bell: *Reminder {number}:* move #{move.id} of *{escape(move.organization)}* still "
        f"waits for a decision. Nobody deciding by {expires:%Y-%m-%d %H:%M} UTC expires it; "
        "nothing is moved then."
    )


def earlier_card(move: Move) -> tuple[str, list[dict[str, Any]]]:
    """A card a newer one (a reminder) replaced: no buttons, a pointer to the newer one."""
    text = f"Move #{move.id} of {escape(move.organization)}: see the newer message below."
    return text, [section(text).to_dict()]


def republish_view(move: Move, names: Sequence[str]) -> dict[str, Any]:
    """The separate confirmation: what re-publishing does to the modules' versions."""
    listed = ", ".join(code(n) for n in names[:20]) + (" and more" if len(names) > 20 else "")
    return modal(
        "Re-publish modules",
        [
            section(
                f"Re-publish {_plural(len(names), 'registry module')} of "
                f"*{escape(move.organization)}* from the new connection: {listed}.\n"
                "For each, the bot *deletes the module from the private registry, with all its "
                "versions*, then publishes it again from its repository with the new token. "
                "Versions come back only from the repository's tags: a version without a tag "
                "is gone, and configurations pinned to it fail until they use another. "
                "Download counts start again."
            )
        ],
        callback_id=ids.REPUBLISH_VIEW,
        submit="Re-publish",
        close="Cancel",
        metadata={"move": move.id},
    )
