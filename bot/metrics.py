"""Prometheus metrics for whoever runs the bot, on a port of their own (METRICS_PORT), never
on the one Slack reaches.

Two kinds. Counted where they happen, per replica (sum them across replicas): Terraform and
Slack calls, the ack's latency, health checks, move items, owed messages sent and refused.
Read from the shared database at each scrape, so the same from every replica (aggregate
them with `max by`): connections by state, due work and its lateness per lane, messages
owed, the share of TFE_RATE spent in the last minute. No label names a person, an
organization, a token or a connection: every label's values are a short fixed list.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.connections.model import (
    BULK_PREDICATE,
    PEOPLE_PREDICATE,
    Connection,
    OwedMessage,
    RateWindow,
)

log = logging.getLogger(__name__)

PREFIX = "connect_bitbucket"
# Path segments of Terraform's API that are words, not ids or names; any other segment is
# shown as ":id", so a label never carries an organization, a token or a workspace.
_WORDS = frozenset(
    {
        "organizations",
        "oauth-clients",
        "oauth-tokens",
        "authorized-repos",
        "workspaces",
        "policy-sets",
        "registry-modules",
        "private",
        "projects",
        "vcs",
        "repo",
        "ping",
        "relationships",
    }
)
_SLACK_METHOD = re.compile(r"[a-zA-Z.]{1,64}")


def call_kind(method: str, path: str) -> str:
    """`GET /organizations/:id/oauth-clients` for `GET /organizations/acme/oauth-clients`."""
    parts = [p if p in _WORDS else ":id" for p in path.split("?")[0].strip("/").split("/") if p]
    return f"{method.upper()} /{'/'.join(parts)}"


def _app_version() -> str:
    try:
        return version("connect-bitbucket")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """Every metric the bot keeps, in a registry of its own (a process may run several bots,
    as the tests do)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tfe_calls = Counter(
            f"{PREFIX}_tfe_calls",
            "Terraform API calls, by kind and status.",
            ["kind", "status"],
            registry=r,
        )
        self.tfe_seconds = Histogram(
            f"{PREFIX}_tfe_call_seconds",
            "Terraform API call latency, retries included.",
            ["kind"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.slack_calls = Counter(
            f"{PREFIX}_slack_calls",
            "Slack Web API calls, by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            f"{PREFIX}_ack_seconds",
            "Time to answer a Slack request (the ack).",
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3),
        )
        self.health_checks = Counter(
            f"{PREFIX}_health_checks",
            "Health checks of connected connections, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.move_items = Counter(
            f"{PREFIX}_move_items", "Move items settled, by outcome.", ["outcome"], registry=r
        )
        self.owed_sent = Counter(
            f"{PREFIX}_outbox_sent", "Owed Slack messages sent, by kind.", ["kind"], registry=r
        )
        self.owed_refused = Counter(
            f"{PREFIX}_outbox_refused",
            "Owed Slack messages refused (tried again later), by reason.",
            ["reason"],
            registry=r,
        )
        Info(f"{PREFIX}_build", "The bot's version.", registry=r).info({"version": _app_version()})

    def tfe_call(self, method: str, path: str, status: str, seconds: float) -> None:
        kind = call_kind(method, path)
        self.tfe_calls.labels(kind, status).inc()
        self.tfe_seconds.labels(kind).observe(seconds)

    def slack_call(self, method: str, outcome: str) -> None:
        name = method if _SLACK_METHOD.fullmatch(method) else "other"
        self.slack_calls.labels(name, outcome).inc()

    def watch(self, sessions: sessionmaker[Session], clock: Clock, tfe_rate: float) -> None:
        """Read what every replica shares from the database at each scrape."""
        self.registry.register(SharedState(sessions, clock, tfe_rate))

    def serve(self, port: int, host: str = "0.0.0.0") -> Callable[[], None]:
        """Serve /metrics on its own port; returns how to stop it."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics served", extra={"port": port})

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop


class SharedState(Collector):
    """Gauges read from the database at scrape time: the same from every replica."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, tfe_rate: float) -> None:
        self._sessions = sessions
        self._clock = clock
        self._tfe_rate = tfe_rate
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Any]:
        try:
            with self._lock, self._sessions.begin() as session:
                yield from self._read(session, self._clock.now())
        except Exception:
            log.warning("could not read the shared state for metrics", exc_info=True)

    def _read(self, session: Session, now: datetime) -> Iterator[Any]:
        states = GaugeMetricFamily(
            f"{PREFIX}_connections", "Connections by state (shared: use max by).", labels=["state"]
        )
        for state, n in session.execute(
            select(Connection.state, func.count()).group_by(Connection.state)
        ):
            states.add_metric([str(state)], n)
        yield states
        due = GaugeMetricFamily(
            f"{PREFIX}_due_items",
            "Connections whose due work has come (shared).",
            labels=["lane"],
        )
        late = GaugeMetricFamily(
            f"{PREFIX}_due_oldest_seconds",
            "How late the oldest due item is (shared).",
            labels=["lane"],
        )
        for lane, predicate in (("people", PEOPLE_PREDICATE), ("bulk", BULK_PREDICATE)):
            count, oldest = session.execute(
                select(func.count(), func.min(Connection.next_due_at)).where(
                    Connection.next_due_at <= now, text(predicate)
                )
            ).one()
            due.add_metric([lane], count)
            late.add_metric([lane], _seconds_since(oldest, now))
        owed, oldest_owed = session.execute(
            select(func.count(), func.min(OwedMessage.due_at)).where(OwedMessage.due_at <= now)
        ).one()
        due.add_metric(["outbox"], owed)
        late.add_metric(["outbox"], _seconds_since(oldest_owed, now))
        yield due
        yield late
        total = session.scalar(select(func.count()).select_from(OwedMessage)) or 0
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_owed", "Slack messages owed, due or not (shared).", value=total
        )
        yield self._rate_share(session, now)

    def _rate_share(self, session: Session, now: datetime) -> GaugeMetricFamily:
        """TFE calls all replicas counted in the last minute, as a share of TFE_RATE."""
        windows = min(5, max(1, int(self._tfe_rate)))
        since = int((now - timedelta(seconds=60)).timestamp() * windows)
        used = session.scalar(
            select(func.coalesce(func.sum(RateWindow.used), 0)).where(
                RateWindow.name == "tfe", RateWindow.second >= since
            )
        )
        share = float(used or 0) / (self._tfe_rate * 60) if self._tfe_rate else 0.0
        return GaugeMetricFamily(
            f"{PREFIX}_tfe_rate_share",
            "Share of TFE_RATE all replicas spent in the last minute (shared).",
            value=share,
        )


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())
