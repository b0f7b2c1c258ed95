"""The third outside attack run's findings (issue 24), each driven through the real endpoint."""

from __future__ import annotations

import pytest

from tests.fakes.slack import SlackDriver

FORM = "application/x-www-form-urlencoded"


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "body",
    [
        b"command=%2Fconnect-bitbucket",
        b"command=%2Fconnect-bitbucket&user_id=U1OWNER",
        b"command=%2Fconnect-bitbucket&user_id=U1OWNER&team_id=T1&channel_id=C1",
        b"command=%2Fconnect-bitbucket&user_id=&team_id=T1&channel_id=C1&trigger_id=1",
        b"command=%2Fconnect-bitbucket&user_id=U1&user_id=U2&team_id=T1&channel_id=C1&trigger_id=1",
    ],
)
def test_a_signed_command_of_a_shape_slack_never_sends_is_400(
    slack: SlackDriver, body: bytes
) -> None:
    assert slack.post(body, FORM).status_code == 400
