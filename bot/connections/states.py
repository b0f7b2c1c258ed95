"""The connection state graph; every transition not listed is refused."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where a connection stands."""

    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DENIED = "denied"
    AWAITING_CREDENTIALS = "awaiting_credentials"
    AWAITING_CALLBACK = "awaiting_callback"
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    # Bitbucket Data Center only: an administrator creates the application link, and after
    # the token someone adds its SSH key to the service user.
    AWAITING_LINK = "awaiting_application_link"
    AWAITING_SSH_KEY = "awaiting_ssh_key"
    CONNECTED = "connected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    BROKEN = "broken"

    @property
    def words(self) -> str:
        """The state as people say it: "awaiting credentials"."""
        return self.value.replace("_", " ")


# Final: nothing changes any more. Settled: done, but the health watch may still move it
# between connected and broken (and a broken one may be cancelled).
FINAL: frozenset[State] = frozenset({State.DENIED, State.CANCELLED, State.EXPIRED})
SETTLED: frozenset[State] = frozenset({State.CONNECTED, State.BROKEN})
_ENDINGS = {State.CANCELLED, State.EXPIRED, State.FAILED}

_FORWARD: dict[State, set[State]] = {
    State.REQUESTED: {State.AWAITING_APPROVAL, State.AWAITING_CREDENTIALS},
    State.AWAITING_APPROVAL: {State.APPROVED, State.DENIED},
    State.APPROVED: {State.AWAITING_CREDENTIALS},
    # Straight to authorizing when TFE kept the callback URL shown in step 1.
    # Data Center: the bot made the client, and the application link comes next.
    State.AWAITING_CREDENTIALS: {
        State.AWAITING_CALLBACK,
        State.AWAITING_AUTHORIZATION,
        State.AWAITING_LINK,
    },
    State.AWAITING_CALLBACK: {State.AWAITING_AUTHORIZATION},
    State.AWAITING_LINK: {State.AWAITING_AUTHORIZATION},
    # Data Center: the token needs its SSH key on the service user before it is connected.
    State.AWAITING_AUTHORIZATION: {State.CONNECTED, State.AWAITING_SSH_KEY},
    State.AWAITING_SSH_KEY: {State.CONNECTED},
    # A failed connection is not final: it can still be cancelled or expire, which
    # is what cleans up an OAuth client it left behind in TFE.
    State.FAILED: set(),
}

TRANSITIONS: dict[State, frozenset[State]] = {
    **{state: frozenset(targets | (_ENDINGS - {state})) for state, targets in _FORWARD.items()},
    **{state: frozenset() for state in FINAL},
    State.CONNECTED: frozenset({State.BROKEN}),
    State.BROKEN: frozenset({State.CONNECTED, State.CANCELLED}),
}


class InvalidTransition(Exception):
    """A transition that the state graph does not allow."""

    def __init__(self, current: State, target: State) -> None:
        super().__init__(f"a connection in state {current.value} cannot move to {target.value}")
        self.current = current
        self.target = target


def is_open(state: State) -> bool:
    """Open connections still need someone to act; settled and final ones do not."""
    return state not in FINAL and state not in SETTLED


def check_transition(current: State, target: State) -> None:
    """Raise InvalidTransition unless the graph allows current → target."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)


# The steps a user sees in the progress message, in order, and the state each is current in.
STEPS: tuple[tuple[str, str], ...] = (
    ("consumer", "Create the OAuth consumer in Bitbucket"),
    ("client", "Add the OAuth client in Terraform"),
    ("callback", "Paste the callback URL into the consumer"),
    ("authorize", "Authorize in Bitbucket"),
    ("connected", "Terraform holds the token"),
)

# Bitbucket Data Center's steps: the bot makes the keys and the client, an administrator
# links Terraform, the service user authorizes, and the token's SSH key goes on that user.
DATA_CENTER_STEPS: tuple[tuple[str, str], ...] = (
    ("client", "The bot makes the keys and the OAuth client in Terraform"),
    ("link", "Create the application link in Bitbucket"),
    ("authorize", "Authorize in Bitbucket"),
    ("ssh_key", "Add the SSH key to the service user"),
    ("connected", "Terraform holds the token"),
)

_CURRENT_STEP: dict[State, str] = {
    State.REQUESTED: "consumer",
    State.AWAITING_APPROVAL: "consumer",
    State.APPROVED: "consumer",
    State.AWAITING_CREDENTIALS: "consumer",
    State.AWAITING_CALLBACK: "callback",
    State.AWAITING_AUTHORIZATION: "authorize",
    State.AWAITING_LINK: "link",
    State.AWAITING_SSH_KEY: "ssh_key",
}
_DATA_CENTER_STEP: dict[State, str] = {
    **{state: "client" for state in _CURRENT_STEP if _CURRENT_STEP[state] == "consumer"},
    State.AWAITING_LINK: "link",
    State.AWAITING_AUTHORIZATION: "authorize",
    State.AWAITING_SSH_KEY: "ssh_key",
}


def steps(with_callback: bool = True, *, data_center: bool = False) -> tuple[tuple[str, str], ...]:
    """The steps of one connection: four when the callback URL was known up front; Data
    Center's own five."""
    if data_center:
        return DATA_CENTER_STEPS
    return STEPS if with_callback else tuple(s for s in STEPS if s[0] != "callback")


def current_step(
    state: State,
    last_open: State | None = None,
    with_callback: bool = True,
    *,
    data_center: bool = False,
) -> int:
    """Index into steps(…) of the step being worked on (its length when all are done).

    Final states other than connected report the step that was current before them.
    """
    shown = [key for key, _ in steps(with_callback, data_center=data_center)]
    if state in SETTLED:
        return len(shown)
    table = _DATA_CENTER_STEP if data_center else _CURRENT_STEP
    key = table.get(state) or table.get(last_open or State.REQUESTED, shown[0])
    return shown.index(key) if key in shown else shown.index("authorize")
