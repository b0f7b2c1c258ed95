from __future__ import annotations

import itertools

import pytest

from bot.connections.states import (
    FINAL,
    TRANSITIONS,
    InvalidTransition,
    State,
    check_transition,
    is_open,
)

ALLOWED = {
    (State.REQUESTED, State.AWAITING_APPROVAL),
    (State.REQUESTED, State.AWAITING_CREDENTIALS),
    (State.AWAITING_APPROVAL, State.APPROVED),
    (State.AWAITING_APPROVAL, State.DENIED),
    (State.APPROVED, State.AWAITING_CREDENTIALS),
    (State.AWAITING_CREDENTIALS, State.AWAITING_CALLBACK),
    (State.AWAITING_CREDENTIALS, State.AWAITING_AUTHORIZATION),  # callback URL known up front
    (State.AWAITING_CALLBACK, State.AWAITING_AUTHORIZATION),
    (State.AWAITING_AUTHORIZATION, State.CONNECTED),
    # Bitbucket Data Center: the application link, then the token's SSH key.
    (State.AWAITING_CREDENTIALS, State.AWAITING_LINK),
    (State.AWAITING_LINK, State.AWAITING_AUTHORIZATION),
    (State.AWAITING_AUTHORIZATION, State.AWAITING_SSH_KEY),
    (State.AWAITING_SSH_KEY, State.CONNECTED),
    (State.CONNECTED, State.BROKEN),  # the health watch
    (State.BROKEN, State.CONNECTED),  # authorized again in TFE
    (State.BROKEN, State.CANCELLED),
}
for _state in State:
    if _state not in FINAL and _state not in (State.CONNECTED, State.BROKEN):
        for _end in (State.CANCELLED, State.EXPIRED, State.FAILED):
            if _end != _state:
                ALLOWED.add((_state, _end))


def test_final_and_settled_states_are_those_of_product_md() -> None:
    assert {State.DENIED, State.CANCELLED, State.EXPIRED} == FINAL
    assert all(not TRANSITIONS[state] for state in FINAL)
    assert is_open(State.FAILED)
    assert not is_open(State.CONNECTED) and not is_open(State.BROKEN)  # settled


@pytest.mark.parametrize(("current", "target"), list(itertools.product(State, State)))
def test_exactly_the_graph_is_allowed(current: State, target: State) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_four_steps_when_the_callback_url_was_known_up_front() -> None:
    from bot.connections.states import current_step, steps

    assert [key for key, _ in steps(True)] == [
        "consumer",
        "client",
        "callback",
        "authorize",
        "connected",
    ]
    assert [key for key, _ in steps(False)] == ["consumer", "client", "authorize", "connected"]
    assert current_step(State.AWAITING_AUTHORIZATION, with_callback=True) == 3
    assert current_step(State.AWAITING_AUTHORIZATION, with_callback=False) == 2
    assert current_step(State.CONNECTED, with_callback=False) == 4
    assert current_step(State.EXPIRED, State.AWAITING_AUTHORIZATION, with_callback=False) == 2
