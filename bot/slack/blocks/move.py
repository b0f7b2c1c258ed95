"""A move's one message: the dry run with Move workspaces, then a progress bar, then the
report naming every failure, with Delete old client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.connections.move_tables import Move, MoveItem, MoveState
from bot.connections.moves import Tally
from bot.slack import ids
from bot.slack.blocks.kit import button, context_block, modal, section
from bot.slack.blocks.status import fit_escaped_lines
from bot.slack.text import code, escape, fit_escaped

SHOWN = 20
BAR = 20


def _line(item: MoveItem, reason: bool = False) -> str:
    where = f" · {code(item.identifier)}" if item.identifier else ""
    where += f" @ {code(item.branch)}" if item.branch else ""
    why = f": {fit_escaped(item.reason or 'no reason given', 300)}" if reason else ""
    return f"• {item.kind} {code(item.name)}{where}{why}"


def bar(tally: Tally) -> str:
    settled = tally.done + tally.failed
    filled = round(BAR * settled / tally.total) if tally.total else BAR
    return "▓" * filled + "░" * (BAR - filled)


def republish_view(move: Move, names: Sequence[str]) -> dict[str, Any]:
    """The separate confirmation: what re-publishing does to the modules' versions."""
    listed = ", ".join(code(n) for n in names[:20]) + (" and more" if len(names) > 20 else "")
    return modal(
        "Re-publish modules",
        [
            section(
                f"Re-publish {len(names)} registry module{'s' if len(names) != 1 else ''} of "
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


def move_message(
    move: Move,
    tally: Tally,
    *,
    items: Sequence[MoveItem],
    failures: Sequence[MoveItem],
) -> tuple[str, list[dict[str, Any]]]:
    org = escape(move.organization)
    head = (
        f"*Move what used connection #{move.from_connection_id}* (OAuth client "
        f"{code(move.from_client_id or 'gone')}) *to connection #{move.to_connection_id}* of "
        f"*{org}* (token {code(move.to_token_id)})"
        if move.from_connection_id != move.to_connection_id
        else f"*Relink what still named the old token of {org}'s connection "
        f"#{move.to_connection_id}* to its new token {code(move.to_token_id)} (re-authorized)"
    )
    modules = (
        f"\n{move.modules_left} registry module{'s' if move.modules_left != 1 else ''} also used "
        "the old client: a move does not relink modules (they are re-published from the new "
        "connection, which deletes and re-creates their versions), so they are left as they are."
        if move.modules_left
        else ""
    )
    body: list[Block] = []
    if move.state == MoveState.PLANNED:
        more = f"\n…and {tally.total - len(items)} more." if tally.total > len(items) else ""
        body.append(
            section(
                fit_escaped_lines(
                    f"{head}\n*Dry run:* {tally.total} would be pointed at the new token, keeping "
                    "their repository and branch. Nothing changes until an approver presses "
                    "*Move workspaces*." + modules,
                    [_line(item) for item in items],
                    more,
                )
            )
        )
        body.append(
            ActionsBlock(
                block_id="move",
                elements=[
                    button("Move workspaces", ids.MOVE_START, value=str(move.id), primary=True),
                    button("Cancel move", ids.MOVE_CANCEL, value=str(move.id)),
                ],
            )
        )
        return f"Move {tally.total} items of {org} to the new connection?", [
            b.to_dict() for b in body
        ]
    counts = f"{tally.done} of {tally.total} moved, {tally.failed} failed, {tally.pending} left"
    if move.state == MoveState.RUNNING:
        body.append(
            section(
                f"{head}\n`{bar(tally)}` {counts}. Approved by <@{move.approved_by}>; paced "
                "under Terraform's rate limit."
            )
        )
        body.append(
            ActionsBlock(
                block_id="move",
                elements=[button("Cancel move", ids.MOVE_CANCEL, value=str(move.id))],
            )
        )
        return f"Moving {org}: {counts}", [b.to_dict() for b in body]
    verb = "cancelled" if move.state == MoveState.CANCELLED else "done"
    lines = [_line(item, reason=True) for item in failures]
    more = f"\n…and {tally.failed - len(failures)} more." if tally.failed > len(failures) else ""
    body.append(
        section(
            fit_escaped_lines(
                f"{head}\n`{bar(tally)}` Move {verb}: {counts}."
                + (" Failed, and why:" if failures else "")
                + modules,
                lines,
                more,
            )
        )
    )
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
    elif move.modules_left and move.state == MoveState.DONE:
        body.append(
            ActionsBlock(
                block_id="move_modules",
                elements=[button("Re-publish modules", ids.REPUBLISH, value=str(move.id))],
            )
        )
    if move.old_client_deleted_by:
        body.append(
            context_block(
                f"<@{move.old_client_deleted_by}> deleted the old OAuth client "
                f"{code(move.from_client_id or '')}."
            )
        )
    elif (
        move.from_client_id
        and move.state == MoveState.DONE
        and move.from_connection_id != move.to_connection_id
    ):
        body.append(
            ActionsBlock(
                block_id="move_done",
                elements=[button("Delete old client", ids.DELETE_OLD_CLIENT, value=str(move.id))],
            )
        )
    return f"Move of {org} {verb}: {counts}", [b.to_dict() for b in body]
