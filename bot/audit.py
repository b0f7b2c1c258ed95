"""`python -m bot audit`: the audit trail as JSON lines or CSV, for compliance tooling.

One event a line or row: time (UTC, ISO 8601), connection, organization, actor, from state,
to state, kind, detail. Secrets never enter the trail, so none can leave through it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from bot.connections.model import ConnectionEvent

FIELDS = ("time", "connection", "organization", "actor", "from_state", "to_state", "kind", "detail")


def kind_of(event: ConnectionEvent) -> str:
    """What sort of event: a state change, or a note on an unchanged state."""
    if event.from_state is None:
        return "created"
    if event.from_state != event.to_state:
        return "state_change"
    note = event.note or ""
    if note.startswith("refused"):
        return "refused"
    if note.startswith("reminded"):
        return "reminder"
    return "note"


def rows(events: Iterable[tuple[ConnectionEvent, str]]) -> Iterable[dict[str, object]]:
    for event, organization in events:
        yield {
            "time": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "connection": event.connection_id,
            "organization": organization,
            "actor": event.actor,
            "from_state": event.from_state.value if event.from_state else "",
            "to_state": event.to_state.value,
            "kind": kind_of(event),
            "detail": event.note or "",
        }


def write(events: Iterable[tuple[ConnectionEvent, str]], out: TextIO, fmt: str) -> int:
    """Write the events in `fmt` (jsonl or csv); returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows(events):
            writer.writerow(row)
            count += 1
        return count
    for row in rows(events):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def parse_since(text: str) -> datetime:
    """A date or date-time (ISO 8601); taken as UTC when it names no zone."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
