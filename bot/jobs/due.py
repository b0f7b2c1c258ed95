"""Due work: connections whose next_due_at has come, claimed in lanes, and what each needs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.clients.http import RateLimiter
from bot.clients.tfe import TFEError
from bot.clock import Clock
from bot.connect.flow import ConnectFlow
from bot.connections.leases import LEASE_SECONDS, heartbeat
from bot.connections.model import Connection
from bot.connections.notices import OWNER_LEFT, Notices
from bot.connections.outbox import GRACE_SECONDS, Debt
from bot.connections.service import ConnectionService
from bot.connections.states import SETTLED, State, is_open
from bot.connections.wakeups import take_due_now
from bot.data_center.flow import DataCenterFlow
from bot.jobs.lanes import LONGEST_IDLE, Lane
from bot.jobs.queue import BULK, PEOPLE, DueQueue, gone_on_this_host, worker_name
from bot.metrics import Metrics
from bot.move.flow import MoveLane
from bot.move.reminders import MoveReminders
from bot.remind.due import CARDS_FIRST_RETRY, RETRY_AFTER_FAILURE, Reminders
from bot.remind.flow import StallFlow
from bot.repair.flow import RepairWatch
from bot.rotate.due import RotationDue
from bot.slack.audience import Audience
from bot.slack.client import in_background
from bot.slack.courier import Courier
from bot.slack.notify import Notifier
from bot.watch import messages as watch_messages
from bot.watch.flow import HealthWatch

log = logging.getLogger(__name__)

# The share of the Terraform rate bulk work may take; the rest is kept for people's work.
BULK_SHARE = 0.85
# Threads per lane. People's work is a handful at a time; bulk work is paced by its share
# of the rate, and enough threads keep that share busy while each call waits on Terraform.
BULK_THREADS = 16
PEOPLE_THREADS = 8
OUTBOX_THREADS = 4
# How often the quiet outbox looks for Home tabs owed when it found none.
QUIET_IDLE = 1.0
MOVE_THREADS = 8
MOVES = "moves"


class DueWork:
    """Due work in five lanes, each claiming as its threads free up: people's (token
    checks, reminders, approvals, expiries, re-authorizations), bulk (health checks, paced
    to its share of the Terraform rate), the outbox (messages owed to Slack), the quiet
    outbox (Home tabs, which nobody waits on) and moves (relinking items, sharing bulk's
    pace)."""

    def __init__(
        self,
        service: ConnectionService,
        queue: DueQueue,
        notices: Notices,
        flow: ConnectFlow,
        stall: StallFlow,
        notifier: Notifier,
        courier: Courier,
        clock: Clock,
        *,
        reminders: Reminders,
        authorize_hint: Callable[[Connection], None],
        approvers: Audience | None = None,
        worker: str | None = None,
        batch: int = 50,
        parallel: int = PEOPLE_THREADS,
        health: HealthWatch | None = None,
        repair: RepairWatch | None = None,
        rotation_due: RotationDue | None = None,
        moves: MoveLane | None = None,
        move_reminders: MoveReminders | None = None,
        health_every: float = 21600,
        tfe_rate: float = 25.0,
        bulk_pace: RateLimiter | None = None,
        idle: float = 1.0,
        metrics: Metrics | None = None,
        data_center: DataCenterFlow | None = None,
    ) -> None:
        self.metrics = metrics
        self.data_center = data_center
        self.service = service
        self.queue = queue
        self.notices = notices
        self.flow = flow
        self.stall = stall
        self.notifier = notifier
        self.courier = courier
        self.clock = clock
        self.approvers = approvers
        self.reminders = reminders
        self.authorize_hint = authorize_hint  # the first connection's "why no token yet"
        self.worker = worker or worker_name()
        self.batch = batch
        self.parallel = parallel
        self.health = health
        self.repair = repair
        self.rotation_due = rotation_due
        self.moves = moves
        self.move_reminders = move_reminders
        self.health_every = health_every
        # Bulk work's share of the Terraform rate: shared by every replica's bulk lanes when
        # given one kept in the database, so two replicas' health rounds and moves together
        # still leave people's work its room.
        self.lanes = self._lanes(
            parallel, idle, bulk_pace or RateLimiter(tfe_rate * BULK_SHARE), courier
        )

    def _lanes(
        self, parallel: int, idle: float, bulk_pace: RateLimiter, courier: Courier
    ) -> dict[str, Lane[Any]]:
        # People's lane sleeps until its next connection is due (a token check's rhythm
        # after Authorize), looking at least every second. The others are woken by this
        # process's commits, and look for other replicas' work less often: bulk work at a
        # quarter of the health rhythm, the outbox at half its grace (the committing
        # process sends at once; the sweep is for retries).
        bulk_idle = max(idle, min(1.0, self.health_every / 4))
        outbox_idle = max(idle, min(1.0, GRACE_SECONDS / 2))
        # A health rhythm under 4 s would have the bulk lanes look several times a second:
        # they sleep until their next item is due instead. At a longer one, one look a
        # second costs less than two reads (the claim, then when the next is due).
        short_rhythm = bulk_idle < LONGEST_IDLE
        lanes: dict[str, Lane[Any]] = {
            PEOPLE: Lane(
                PEOPLE,
                self._claimer(PEOPLE),
                self._handle_claimed,
                threads=parallel,
                idle=idle,
                around=in_background,
                until_due=lambda: self.queue.due_in(PEOPLE),
            ),
            BULK: Lane(
                BULK,
                self._claimer(BULK),
                self._handle_claimed,
                threads=BULK_THREADS,
                idle=bulk_idle,
                pace=bulk_pace,
                around=in_background,
                until_due=(lambda: self.queue.due_in(BULK)) if short_rhythm else None,
            ),
            "outbox": Lane(
                "outbox",
                self._claim_owed,
                courier.send_group,
                threads=OUTBOX_THREADS,
                idle=outbox_idle,
                around=in_background,
                until_due=courier.due_in,
            ),
            # Home tabs: one thread at Slack's pace for views.publish, never in the way of a
            # notice or a next step.
            "outbox-quiet": Lane(
                "outbox-quiet",
                self._claim_quiet,
                courier.send_group,
                threads=1,
                idle=max(idle, QUIET_IDLE),  # a tab is read when opened: no need to hurry
                around=in_background,
                until_due=lambda: courier.due_in(quiet=True),
            ),
        }
        if self.moves is not None:
            # Moving workspaces is bulk work too: it shares the health rounds' pace, so both
            # together stay within their share of the Terraform rate.
            lanes[MOVES] = Lane(
                MOVES,
                self._claim_items,
                self._handle_item,
                threads=MOVE_THREADS,
                idle=bulk_idle,
                pace=bulk_pace,
                around=in_background,
                until_due=self.moves.store.items_due_in if short_rhythm else None,
            )
        return lanes

    def _claimer(self, lane: str) -> Callable[[int], list[tuple[int, datetime]]]:
        def claim(free: int) -> list[tuple[int, datetime]]:
            claimed_at = self.clock.now()
            ids = self.queue.claim_due(
                self.worker, limit=min(self.batch, free), lease_seconds=LEASE_SECONDS, lane=lane
            )
            return [(connection_id, claimed_at) for connection_id in ids]

        return claim

    def _handle_claimed(self, item: tuple[int, datetime]) -> None:
        self.handle(*item)

    def _claim_items(self, free: int) -> list[int]:
        assert self.moves is not None
        return self.moves.store.claim_items(self.worker, limit=free, lease_seconds=LEASE_SECONDS)

    def _handle_item(self, item_id: int) -> None:
        assert self.moves is not None
        self.moves.work.handle(item_id, self.worker)

    def _claim_owed(self, free: int) -> list[list[Debt]]:
        return self.courier.claim_due_groups(limit=free * 5)

    def _claim_quiet(self, free: int) -> list[list[Debt]]:
        return self.courier.claim_due_groups(limit=free * 5, quiet=True)

    def after_commit(self, session: Session) -> None:
        """A commit of this process made work due now: the lanes that do it look at once."""
        if take_due_now(session):
            for name in (PEOPLE, BULK, MOVES):
                if name in self.lanes:
                    self.lanes[name].wake()

    def release_dead_claims(self) -> None:
        """At start: free what crashed runs of the bot on this host still hold, so a
        restart carries on at once instead of waiting out their leases."""
        moves = self.moves.store if self.moves else None
        owners = sorted(
            set(self.queue.lease_owners())
            | set(self.courier.outbox.lease_owners())
            | set(self.service.create_claim_owners())
            | set(moves.lease_owners() if moves else ())
        )
        gone = gone_on_this_host(owners, self.worker)
        freed = self.queue.release_leases(gone) + self.courier.outbox.release_leases(gone)
        if moves is not None:
            freed += moves.release_leases(gone)
        for connection in self.service.release_create_claims(gone):
            freed += 1
            self._tell_create_interrupted(connection)
        if freed:
            log.info("freed claims of a previous run", extra={"worker": self.worker})

    def _tell_create_interrupted(self, connection: Connection) -> None:
        """The bot died while creating this connection's OAuth client: the owner's form
        stopped at "Checking…". Tell them it can be sent again; nothing is created twice."""
        log.info("freed a dead run's create claim", extra={"connection": connection.id})
        self.service.record(connection.id, "bot", "the bot restarted while creating the client")
        if connection.data_center:
            return  # the bot makes a Data Center client itself: the lane carries on with it
        try:
            self.notifier.tell_user(
                None,
                connection.owner_id,
                f"I restarted while creating the OAuth client for connection #{connection.id} "
                f"({connection.organization}). Press *Enter Key and Secret* in its progress "
                "message and submit the form again: if Terraform already made the client, I "
                "use that one, so nothing is created twice.",
            )
        except Exception:
            log.warning("could not tell the owner", extra={"connection": connection.id})

    def renew_leases(self) -> None:
        """The heartbeat: every claim this process holds (connections, owed messages, move
        items) lives LEASE_SECONDS more."""
        tables = [self.queue.leases, self.courier.outbox.leases]
        if self.moves is not None:
            tables.append(self.moves.store.leases)
        try:
            heartbeat(tables, self.worker, LEASE_SECONDS)
        except Exception:
            log.warning("could not renew claims", extra={"worker": self.worker})

    def start(self) -> None:
        """Start the lanes."""
        for lane in self.lanes.values():
            lane.start()

    def shutdown(self) -> None:
        """Take nothing more, let the work in hand finish, and free what this process still
        holds so another replica (or the next run) takes it at once."""
        for lane in self.lanes.values():
            lane.stop()
        try:
            self.queue.release_leases([self.worker])
            self.courier.outbox.release_leases([self.worker])
            if self.moves is not None:
                self.moves.store.release_leases([self.worker])
        except Exception:
            log.warning("could not free claims at shutdown", extra={"worker": self.worker})

    def handle(self, connection_id: int, claimed_at: datetime) -> None:
        """Do what is due for one claimed connection, then say when it is next due."""
        next_due: datetime | None = self.clock.now() + timedelta(seconds=RETRY_AFTER_FAILURE)
        if not self.queue.renew_lease(connection_id, self.worker, LEASE_SECONDS):
            return  # the claim ran out while earlier ones were handled; another has it
        try:
            next_due = self._handle(connection_id)
        except TFEError as error:
            log.warning(
                "Terraform failed during due work; will try again",
                extra={"connection": connection_id, "status": error.status},
            )
            # Never later than the health watch's own rhythm would look again.
            retry = min(RETRY_AFTER_FAILURE, self.health_every)
            next_due = self.clock.now() + timedelta(seconds=retry)
        except Exception:
            log.exception("due work failed", extra={"connection": connection_id})
        finally:
            self.queue.finish_due(
                connection_id, self.worker, next_due_at=next_due, claimed_at=claimed_at
            )

    def _handle(self, connection_id: int) -> datetime | None:
        connection = self.service.get(connection_id)
        if self.data_center is not None:
            # Data Center: the bot makes the client, and gives each new token its SSH key;
            # what that owes goes at once, as after a person's step.
            before = connection
            connection = self.data_center.due(connection)
            if connection is not before:
                self.courier.deliver(connection.id)
        if connection.repairing and self.repair is not None:
            return self._watch_repair(connection)
        if connection.state in SETTLED:
            return _earliest(self._watch_health(connection), self._watch_moves(connection))
        if not is_open(connection.state):
            return None
        connection = self._watch_token(connection)
        if connection.state in SETTLED:
            return self._next_health_check(connection)
        if not is_open(connection.state):
            return None
        due = self.stall.due(connection, night_until=self.reminders.night(connection))
        if due.expire:
            return self.reminders.expire(connection)
        if due.reminder_slot is not None and self.reminders.cards_owed(connection):
            # A reminder before the request itself would confuse the approver, and would
            # race the card for its place: remind once the cards are out.
            return self.clock.now() + timedelta(seconds=CARDS_FIRST_RETRY)
        if due.reminder_slot is not None:
            self.reminders.remind(
                connection, due.reminder_slot, number=due.reminder_number, escalate=due.escalate
            )
        return _earliest(due.next_due, self.flow.tokens.next_token_check(connection))

    def _watch_token(self, connection: Connection) -> Connection:
        if connection.state != State.AWAITING_AUTHORIZATION:
            return connection
        connection, changed = self.flow.tokens.check_token(connection.id)
        if changed:
            self.courier.deliver(connection.id)  # the progress message and the channel's notice
            if connection.state == State.CONNECTED:  # not when its client was found gone
                self.after_connected(connection)
        elif self.flow.tokens.needs_authorize_hint(connection) and (
            self.service.mark_authorize_hint_sent(connection.id)
        ):
            self.authorize_hint(connection)
        return connection

    def after_connected(self, connection: Connection) -> None:
        """A new connection is connected: the broken ones it replaces are closed, and the
        dry run of moving what used them is planned."""
        for replaced in self.flow.tokens.close_replaced(connection):
            self.courier.deliver(replaced)
            self._plan_move(replaced, connection)

    def _watch_repair(self, connection: Connection) -> datetime | None:
        """Someone was asked to re-authorize: look for the new token closely."""
        assert self.repair is not None
        connection, changed = self.repair.check(connection.id)
        if changed:
            self.courier.deliver(connection.id)
        if connection.repairing:
            return self.repair.next_check(connection)
        return self._next_health_check(connection)

    def _plan_move(self, old_id: int, new: Connection) -> None:
        """A new connection replaced an old one: the dry run of moving what used the old
        client's token (from the kept list), for an approver to start."""
        if self.moves is None:
            return
        if self.moves.sight.plan(self.service.get(old_id), new, asked_by=new.owner_id):
            self.courier.deliver(new.id)

    def _next_health_check(self, connection: Connection) -> datetime:
        return self.clock.now() + timedelta(seconds=self.health_every)

    def _watch_health(self, connection: Connection) -> datetime | None:
        """Every HEALTH_EVERY: TFE still holds the client and a token; a personal owner is
        still a member. Quiet when all is well."""
        if self.health is None:
            return None
        checked = connection.health_checked_at or connection.progressed_at
        if (self.clock.now() - checked).total_seconds() < self.health_every * 0.99:
            return checked + timedelta(seconds=self.health_every)  # checked lately
        try:
            connection, changed = self.health.check(connection.id)
        except TFEError:
            if self.metrics is not None:
                self.metrics.health_checks.labels("unreachable").inc()
            raise
        if self.metrics is not None:
            outcome = connection.health_outcome or (
                "broken" if connection.state == State.BROKEN else "exists"
            )
            self.metrics.health_checks.labels(str(outcome)).inc()
        if changed:
            self.courier.deliver(connection.id)
        if connection.rests_on_a_person:
            self._watch_owner(connection)
        if self.rotation_due is not None and connection.state == State.CONNECTED:
            self.rotation_due.check(connection)
        return self._next_health_check(connection)

    def _watch_moves(self, connection: Connection) -> datetime | None:
        """Moves to this connection that wait for a decision are reminded and expire."""
        if self.move_reminders is None:
            return None
        return self.move_reminders.due(connection.id)

    def _watch_owner(self, connection: Connection) -> None:
        """Once per connection: its personal-account owner left the workspace."""
        if not self.notifier.has_left(connection.owner_id):
            return
        slot = connection.created_at  # one notice per connection, ever
        channel = connection.announce_channel
        if not self.notices.claim(connection.id, OWNER_LEFT, slot, [channel]):
            return
        try:
            watch_messages.tell_owner_left(self.notifier, connection)
        except Exception:
            self.notices.release(connection.id, OWNER_LEFT, slot)
            raise
        self.service.record(connection.id, "bot", "told the channel: the owner has left")


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
