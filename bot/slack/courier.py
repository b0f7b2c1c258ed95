"""Sends what the outbox says is owed to Slack: right after the commit, and from the sweep.

Each message is rendered from the connection as it is when sent. Repeated progress and
card updates for one connection go out once. A failure gives the rest back to the outbox
with a backoff; nothing is ever dropped, and a message Slack keeps refusing is logged and
marked in the connection's audit trail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from slack_sdk.errors import SlackApiError

from bot.connections.leases import LEASE_SECONDS
from bot.connections.model import Connection
from bot.connections.outbox import Debt, Outbox, Owed
from bot.connections.service import ConnectionService
from bot.metrics import Metrics
from bot.redaction import REDACTOR
from bot.slack.client import LONGEST_TURN, SHORT_TURN, in_background, refusable

log = logging.getLogger(__name__)

# How a feature sends what it owes: the connection as it is now, and the debt's detail.
Send = Callable[[Connection, str], None]

# After this many failed tries of one message, say so in the log and the audit trail.
TELL_AFTER = 5
# Updates that say the same thing however often they are sent.
_ONCE_PER_ROUND = frozenset({Owed.PROGRESS, Owed.CARDS, Owed.HOME, Owed.MOVE})
# What nobody waits on (a Home tab is read when someone opens it): sent by a lane of its own.
NOBODY_WAITS = frozenset({Owed.HOME})


class Courier:
    def __init__(
        self,
        outbox: Outbox,
        service: ConnectionService,
        worker: str,
        features: Mapping[Owed, Send],
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        # How each kind of owed message is sent, from the features' sends() (the progress
        # message, a repair's steps, a move's report...), wired in app.py, so this kit
        # knows no feature.
        self.features = dict(features)
        self.outbox = outbox
        self.service = service
        self.worker = worker

    def deliver(self, connection_id: int) -> None:
        """Send what one connection owes now (called right after the commit that owed it).

        Never raises: what fails stays owed, and the sweep tries again.
        """
        try:
            debts = self.outbox.claim_for(
                connection_id, self.worker, lease_seconds=LEASE_SECONDS, besides=NOBODY_WAITS
            )
            self._send(debts)
        except Exception:
            log.exception("sending owed messages failed", extra={"connection": connection_id})

    def claim_due_groups(self, limit: int = 50, *, quiet: bool = False) -> list[list[Debt]]:
        """What is still owed and due, by any process, claimed and grouped by connection
        (one group is sent in order by one thread). `quiet`: only what nobody waits on
        (Home tabs), which has a lane of its own, so no thread waiting on Slack's pace for
        a tab holds up a notice; otherwise everything else."""
        debts = self.outbox.claim_due(
            self.worker,
            limit=limit,
            lease_seconds=LEASE_SECONDS,
            kinds=NOBODY_WAITS if quiet else (),
            besides=() if quiet else NOBODY_WAITS,
        )
        by_connection: defaultdict[int, list[Debt]] = defaultdict(list)
        for debt in debts:
            by_connection[debt.connection_id].append(debt)
        return list(by_connection.values())

    def due_in(self, *, quiet: bool = False) -> float | None:
        """Seconds until the next owed message of the lane `claim_due_groups` serves is due."""
        return self.outbox.due_in(
            kinds=NOBODY_WAITS if quiet else (), besides=() if quiet else NOBODY_WAITS
        )

    def send_group(self, debts: Sequence[Debt]) -> None:
        """Send one connection's claimed debts in order; what fails stays owed."""
        self._send(debts)

    def deliver_due(self, limit: int = 50) -> int:
        """Send what is owed and due now, here (tests); returns how many were claimed."""
        groups = self.claim_due_groups(limit) + self.claim_due_groups(limit, quiet=True)
        for group in groups:
            self._send(group)
        return sum(len(group) for group in groups)

    def _send(self, debts: Sequence[Debt]) -> None:
        # Owed messages are nobody's answer: whichever thread sends them (a listener's right
        # after its commit, a lane's), a 429 reschedules them instead of holding the thread.
        with in_background():
            try:
                self._send_in_order(debts)
            except Exception:
                self._give_back(debts)
                raise

    def _give_back(self, debts: Sequence[Debt]) -> None:
        """What could be neither paid nor given back with its failure (the database failed
        that step) is given back now: held by this live worker, its heartbeat would keep the
        claim, and nothing would try the message again until a restart. (What was paid is
        gone, and giving it back does nothing.)"""
        try:
            self.outbox.failed([d.id for d in debts], "interrupted", counted=None)
        except Exception:
            # The database is failing: the heartbeat fails with it, so the claims run out
            # within a lease and are taken again.
            log.warning("could not give back owed messages", extra={"worker": self.worker})

    def _send_in_order(self, debts: Sequence[Debt]) -> None:
        sent: set[tuple[Owed, str | None]] = set()
        for index, debt in enumerate(debts):
            if debt.kind in _ONCE_PER_ROUND and (debt.kind, debt.detail) in sent:
                self.outbox.paid([debt.id])
                continue
            try:
                # Each message's turn is judged by its own total wait; what nobody waits on
                # has a thread of its own, which may wait its turn.
                with refusable(LONGEST_TURN if debt.kind in NOBODY_WAITS else SHORT_TURN):
                    self._one(debt)
            except Exception as error:
                self._failed(debts[index:], debt, error)
                return
            self.outbox.paid([debt.id])
            sent.add((debt.kind, debt.detail))
            if self.metrics is not None:
                self.metrics.owed_sent.labels(debt.kind.value).inc()

    def _one(self, debt: Debt) -> None:
        send = self.features.get(debt.kind)
        if send is None:
            # Wiring forgot a feature: say so, and keep it owed rather than drop it.
            raise LookupError(f"nothing sends {debt.kind.value}")
        send(self.service.get(debt.connection_id), debt.detail or "")

    def _failed(self, left: Sequence[Debt], failed: Debt, error: Exception) -> None:
        said = _describe(error)
        if self.metrics is not None:
            # Slack's error codes are a short list; anything else is named by its class.
            self.metrics.owed_refused.labels(said[:40]).inc()
        attempts = self.outbox.failed(
            [d.id for d in left], said, counted=failed.id, not_before=_retry_after(error)
        )
        extra = {"connection": failed.connection_id, "error": said, "state": failed.kind.value}
        if attempts == TELL_AFTER:
            log.warning("Slack keeps refusing an owed message; still trying", extra=extra)
            self.service.record(
                failed.connection_id,
                "bot",
                f"Slack refused the {failed.kind.value} message {attempts} times ({said}); "
                "the bot keeps trying",
            )
        else:
            log.info("an owed message will be tried again", extra=extra)


def _retry_after(error: Exception) -> float | None:
    """Seconds Slack asked us to wait (a 429's Retry-After), if it said."""
    if not isinstance(error, SlackApiError):
        return None
    headers = getattr(error.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(text))
            except (TypeError, ValueError):
                return None
    return None


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "slack_error")
    return REDACTOR.scrub(type(error).__name__)
