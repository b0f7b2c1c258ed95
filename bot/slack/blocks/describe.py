"""How any feature's message describes a connection: its dates, approvers and decision,
whose account holds it, and what uses its token."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.connections.model import AccountKind, Connection
from bot.connections.states import State
from bot.slack.blocks.kit import COMMENT_MAX, section
from bot.slack.text import code, fit_escaped


def when(moment: datetime) -> str:
    """A date Slack shows in each reader's own time zone."""
    stamp = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mentions(approvers: tuple[str, ...]) -> str:
    """Approver user ids and user group ids as Slack mentions."""
    return ", ".join(f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in approvers)


def decision_line(connection: Connection) -> str:
    """What happened to the request, for cards, the progress message and the requester."""
    if connection.decided_by and connection.decided_at:
        verb = "Approved" if connection.state != State.DENIED else "Denied"
        line = f"*{verb}* by <@{connection.decided_by}> {when(connection.decided_at)}"
        if connection.decision_note:
            said = "Reason" if verb == "Denied" else "Comment"
            line += f"\n*{said}:* {fit_escaped(connection.decision_note, COMMENT_MAX + 100)}"
        return line
    return f"This request ended without a decision ({connection.state.words})."


def decision_section(connection: Connection) -> Block:
    return section(decision_line(connection))


def ownership(connection: Connection) -> str:
    """Whose Bitbucket account holds the connection, with the risk of a personal one said."""
    if connection.account_kind == AccountKind.SERVICE_ACCOUNT:
        name = f" {code(connection.bitbucket_username)}" if connection.bitbucket_username else ""
        return f"service account{name}"
    return (
        f":warning: <@{connection.owner_id}>'s own Bitbucket account: it stops working if "
        "they lose access"
    )


def linked(connection: Connection) -> str | None:
    """What uses the token, when something does (for "N workspaces stay linked")."""
    if not (connection.uses_workspaces or connection.uses_policy_sets or connection.uses_modules):
        return None
    return uses(connection)


def fit_escaped_lines(title: str, lines: list[str], tail: str) -> str:
    """A title and as many lines as fit in one section (3,000 characters)."""
    text = title
    shown = 0
    for line in lines:
        if len(text) + len(line) + len(tail) + 40 > 2900:
            break
        text += "\n" + line
        shown += 1
    if shown < len(lines) and not tail:
        tail = f"\n…and {len(lines) - shown} more."
    return text + tail


def _counted(number: int, one: str) -> str:
    return f"{number} {one}{'' if number == 1 else 's'}"


def uses(connection: Connection) -> str | None:
    """ "14 workspaces and 2 policy sets": what uses the connection's token, as last counted
    (kinds with none left out); None before the first count."""
    counts = [
        (connection.uses_workspaces, "workspace"),
        (connection.uses_policy_sets, "policy set"),
        (connection.uses_modules, "registry module"),
    ]
    if all(number is None for number, _ in counts):
        return None
    parts = [_counted(number, one) for number, one in counts if number]
    if not parts:
        return "no workspaces, policy sets or registry modules"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
