"""Block Kit for every message and modal the bot shows, built with slack_sdk's typed models."""

from bot.approve.blocks import (
    COMMENT_MAX,
    approval_card,
    approve_view,
    approver_reminder,
    decision_message,
    deny_view,
    earlier_card,
    sole_approver_note,
)
from bot.connect.blocks import (
    cancel_button,
    consumer_instructions,
    progress_message,
    step_blocks,
)
from bot.connect.message_blocks import (
    authorize_hint,
    authorize_message,
    connected_announcement,
    ended_message,
    escalation_message,
    reminder_message,
    wrong_account_message,
)
from bot.connect.modal_blocks import (
    ADD_ANOTHER_LABEL,
    busy_view,
    client_created_view,
    credentials_view,
    message_view,
    request_view,
    started_view,
)
from bot.slack.blocks.kit import RequestForm, context_block

__all__ = [
    "ADD_ANOTHER_LABEL",
    "COMMENT_MAX",
    "RequestForm",
    "approval_card",
    "approve_view",
    "approver_reminder",
    "authorize_hint",
    "authorize_message",
    "busy_view",
    "cancel_button",
    "client_created_view",
    "connected_announcement",
    "consumer_instructions",
    "context_block",
    "credentials_view",
    "decision_message",
    "deny_view",
    "earlier_card",
    "ended_message",
    "escalation_message",
    "message_view",
    "progress_message",
    "reminder_message",
    "request_view",
    "sole_approver_note",
    "started_view",
    "step_blocks",
    "wrong_account_message",
]
