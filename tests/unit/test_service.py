"""The domain service on a real database: starting, advancing, claims and leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from bot.clock import ManualClock
from bot.connections.model import AccountKind
from bot.connections.outbox import GRACE_SECONDS, Outbox, Owed
from bot.connections.schedule import token_check_interval
from bot.connections.service import (
    ConnectionService,
    DuplicateRequest,
    NewConnection,
    OrganizationBusy,
)
from bot.connections.states import InvalidTransition, State
from bot.jobs.queue import BULK, PEOPLE, DueQueue
from bot.slack.deliveries import Deliveries
from tests.seeds import new_connection as new


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    db.migrate(database_url)
    return db.make_sessionmaker(db.make_engine(database_url))


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: ManualClock) -> ConnectionService:
    return ConnectionService(sessions, clock)


@pytest.fixture
def queue(sessions: sessionmaker[Session], clock: ManualClock) -> DueQueue:
    return DueQueue(sessions, clock)


@pytest.fixture
def deliveries(sessions: sessionmaker[Session], clock: ManualClock) -> Deliveries:
    return Deliveries(sessions, clock)


def test_start_records_requested_then_waiting(service: ConnectionService) -> None:
    connection = service.start(new())
    assert connection.state == "awaiting_credentials"
    assert [(e.from_state, e.to_state, e.actor) for e in service.events(connection.id)] == [
        (None, "requested", "U1"),
        ("requested", "awaiting_credentials", "U1"),
    ]


def test_same_request_twice_is_one_connection(service: ConnectionService) -> None:
    first = service.start(new())
    with pytest.raises(DuplicateRequest) as raised:
        service.start(new())
    assert raised.value.existing_id == first.id


def test_one_unfinished_connection_per_organization(service: ConnectionService) -> None:
    first = service.start(new("view:a", "acme"))
    with pytest.raises(OrganizationBusy) as raised:
        service.start(new("view:b", "acme"))  # as if from another replica, the same instant
    assert raised.value.existing.id == first.id
    service.start(new("view:c", "other-org"))
    service.advance_to(first.id, State.CANCELLED, actor="U1")
    assert service.start(new("view:d", "acme")).state == "awaiting_credentials"


def test_transitions_outside_the_graph_are_refused_and_change_nothing(
    service: ConnectionService,
) -> None:
    connection = service.start(new())
    with pytest.raises(InvalidTransition):
        service.advance_to(connection.id, State.CONNECTED, actor="U1")
    with pytest.raises(InvalidTransition):
        service.advance_to(
            connection.id, State.AWAITING_AUTHORIZATION, actor="U1", expect=State.AWAITING_CALLBACK
        )
    assert service.get(connection.id).state == "awaiting_credentials"
    assert len(service.events(connection.id)) == 2


def test_ending_remembers_where_it_stopped(service: ConnectionService) -> None:
    connection = service.start(new())
    ended = service.advance_to(connection.id, State.CANCELLED, actor="U1")
    assert ended.last_open_state == "awaiting_credentials" and ended.next_due_at is None
    with pytest.raises(InvalidTransition):
        service.advance_to(connection.id, State.AWAITING_CALLBACK, actor="U1")


def test_client_creation_is_claimed_once(service: ConnectionService) -> None:
    connection = service.start(new())
    assert service.claim_client_creation(connection.id)
    assert not service.claim_client_creation(connection.id)
    service.release_client_creation(connection.id)
    assert service.claim_client_creation(connection.id)


def test_a_dead_bots_create_claim_is_freed(service: ConnectionService) -> None:
    connection = service.start(new())
    assert service.claim_client_creation(connection.id, "host:1:dead00")
    assert service.create_claim_owners() == ["host:1:dead00"]
    assert not service.claim_client_creation(connection.id, "host:2:alive0")
    freed = service.release_create_claims(["host:1:dead00"])
    assert [c.id for c in freed] == [connection.id]
    assert service.create_claim_owners() == []
    assert service.claim_client_creation(connection.id, "host:2:alive0")


def test_due_work_is_claimed_by_one_worker_until_its_lease_runs_out(
    service: ConnectionService, queue: DueQueue, clock: ManualClock
) -> None:
    ids = [service.start(new(f"view:{i}", f"org{i}")).id for i in range(3)]
    assert all(service.get(i).next_due_at == clock.now() for i in ids)  # new: due at once
    service.update(ids[2], next_due_at=clock.now() + timedelta(seconds=60))
    assert queue.claim_due("a", limit=10, lease_seconds=30) == ids[:2]
    assert queue.claim_due("b", limit=10, lease_seconds=30) == []
    queue.finish_due(ids[0], "a", next_due_at=None, claimed_at=clock.now())
    clock.advance(31)  # worker a died holding ids[1]
    assert queue.claim_due("b", limit=10, lease_seconds=30) == [ids[1]]
    # a's late finish does not undo b's claim
    queue.finish_due(ids[1], "a", next_due_at=None, claimed_at=clock.now())
    assert service.get(ids[1]).lease_owner == "b"


def test_a_change_during_a_claim_is_not_overwritten(
    service: ConnectionService, queue: DueQueue, clock: ManualClock
) -> None:
    connection = service.start(new())
    claimed_at = clock.now()
    assert queue.claim_due("a", limit=1, lease_seconds=30) == [connection.id]
    clock.advance(0.01)
    service.update(connection.id, status_note="changed while worker a decided")
    later = clock.now() + timedelta(seconds=60)
    queue.finish_due(connection.id, "a", next_due_at=later, claimed_at=claimed_at)
    assert service.get(connection.id).next_due_at == clock.now()  # looked at again at once
    claimed_at = clock.now()
    assert queue.claim_due("a", limit=1, lease_seconds=30) == [connection.id]
    queue.finish_due(connection.id, "a", next_due_at=later, claimed_at=claimed_at)
    assert service.get(connection.id).next_due_at == later


def view(view_id: str, hash_: str) -> dict[str, object]:
    return {"type": "view_submission", "view": {"id": view_id, "hash": hash_}}


def test_deliveries_are_recognised_once(deliveries: Deliveries) -> None:
    assert deliveries.first_time(view("V1", "h1"))
    assert not deliveries.first_time(view("V1", "h1"))
    assert deliveries.first_time(view("V1", "h2"))


def test_old_delivery_keys_are_forgotten_recent_ones_kept(
    deliveries: Deliveries, clock: ManualClock
) -> None:
    deliveries.first_time(view("old", "h"))
    clock.advance(2 * 86400)
    deliveries.first_time(view("new", "h"))
    assert deliveries.forget(timedelta(days=1)) == 1
    assert deliveries.first_time(view("old", "h"))  # forgotten: seen as new again
    assert not deliveries.first_time(view("new", "h"))  # still remembered


def test_token_checks_start_at_poll_every_and_slow_to_a_minute() -> None:
    clicked = datetime(2026, 1, 1, tzinfo=UTC)
    at = [
        token_check_interval(clicked, clicked + timedelta(seconds=s), 5) for s in (0, 60, 300, 3600)
    ]
    assert at[0] == 5 and at[0] < at[1] < at[2] <= at[3] == 60
    assert token_check_interval(None, clicked, 5) == 60  # not clicked yet: once a minute
    assert token_check_interval(clicked, clicked, 120) == 120  # never faster than asked


def test_claims_of_dead_runs_on_this_host_are_recognised() -> None:
    import os
    import socket
    import subprocess

    from bot.jobs.queue import gone_on_this_host

    host, me = socket.gethostname(), os.getpid()
    dead_pid = subprocess.Popen(["true"])  # a process that has exited
    dead_pid.wait()
    owners = [
        f"{host}:{me}:old111",  # an earlier run with this pid (a restarted container)
        f"{host}:{dead_pid.pid}:abc123",  # a process that is gone
        f"{host}:1:xyz789",  # running (pid 1 always is)
        f"other-host:{dead_pid.pid}:abc123",  # another host: its leases run out by themselves
        f"{host}:{me}:mine00",  # this very worker
    ]
    assert gone_on_this_host(owners, f"{host}:{me}:mine00") == owners[:2]


def test_a_lease_is_renewed_only_by_its_holder(
    service: ConnectionService, queue: DueQueue, clock: ManualClock
) -> None:
    connection = service.start(new())
    assert queue.claim_due("a", limit=1, lease_seconds=30) == [connection.id]
    clock.advance(20)
    assert queue.renew_lease(connection.id, "a", 30)
    assert not queue.renew_lease(connection.id, "b", 30)
    clock.advance(25)  # 45 s after the claim, still held thanks to the renewal
    assert queue.claim_due("b", limit=1, lease_seconds=30) == []
    assert queue.release_leases(["a"]) == 1
    assert queue.claim_due("b", limit=1, lease_seconds=30) == [connection.id]


def test_a_heal_found_while_a_repair_is_asked_is_left_to_the_repair(
    service: ConnectionService,
) -> None:
    """The health watch may find the new token first; the repair watch then finishes the
    repair (one "repaired", not also a "works again")."""
    from bot.connections.upkeep import RepairReason
    from bot.repair.store import Repairs

    repairs = Repairs(service._sessions, service._clock)
    made = service.start(
        NewConnection(
            request_ref="heal:1",
            team_id="T",
            channel_id="C",
            owner_id="U1",
            organization="acme-heal",
            account_kind=AccountKind.SERVICE_ACCOUNT,
            bitbucket_username="svc",
        )
    )
    service.advance_to(made.id, State.AWAITING_AUTHORIZATION, actor="t")
    service.advance_to(
        made.id, State.CONNECTED, actor="t", oauth_client_id="oc-1", oauth_token_id="ot-1"
    )
    service.advance_to(made.id, State.BROKEN, actor="t")
    repairs.start_repair(made.id, by="U1", actor="U1", reason=RepairReason.TOKEN_LOST)
    with pytest.raises(InvalidTransition):
        service.advance_to(
            made.id, State.CONNECTED, actor="bot", expect=State.BROKEN, unless_repairing=True
        )
    connection = service.get(made.id)
    assert connection.state == State.BROKEN and connection.repairing
    started = connection.repair_started_at
    assert started is not None
    repaired, changed = repairs.finish_repair(
        made.id, started_at=started, token_id="ot-2", token_created=None, authorized_as="svc"
    )
    assert changed and repaired.state == State.CONNECTED and not repaired.repairing


def test_when_the_next_free_connection_and_owed_message_are_due(
    service: ConnectionService, queue: DueQueue, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    """What an idle lane sleeps on: the first free row's due time, of its own lane or kinds."""
    outbox = Outbox(sessions, clock)
    assert queue.due_in(PEOPLE) is None and outbox.due_in() is None  # nothing scheduled
    service.start(new())  # due now; its progress message and Home tab owed after the grace
    assert queue.due_in(PEOPLE) == 0 and queue.due_in(BULK) is None
    assert outbox.due_in() == GRACE_SECONDS
    clock.advance(0.5)
    assert outbox.due_in(kinds=[Owed.HOME]) == outbox.due_in(besides=[Owed.HOME]) == 0.5

    assert queue.claim_due("a", limit=1, lease_seconds=30, lane=PEOPLE)
    assert queue.due_in(PEOPLE) is None  # held: its holder says when it is next due
    clock.advance(31)  # the holder died: its lease ran out, and the row is due again
    assert (queue.due_in(PEOPLE) or 0) < 0

    assert [d.kind for d in outbox.claim_due("a", limit=5, lease_seconds=30, besides=[Owed.HOME])]
    assert outbox.due_in(besides=[Owed.HOME]) is None  # the progress message is held
    assert (outbox.due_in(kinds=[Owed.HOME]) or 0) < 0  # the Home tab is not


def test_one_heartbeat_keeps_every_claim_of_its_worker_in_every_table(
    service: ConnectionService, queue: DueQueue, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    from bot.connections.leases import heartbeat

    outbox = Outbox(sessions, clock)
    mine, theirs = service.start(new("view:1", "acme")), service.start(new("view:2", "other"))
    clock.advance(GRACE_SECONDS)
    assert queue.claim_due("a", limit=1, lease_seconds=30) == [mine.id]
    assert queue.claim_due("b", limit=1, lease_seconds=30) == [theirs.id]
    held = outbox.claim_due("a", limit=1, lease_seconds=30)
    assert held
    clock.advance(20)
    heartbeat([queue.leases, outbox.leases], "a", 30)
    clock.advance(25)  # 45 s after the claims: a's renewed ones hold, b's ran out
    assert queue.claim_due("c", limit=5, lease_seconds=30) == [theirs.id]
    assert held[0].id not in [d.id for d in outbox.claim_due("c", limit=50, lease_seconds=30)]
    clock.advance(20)  # and a's run out too without another beat
    assert queue.claim_due("d", limit=5, lease_seconds=30) == [mine.id]


def test_kept_claim_statements_take_each_call_s_own_limit_time_and_lane(
    service: ConnectionService, queue: DueQueue, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    # The claims are built once and kept: nothing of one call (its limit, its time, its
    # lane, the outbox's kinds) may stick to the next.
    outbox = Outbox(sessions, clock)
    ids = [service.start(new(f"view:{n}", f"org-{n}")).id for n in range(4)]
    assert queue.claim_due("a", limit=1, lease_seconds=30, lane=PEOPLE) == ids[:1]
    assert queue.claim_due("a", limit=5, lease_seconds=30, lane=BULK) == []
    assert queue.claim_due("a", limit=2, lease_seconds=30, lane=PEOPLE) == ids[1:3]
    assert queue.claim_due("b", limit=5, lease_seconds=30, lane=PEOPLE) == ids[3:]
    assert queue.due_in(PEOPLE) is None and queue.due_in(BULK) is None  # all held
    clock.advance(31)  # every lease ran out: the kept claim compares with this time
    assert (queue.due_in(PEOPLE) or 0) < 0
    assert queue.claim_due("c", limit=5, lease_seconds=30, lane=PEOPLE) == ids
    homes = outbox.claim_due("a", limit=50, lease_seconds=30, kinds=[Owed.HOME])
    others = outbox.claim_due("a", limit=50, lease_seconds=30, besides=[Owed.HOME])
    assert {d.kind for d in homes} <= {Owed.HOME} and Owed.HOME not in {d.kind for d in others}
    assert others and len(outbox.claim_due("b", limit=1, lease_seconds=30)) <= 1


def test_a_failed_send_is_given_back_while_a_store_transaction_holds_its_connection(
    service: ConnectionService, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    """Giving back a failed message writes each of its rows once. On PostgreSQL a second
    write in one transaction checks the row's foreign key again, under a share lock on its
    connection; with a store transaction holding that connection (as every state change
    does) and owing a message, the two deadlocked, and the message stayed claimed."""
    import threading

    from sqlalchemy import select

    from bot.connections.model import Connection

    outbox = Outbox(sessions, clock)
    connection = service.start(new())
    clock.advance(GRACE_SECONDS)
    held = outbox.claim_due("a", limit=5, lease_seconds=30)
    assert held
    done = threading.Event()
    with sessions.begin() as store:  # as Store._locked: the connection's row held
        query = select(Connection).where(Connection.id == connection.id)
        postgresql = store.get_bind().dialect.name == "postgresql"
        store.scalars(query.with_for_update() if postgresql else query).one()
        if postgresql:  # on SQLite one writer at a time: nothing to hold across threads
            worker = threading.Thread(
                target=lambda: (
                    outbox.failed([d.id for d in held], "timeout", counted=held[0].id),
                    done.set(),
                )
            )
            worker.start()
            assert done.wait(5), "giving back waited on the store's lock of the connection"
            worker.join()
    if not postgresql:
        outbox.failed([d.id for d in held], "timeout", counted=held[0].id)
    rows = {m.id: m for m in outbox.owed(connection.id)}
    assert rows[held[0].id].attempts == 1 and rows[held[0].id].last_error == "timeout"
    assert all(rows[d.id].lease_owner is None for d in held)
    clock.advance(60)
    assert {d.id for d in outbox.claim_due("b", limit=5, lease_seconds=30)} >= {d.id for d in held}
