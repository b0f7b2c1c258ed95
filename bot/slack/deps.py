"""What the Slack listeners need, handed to each `register(app, deps)`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.connections.service import ConnectionService
from bot.flows.connect import ConnectFlow
from bot.flows.stalled import StallFlow
from bot.slack.audience import Audience
from bot.slack.deliveries import Deliveries
from bot.slack.notify import Notifier
from bot.work import BackgroundWork


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    service: ConnectionService
    deliveries: Deliveries
    flow: ConnectFlow
    stall: StallFlow
    notifier: Notifier
    work: BackgroundWork
    allowed: Audience  # ALLOWED_USERS: who may start a connection
    approvers: Audience  # APPROVERS
