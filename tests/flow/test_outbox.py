"""Nothing owed to Slack is lost: a kill between the commit and the Slack call, an outage,
and two replicas sending what is owed."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot import db
from bot.clock import SystemClock
from bot.connections.outbox import Outbox, Owed
from bot.connections.service import ConnectionService
from bot.slack.courier import Courier, Send
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, KEY, OWNER, SECRET, credentials_form, started
from tests.harness import BotProcess, RunningBot, eventually
from tests.seeds import new_connection

POST = r"/api/chat.postMessage"


def to_authorize(slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE) -> str:
    """A connection whose owner opened the Authorize link; returns its OAuth client id."""
    started(slack, fake_slack)
    slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
    slack.wait_for_view_text(OWNER, "OAuth client created")
    slack.click("Authorize", user=OWNER, found=slack.find_button("Authorize"))
    return fake_tfe.bitbucket_clients("acme-infra")[0].id


def notices(fake_slack: FakeSlack) -> list[Any]:
    """The channel's completion notices (the first channel message is the progress message,
    which says "connected" too once it is updated)."""
    return [m for m in fake_slack.channel_messages(CHANNEL)[1:] if "is connected" in m.text]


def test_a_bot_killed_before_telling_the_channel_tells_it_after_the_restart(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    first = BotProcess(env, log).wait_ready()
    slack = SlackDriver(fake_slack, first.url)
    client_id = to_authorize(slack, fake_slack, fake_tfe)
    posts = len(fake_slack.requests_to("POST", POST))
    # Slack hangs on the next message (the completion notice): the bot has committed
    # "connected" and is waiting on Slack when it dies.
    fake_slack.fail("POST", POST, delay=60, mode="drop")
    fake_tfe.authorize(client_id)
    eventually(lambda: len(fake_slack.requests_to("POST", POST)) > posts, timeout=20)
    first.kill()
    assert not notices(fake_slack)
    fake_slack.clear_faults()

    second = BotProcess(env, log).wait_ready()
    try:
        eventually(lambda: notices(fake_slack), timeout=30, message="the channel was never told")
        time.sleep(1)  # a few more sweeps: still one notice
        assert len(notices(fake_slack)) == 1
    finally:
        assert second.stop() == 0


def test_a_slack_outage_during_completion_only_delays_the_notice(
    env: dict[str, str], fake_slack: FakeSlack, fake_tfe: FakeTFE, log_lines: list[str]
) -> None:
    bot = RunningBot.from_env(env)
    try:
        slack = SlackDriver(fake_slack, bot.url)
        client_id = to_authorize(slack, fake_slack, fake_tfe)
        fake_slack.down_until = time.monotonic() + 6
        fake_tfe.authorize(client_id)
        eventually(lambda: bot.runtime.service.get(1).state == "connected", timeout=25)
        assert not notices(fake_slack)
        eventually(
            lambda: notices(fake_slack),
            timeout=90,
            message=lambda: (
                "no notice after the outage; still owed: "
                + repr(
                    [
                        (m.kind, m.attempts, m.due_at, m.lease_owner, m.last_error)
                        for m in bot.runtime.courier.outbox.owed()
                    ]
                )
                + f" at {bot.runtime.flow.clock.now()}"
            ),
        )
        assert time.monotonic() >= fake_slack.down_until
        assert len(notices(fake_slack)) == 1
        assert "Connected." in json.dumps(fake_slack.channel_messages(CHANNEL)[0].blocks)
        eventually(lambda: not bot.runtime.courier.outbox.owed(), timeout=30)  # all paid
    finally:
        bot.stop()


class CountingNotifier:
    """Stands in for Slack: counts what each connection was sent."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[int, str]] = Counter()
        self.lock = threading.Lock()

    def _count(self, connection_id: int, kind: str) -> None:
        time.sleep(0.005)  # a Slack call takes a moment: let the replicas overlap
        with self.lock:
            self.sent[(connection_id, kind)] += 1

    def sends(self) -> dict[Owed, Send]:
        return {
            Owed.PROGRESS: lambda connection, _: self._count(connection.id, "progress"),
            Owed.CONNECTED: lambda connection, _: self._count(connection.id, "connected"),
            Owed.HOME: lambda connection, _: None,  # no Home tabs here
        }


def test_two_replicas_send_each_owed_message_once(database_url: str) -> None:
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    clock = SystemClock()
    service = ConnectionService(sessions, clock)
    ids = []
    for i in range(20):
        connection = service.start(new_connection(f"r{i}", f"org-{i}"))
        ids.append(connection.id)
    with sessions.begin() as session:  # everything owed is due now, as after a crash
        from sqlalchemy import update

        from bot.connections.model import OwedMessage
        from bot.connections.outbox import owe

        for connection_id in ids:
            owe(session, connection_id, [Owed.CONNECTED], clock.now())
        session.execute(update(OwedMessage).values(due_at=clock.now()))
    notifier = CountingNotifier()
    couriers = [
        Courier(Outbox(sessions, clock), service, f"replica-{n}", notifier.sends())
        for n in range(2)
    ]
    barrier = threading.Barrier(2)

    def sweep(courier: Courier) -> None:
        barrier.wait()
        while courier.deliver_due(limit=5):
            pass

    threads = [threading.Thread(target=sweep, args=(c,)) for c in couriers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(notifier.sent.values()) == {1}
    assert len(notifier.sent) == 2 * len(ids)  # a progress message and a notice each
    assert not couriers[0].outbox.owed()
    engine.dispose()


def test_one_hung_terraform_call_delays_only_its_own_connection(
    slack: SlackDriver, fake_slack: FakeSlack, fake_tfe: FakeTFE, bot: RunningBot
) -> None:
    fake_tfe.add_organization("acme-two")
    clients = {}
    for org in ("acme-infra", "acme-two"):
        started(slack, fake_slack, org)
        slack.submit(credentials_form(slack), {"Key": KEY, "Secret": SECRET})
        slack.wait_for_view_text(OWNER, "OAuth client created")
        dm = eventually(
            lambda org=org: [
                m
                for m in fake_slack.channel_messages("D" + OWNER)
                if f"Authorize Terraform for {org}" in m.text
            ]
        )[0]
        block = next(b for b in dm.blocks if b["type"] == "actions")
        slack.click("", user=OWNER, found=(dm, block, block["elements"][0]))
        clients[org] = eventually(lambda org=org: fake_tfe.bitbucket_clients(org))[0].id
    hung = clients["acme-infra"]
    # It hangs past the bot's 10-second read timeout: a sweep that waited for it would hold
    # the other connection back at least that long.
    fake_tfe.fail("GET", rf"/api/v2/oauth-clients/{hung}/oauth-tokens", delay=30, times=20)
    time.sleep(0.5)  # the hung check is under way
    fake_tfe.authorize(clients["acme-two"])
    started_at = time.monotonic()
    eventually(
        lambda: [
            m
            for m in fake_slack.channel_messages(CHANNEL)
            if "connected to acme-two" in m.text
            and m.blocks
            and "OAuth client" in json.dumps(m.blocks)
            and "Connected." not in json.dumps(m.blocks)
        ],
        timeout=9,
        message="the other connection waited behind the hung call",
    )
    assert time.monotonic() - started_at < 9
    fake_tfe.clear_faults()


def test_home_tabs_are_claimed_only_by_their_own_lane(database_url: str) -> None:
    # What nobody waits on never shares a thread with a notice: the outbox lane and
    # the listener's delivery take everything but Home tabs, the quiet lane only those.
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    clock = SystemClock()
    service = ConnectionService(sessions, clock)
    connection = service.start(new_connection("quiet", "org-quiet"))
    from sqlalchemy import update

    from bot.connections.model import OwedMessage
    from bot.connections.outbox import owe

    with sessions.begin() as session:
        owe(session, connection.id, [Owed.HOME, Owed.CONNECTED], clock.now())
        session.execute(update(OwedMessage).values(due_at=clock.now()))
    courier = Courier(Outbox(sessions, clock), service, "replica", {})
    loud = [d.kind for group in courier.claim_due_groups() for d in group]
    quiet = [d.kind for group in courier.claim_due_groups(quiet=True) for d in group]
    assert Owed.CONNECTED in loud and Owed.HOME not in loud
    assert quiet and set(quiet) == {Owed.HOME}
    engine.dispose()


class Refused(Exception):
    """What the stand-in for Slack raises; the database below refuses to record it."""


def test_a_failure_that_cannot_be_recorded_is_given_back_not_held(database_url: str) -> None:
    # The database refuses to record this failure (a trigger, as a deadlock or a dropped
    # connection would at that step): the message must not stay claimed by this live
    # worker, whose heartbeat would keep it until a restart, unsent.
    from sqlalchemy import text

    db.migrate(database_url)
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as ddl:
        if postgresql:
            ddl.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                )
            )
            ddl.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON outbox FOR EACH ROW "
                    "WHEN (NEW.last_error = 'Refused') EXECUTE FUNCTION refuse()"
                )
            )
        else:
            ddl.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON outbox "
                    "WHEN NEW.last_error = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    clock = SystemClock()
    service = ConnectionService(sessions, clock)
    connection = service.start(new_connection("r", "acme"))
    outbox = Outbox(sessions, clock)

    def refuse(_connection: Any, _detail: str) -> None:
        raise Refused

    courier = Courier(outbox, service, "a", {Owed.PROGRESS: refuse, Owed.HOME: lambda _c, _d: None})
    with sessions.begin() as session:
        from sqlalchemy import update

        from bot.connections.model import OwedMessage

        session.execute(update(OwedMessage).values(due_at=clock.now()))
    try:
        courier.deliver(connection.id)  # never raises
        held = [m for m in outbox.owed(connection.id) if m.lease_owner is not None]
        assert not held, [(m.kind, m.lease_owner) for m in held]
        assert [m.kind for m in outbox.owed(connection.id)].count(Owed.PROGRESS) == 1  # kept
    finally:
        with engine.begin() as ddl:
            ddl.execute(text("DROP TRIGGER refuse" + (" ON outbox" if postgresql else "")))
            if postgresql:
                ddl.execute(text("DROP FUNCTION refuse()"))
        engine.dispose()
