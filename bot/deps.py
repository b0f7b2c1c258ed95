"""What the Slack listeners need, handed to each through Bolt's context as `deps`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.config import Settings
from bot.connect.flow import ConnectFlow
from bot.connect.messages import ConnectMessages
from bot.connect.prefills import Prefills
from bot.connections.dependents import Dependents
from bot.connections.model import Connection
from bot.connections.pages import Pages
from bot.connections.queries import Queries
from bot.connections.service import ConnectionService
from bot.data_center.flow import DataCenterFlow
from bot.move.old_client import OldClientDeletion
from bot.move.store import Moves
from bot.remind.flow import StallFlow
from bot.repair.store import Repairs
from bot.rotate.flow import RotateFlow
from bot.rotate.store import Rotations
from bot.slack.access import Access
from bot.slack.courier import Courier
from bot.slack.deliveries import Deliveries
from bot.slack.directory import MemberDirectory
from bot.slack.notify import Notifier
from bot.status.home import Overview
from bot.work import BackgroundWork

# A feature's subcommand: (deps, client, the command's body, the word after it).
Subcommand = Callable[["SlackDeps", WebClient, dict[str, Any], str], None]


@dataclass(frozen=True)
class SlackDeps:
    settings: Settings
    service: ConnectionService
    pages: Pages  # the consumer's values and the addresses of this TFE and Bitbucket
    deliveries: Deliveries
    flow: ConnectFlow
    stall: StallFlow
    notifier: Notifier  # where messages go (DMs, ephemeral notes)
    connect_messages: ConnectMessages  # the progress message, Authorize link, step for Resume
    courier: Courier  # sends what state changes owe Slack
    work: BackgroundWork
    access: Access  # who may start, decide, cancel; which organizations
    overview: Overview  # status and App Home
    queries: Queries  # read-only lookups
    dependents: Dependents  # what uses each connection's token, as last counted
    prefills: Prefills  # what the connect form suggests
    directory: MemberDirectory  # who is a full member, kept current by Slack's events
    rotate: RotateFlow  # new consumer key and secret on an existing client
    rotations: Rotations  # a rotation's approval and stages
    repairs: Repairs  # re-authorizations in place
    moves: Moves  # what used an old client, relinked to a new one
    old_clients: OldClientDeletion  # Delete old client, after a move
    data_center: DataCenterFlow  # Bitbucket Data Center: its addresses, link and SSH key steps
    # What "connected" settles (the broken connections it replaces, their moves' dry runs),
    # for steps that connect from a listener (Data Center's last one).
    after_connected: Callable[[Connection], None]
    # `/connect-bitbucket <word> …` answered by a feature (rotate), after the ack.
    subcommands: Mapping[str, Subcommand] = field(default_factory=dict)


def provide(deps: SlackDeps) -> Callable[[BoltContext, Callable[[], None]], None]:
    """A global middleware that puts `deps` into every request's context; Bolt then passes
    them to listeners as `deps` (and `client` is the bot's own: bolt_app.SharedClientApp)."""

    def provide_deps(context: BoltContext, next: Callable[[], None]) -> None:
        context["deps"] = deps
        next()

    return provide_deps
