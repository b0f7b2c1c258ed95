"""Databases and fakes seeded with a state the flow would take long to reach: tests and
benchmarks start from it."""

from __future__ import annotations

from bot import db
from bot.clients.tfe_dependents import Dependent
from bot.clock import SystemClock
from bot.connections.dependents import Dependents
from bot.connections.model import AccountKind
from bot.connections.service import ConnectionService, NewConnection
from bot.connections.states import State
from bot.move.store import Moves
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import CHANNEL, OWNER


def new_connection(ref: str = "view:1", organization: str = "acme") -> NewConnection:
    """A service-account connection as the request form would start it."""
    return NewConnection(
        request_ref=ref,
        team_id="T",
        channel_id="C",
        owner_id="U1",
        organization=organization,
        account_kind=AccountKind.SERVICE_ACCOUNT,
        bitbucket_username="svc",
    )


def seeded_move(
    database_url: str,
    fake_tfe: FakeTFE,
    items: int,
    approver: str = "U9APPROVER",
    *,
    start: bool = True,
) -> tuple[int, str, list[str]]:
    """Connection #1 (broken, its client gone) replaced by #2; a move of `items` workspaces,
    started by `approver` (or, without `start`, waiting for a decision). Returns the move
    id, the new token and the workspaces' ids."""
    db.migrate(database_url)
    sessions = db.make_sessionmaker(db.make_engine(database_url))
    clock = SystemClock()
    service = ConnectionService(sessions, clock)
    fake_tfe.add_organization("acme-infra")
    new_client = fake_tfe.add_client_by_hand("acme-infra")
    new_token = fake_tfe.clients[new_client].tokens[0]["id"]
    made = []
    for n, (client, token) in enumerate((("oc-old", "ot-old"), (new_client, new_token))):
        connection = service.start(
            NewConnection(
                request_ref=f"seed:{n}",
                team_id="T",
                channel_id=CHANNEL,
                owner_id=OWNER,
                organization="acme-infra",
                account_kind=AccountKind.SERVICE_ACCOUNT,
                bitbucket_username="svc-terraform",
                bitbucket_workspace="acme-team",
            )
        )
        service.advance_to(connection.id, State.AWAITING_AUTHORIZATION, actor="test")
        made.append(
            service.advance_to(
                connection.id,
                State.CONNECTED,
                actor="test",
                oauth_client_id=client,
                oauth_token_id=token,
            )
        )
    service.advance_to(made[0].id, State.BROKEN, actor="test", client_gone=True)
    workspaces = [
        fake_tfe.link("acme-infra", "workspaces", f"ws-{n:02d}", None) for n in range(items)
    ]
    Dependents(sessions, clock).record(
        made[0].id,
        {
            "workspace": [
                Dependent(
                    "workspace", ws, f"ws-{n:02d}", f"acme-team/repo-{n:02d}", "main", "ot-old"
                )
                for n, ws in enumerate(workspaces)
            ]
        },
    )
    moves = Moves(sessions, clock)
    move = moves.plan(service.get(made[0].id), service.get(made[1].id), asked_by=OWNER)
    assert move is not None
    if start:
        moves.start(move.id, approver)
    return move.id, new_token, workspaces
