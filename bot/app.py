"""Builds the bot: the Bolt app, its listeners, the clients and the scheduler. No logic."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.approve import listeners as approve
from bot.approve.messages import ApprovalMessages
from bot.approve.store import ApprovalCards
from bot.clients.bitbucket import BitbucketClient
from bot.clients.consumer_check import ConsumerChecker
from bot.clients.tfe import TFEClient
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.connect import buttons, command, submissions
from bot.connect.flow import ConnectFlow
from bot.connect.messages import ConnectMessages
from bot.connect.prefills import Prefills
from bot.connect.token_watch import FlowSettings
from bot.connections.dependents import Dependents
from bot.connections.member_changes import MemberChanges
from bot.connections.member_lists import MemberLists
from bot.connections.notices import Notices
from bot.connections.outbox import Outbox, Owed
from bot.connections.pages import Pages
from bot.connections.queries import Queries
from bot.connections.rate_buckets import RateBuckets
from bot.connections.schedule import StallPolicy
from bot.connections.service import ConnectionService
from bot.data_center import listeners as data_center_listeners
from bot.data_center.flow import DataCenterAddresses, DataCenterFlow
from bot.data_center.messages import DataCenterMessages
from bot.data_center.store import DataCenterStore
from bot.deps import SlackDeps, provide
from bot.gate import SlackGate
from bot.jobs.due import BULK_SHARE, DueWork
from bot.jobs.queue import DueQueue, worker_name
from bot.jobs.scheduler import start_scheduler, sweep_interval
from bot.metrics import Metrics
from bot.move import listeners as move
from bot.move.cards import MoveCards
from bot.move.flow import MoveLane, MoveWork, Relinks, project_scope
from bot.move.messages import MoveMessages
from bot.move.messages import sends as move_sends
from bot.move.old_client import OldClientDeletion
from bot.move.old_client_claims import OldClients
from bot.move.reminders import MoveReminders
from bot.move.sight import RepoSight
from bot.move.store import Moves
from bot.remind import messages as remind_messages
from bot.remind.due import Reminders
from bot.remind.flow import StallFlow
from bot.repair import listeners as repair
from bot.repair import messages as repair_messages
from bot.repair.flow import RepairWatch
from bot.repair.store import Repairs
from bot.rotate import listeners as rotate
from bot.rotate import messages as rotate_messages
from bot.rotate.due import RotationDue
from bot.rotate.flow import RotateFlow
from bot.rotate.store import Rotations
from bot.shared_rate import SharedRateLimiter
from bot.slack import events
from bot.slack.access import Access
from bot.slack.audience import Audience
from bot.slack.bolt_app import SharedClientApp
from bot.slack.client import SlackClient, slack_client
from bot.slack.courier import Courier, Send
from bot.slack.deliveries import Deliveries
from bot.slack.directory import MemberDirectory
from bot.slack.notify import Notifier
from bot.status import listeners as status
from bot.status.home import Overview
from bot.status.store import HomeTabs
from bot.watch import messages as watch_messages
from bot.watch.flow import HealthWatch
from bot.watch.store import TokenChecks
from bot.work import BackgroundWork

log = logging.getLogger(__name__)


@contextmanager
def _without_env(*names: str) -> Iterator[None]:
    # Bolt switches to multi-workspace OAuth when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are
    # in the environment; this bot is single-workspace, so it must not see them. It would
    # also warn that SLACK_BOT_TOKEN "will be unused" beside our client, which holds it.
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@dataclass
class Runtime:
    """Everything a running bot holds; `close()` stops it cleanly."""

    settings: Settings
    engine: Engine
    service: ConnectionService
    notices: Notices
    deliveries: Deliveries
    flow: ConnectFlow
    notifier: Notifier
    approvals: ApprovalMessages  # approvers' cards, where each is
    courier: Courier
    work: BackgroundWork
    app: App
    due: DueWork
    tfe: TFEClient
    bitbucket: BitbucketClient
    directory: MemberDirectory
    moves: Moves
    dependents: Dependents  # what uses each connection's token, as last counted
    overview: Overview  # status messages and Home views
    repairs: Repairs
    rotations: Rotations
    old_clients: OldClientDeletion
    sessions: sessionmaker[Session]  # whose commits wake the lanes
    metrics: Metrics | None = None  # kept when METRICS_PORT is set
    scheduler: BackgroundScheduler | None = field(default=None)
    _stop_metrics: Callable[[], None] | None = field(default=None)

    def start_jobs(self) -> None:
        """Start the lanes of due work and the scheduler (member list, housekeeping), and
        the metrics endpoint where METRICS_PORT is set."""
        if self.metrics is not None and self._stop_metrics is None:
            assert self.settings.metrics_port is not None
            self._stop_metrics = self.metrics.serve(self.settings.metrics_port)
        if self.scheduler is None:
            self.due.release_dead_claims()
            self.due.start()
            self.scheduler = start_scheduler(self.due, self.deliveries, self.directory)

    def wsgi(self) -> Any:
        """The WSGI application: Slack at POST /slack/events, a health check at GET /healthz."""
        # Every HTTP request passes the gate's signature check; without a signing secret
        # (Socket Mode) nothing can be verified, so nothing is let through.
        secret = self.settings.slack_signing_secret
        slack = SlackGate(
            SlackRequestHandler(self.app), secret.get_secret_value() if secret else None
        )

        def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                healthy = self.healthy()
                start_response(
                    "200 OK" if healthy else "503 Service Unavailable",
                    [("Content-Type", "text/plain")],
                )
                return [b"ok\n" if healthy else b"database unavailable\n"]
            if self.metrics is None or environ.get("REQUEST_METHOD") != "POST":
                return slack(environ, start_response)
            started = time.monotonic()
            answer = slack(environ, start_response)
            self.metrics.ack_seconds.observe(time.monotonic() - started)
            return answer

        return application

    def healthy(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def close(self) -> None:
        if self._stop_metrics is not None:
            self._stop_metrics()
            self._stop_metrics = None
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.due.shutdown()
        # SQLAlchemy keeps session listeners in a class-level registry: left there, this
        # bot would outlive its close (every test's bot did, and so did its engine).
        event.remove(self.sessions, "after_commit", self.due.after_commit)
        self.work.shutdown(wait=True)
        self.tfe.close()
        self.bitbucket.close()
        if isinstance(self.app.client, SlackClient):
            self.app.client.close()
        self.engine.dispose()


def _warn_about_access(settings: Settings) -> None:
    if not settings.allowed_users and not settings.approvers:
        log.warning(
            "ALLOWED_USERS and APPROVERS are both empty: anyone in the Slack workspace may add "
            "VCS connections with the bot's Terraform token"
        )
    if len(settings.approvers) == 1 and not settings.approvers[0].startswith("S"):
        log.warning(
            "APPROVERS has a single member: nobody can approve that person's own requests; "
            "add a second approver or a user group",
            extra={"user": settings.approvers[0]},
        )


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = True
) -> Runtime:
    """Wire the bot together (migrating the schema first unless told not to)."""
    clock = clock or SystemClock()
    worker = worker_name()  # names this running bot on its leases and claims
    engine = db.make_engine(settings.database_url)
    if migrate:
        try:
            db.migrate(settings.database_url, engine=engine)
        except BaseException:
            engine.dispose()
            raise
    sessions = db.make_sessionmaker(engine)
    service = ConnectionService(sessions, clock)
    notices = Notices(sessions, clock)
    deliveries = Deliveries(sessions, clock)
    metrics = Metrics() if settings.metrics_port else None
    if metrics is not None:
        metrics.watch(sessions, clock, settings.tfe_rate)
    tfe = TFEClient(
        settings.tfe_url,
        settings.tfe_token.get_secret_value(),
        # Every replica uses one token, so they share its rate through the database.
        limiter=SharedRateLimiter(engine, "tfe", settings.tfe_rate),
        observe=metrics.tfe_call if metrics else None,
    )
    bitbucket = BitbucketClient(settings.bitbucket_url, settings.bitbucket_api_url)
    pages = Pages(tfe_url=settings.tfe_url, bitbucket_url=settings.bitbucket_url)
    flow = ConnectFlow(
        service,
        tfe,
        ConsumerChecker(bitbucket),
        FlowSettings(
            bitbucket_url=settings.bitbucket_url,
            bitbucket_api_url=settings.bitbucket_api_url,
            token_poll_every=settings.token_poll_every,
        ),
        pages,
        clock,
        worker=worker,
    )
    data_center = DataCenterFlow(
        service,
        DataCenterStore(sessions, clock),
        tfe,
        DataCenterAddresses(settings.bitbucket_dc_url),
        worker=worker,
    )
    client = slack_client(settings)
    client.share_pace(RateBuckets(engine))  # Slack's limits are the app's, not a replica's
    if metrics is not None:
        client.observe = metrics.slack_call
    _warn_about_access(settings)
    approvers = Audience(client, settings.approvers)
    directory = MemberDirectory(
        client,
        MemberChanges(sessions, clock),
        clock,
        lists=MemberLists(sessions, clock),
        reader=worker,
    )
    access = Access(
        allowed=Audience(client, settings.allowed_users),
        approvers=approvers,
        organizations=settings.organizations,
        directory=directory,
    )
    notifier = Notifier(client, service, pages, approvers=approvers)
    data_center_messages = DataCenterMessages(notifier, pages)
    connect_messages = ConnectMessages(
        notifier,
        poll_every=settings.token_poll_every,
        data_center_steps=data_center_messages.step_blocks,
    )
    approval_messages = ApprovalMessages(notifier, ApprovalCards(sessions))
    work = BackgroundWork()
    # Bolt copies its base logger's level to every logger it makes, and at DEBUG/INFO it
    # logs request and response bodies; a modal submission's body holds the secret.
    bolt_logger = logging.getLogger("slack_bolt.connect-bitbucket")
    bolt_logger.setLevel(logging.WARNING)
    with _without_env("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN"):
        app = SharedClientApp(
            client=client,
            logger=bolt_logger,
            signing_secret=(
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else ""
            ),
            # HTTP requests reach Bolt only through SlackGate (Runtime.wsgi), which has
            # checked the signature on the raw body already; Socket Mode has none to check.
            request_verification_enabled=False,
            # Listeners ack at once and hand slow work to `work`, so running them inline
            # answers Slack fastest and never waits on Bolt's 5-thread pool.
            process_before_response=True,
            name="connect-bitbucket",
        )
    stall = StallFlow(
        service,
        notices,
        tfe,
        StallPolicy(
            stall_after=settings.stall_after,
            remind_every=settings.remind_every,
            escalate_after=settings.escalate_after,
            expire_after=settings.expire_after,
        ),
        clock,
    )
    queries = Queries(sessions)
    dependents = Dependents(sessions, clock)
    overview = Overview(
        client,
        queries,
        service,
        access,
        tfe,
        stall.policy,
        clock,
        dependents,
        HomeTabs(sessions, clock),
    )
    moves = Moves(sessions, clock)
    repairs = Repairs(sessions, clock)
    rotations = Rotations(sessions, clock, repairs)
    move_messages = MoveMessages(notifier, moves, service, MoveCards(sessions), access)
    sight = RepoSight(moves, tfe)
    relinks = Relinks(sight)
    senders: dict[Owed, Send] = {
        **connect_messages.sends(),
        **data_center_messages.sends(),
        **approval_messages.sends(),
        **remind_messages.sends(notifier),
        **overview.sends(),
        **repair_messages.sends(notifier),
        **rotate_messages.sends(notifier, rotations),
        **move_sends(move_messages),
        **watch_messages.sends(notifier),
    }
    if unsent := set(Owed) - set(senders):  # a kind nobody sends would stay owed forever
        raise RuntimeError(f"no sender for {sorted(unsent)}")
    courier = Courier(
        Outbox(sessions, clock, in_flight=settings.slack_timeout),
        service,
        worker,
        senders,
        metrics=metrics,
    )
    due = DueWork(
        service,
        DueQueue(sessions, clock),
        notices,
        flow,
        stall,
        notifier,
        courier,
        clock,
        reminders=Reminders(
            service,
            notices,
            stall,
            notifier,
            courier,
            clock,
            approvers,
            remind_approvers=approval_messages.remind_approvers,
        ),
        authorize_hint=lambda connection: (
            data_center_messages.send_authorize_hint(connection)
            if connection.data_center
            else connect_messages.send_authorize_hint(connection)
        ),
        approvers=approvers,
        worker=worker,
        health=HealthWatch(
            service,
            tfe,
            dependents,
            # What uses a connection changes slowly: counted every fourth check, at most daily.
            count_every=min(86400.0, 4 * settings.health_every),
            clock=clock,
            relinks=relinks,
            checks=TokenChecks(sessions, clock),
            health_every=settings.health_every,
        ),
        repair=RepairWatch(
            service,
            repairs,
            tfe,
            clock,
            poll_every=settings.token_poll_every,
            give_up_after=settings.expire_after,
            relinks=relinks,
        ),
        move_reminders=MoveReminders(moves, move_messages, notices, courier, stall.policy, clock),
        moves=MoveLane(
            store=moves,
            sight=sight,
            work=MoveWork(
                moves,
                tfe,
                owed=courier.deliver,
                progress=move_messages.progress,
                scopes=lambda connection_id: project_scope(service.get(connection_id)),
                counted=(
                    (lambda outcome: metrics.move_items.labels(outcome).inc()) if metrics else None
                ),
            ),
        ),
        rotation_due=(
            RotationDue(settings.rotate_every, notices, notifier, clock)
            if settings.rotate_every
            else None
        ),
        health_every=settings.health_every,
        tfe_rate=settings.tfe_rate,
        bulk_pace=SharedRateLimiter(engine, "tfe-bulk", settings.tfe_rate * BULK_SHARE),
        idle=sweep_interval(settings.token_poll_every),
        metrics=metrics,
        data_center=data_center,
    )
    # This process's commits that make work due now wake the lanes that do it.
    event.listen(sessions, "after_commit", due.after_commit)
    deps = SlackDeps(
        settings=settings,
        service=service,
        pages=pages,
        deliveries=deliveries,
        flow=flow,
        stall=stall,
        notifier=notifier,
        connect_messages=connect_messages,
        courier=courier,
        work=work,
        access=access,
        overview=overview,
        queries=queries,
        dependents=dependents,
        prefills=Prefills(queries.last_workspace),
        directory=directory,
        rotate=RotateFlow(rotations, tfe, ConsumerChecker(bitbucket), data_center),
        rotations=rotations,
        repairs=repairs,
        subcommands={"rotate": rotate.on_command},
        moves=moves,
        old_clients=OldClientDeletion(moves, OldClients(sessions, clock), service, tfe),
        data_center=data_center,
        after_connected=due.after_connected,
    )
    app.use(provide(deps))
    command.register(app)
    events.register(app)
    submissions.register(app)
    buttons.register(app)
    approve.register(app)
    repair.register(app)
    rotate.register(app)
    move.register(app)
    status.register(app)
    data_center_listeners.register(app)
    return Runtime(
        settings=settings,
        engine=engine,
        service=service,
        notices=notices,
        deliveries=deliveries,
        flow=flow,
        notifier=notifier,
        approvals=approval_messages,
        courier=courier,
        work=work,
        app=app,
        due=due,
        tfe=tfe,
        bitbucket=bitbucket,
        directory=directory,
        moves=moves,
        dependents=dependents,
        overview=overview,
        old_clients=deps.old_clients,
        repairs=repairs,
        rotations=rotations,
        sessions=sessions,
        metrics=metrics,
    )
