"""Cancelling a connection from Slack: who may, and what they are told."""

from __future__ import annotations

from bot.connections.model import Connection
from bot.connections.service import ConnectionNotFound
from bot.connections.states import State
from bot.deps import SlackDeps
from bot.problems import Problem


def may_cancel(deps: SlackDeps, connection: Connection, user: str) -> bool:
    """The owner may cancel; so may an approver (listed, or in a listed user group)."""
    if user == connection.owner_id:
        return True
    return deps.access.is_approver(user)


def cancel(deps: SlackDeps, connection: Connection, user: str, user_name: str) -> str:
    """Cancel with clean-up, update the progress message, and say what happened."""
    if not deps.access.may_see(user, connection.owner_id):
        return ConnectionNotFound(connection.id).message  # as if there were none
    if not may_cancel(deps, connection, user):
        return (
            f"Only <@{connection.owner_id}>, who owns connection #{connection.id}, or an "
            "approver can cancel it."
        )
    try:
        ended, cleanup = deps.stall.end(
            connection.id, State.CANCELLED, actor=user, reason=f"Cancelled by @{user_name}."
        )
    except Problem as problem:
        return problem.message + (" Try again in a minute." if problem.retryable else "")
    deps.courier.deliver(ended.id)  # the progress message, cards, and the owner if not them
    return f"Connection #{ended.id} for {ended.organization} is cancelled. {cleanup.summary}"
