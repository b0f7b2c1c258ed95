"""`python -m bot audit`: the audit trail as JSON lines or CSV, for compliance tooling.

One event a line or row: time (UTC, ISO 8601), connection, organization, actor, from state,
to state, kind, detail. Secrets never enter the trail, so none can leave through it.

A deny reason or a comment is typed by a person, and a spreadsheet opening the CSV would run
a cell starting with `=` as a formula (OWASP, "CSV injection"): in CSV such a cell gets a
leading `'`. JSON lines stay exact.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from bot.connections.queries import TrailRow

# Characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FIELDS = ("time", "connection", "organization", "actor", "from_state", "to_state", "kind", "detail")


def kind_of(event: TrailRow) -> str:
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


def rows(events: Iterable[TrailRow]) -> Iterable[dict[str, object]]:
    for event in events:
        yield {
            "time": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "connection": event.connection_id,
            "organization": event.organization,
            "actor": event.actor,
            "from_state": event.from_state.value if event.from_state else "",
            "to_state": event.to_state.value,
            "kind": kind_of(event),
            "detail": event.note or "",
        }


def write(events: Iterable[TrailRow], out: TextIO, fmt: str) -> int:
    """Write the events in `fmt` (jsonl or csv); returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows(events):
            writer.writerow({name: inert(value) for name, value in row.items()})
            count += 1
        return count
    for row in rows(events):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def inert(value: object) -> object:
    """A CSV cell a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def parse_since(text: str) -> datetime:
    """A date or date-time (ISO 8601); taken as UTC when it names no zone."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
