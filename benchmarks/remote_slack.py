"""The fake Slack in a process of its own, for the side-by-side benchmark.

In the load generator's process, the fake's work for one command (answering users.info and
views.open) would hold the generator's GIL just as it times the next command, and the
servers that call Slack after acking would look slower than they are.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from tests.fakes.slack import FakeSlack, mint_trigger


def _serve(pipe: Connection, members: list[str]) -> None:
    slack = FakeSlack()
    slack.members = members
    slack.start()
    pipe.send(slack.url)
    while True:
        asked = pipe.recv()
        if asked == "counts":
            with slack.lock:
                pipe.send((len(slack.calls), slack.connections))
        elif isinstance(asked, tuple) and asked[0] == "calls_to":
            pipe.send(len(slack.calls_to(asked[1])))
        else:
            slack.stop()
            pipe.send("stopped")
            return


class RemoteSlack:
    """Enough of FakeSlack for SlackDriver.command: the URL and trigger_ids it accepts."""

    def __init__(self, members: list[str] | None = None) -> None:
        self._pipe, child = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(
            target=_serve, args=(child, list(members or [])), daemon=True
        )
        self.process.start()
        self.url: str = self._pipe.recv()

    def issue_trigger(self, user: str) -> str:
        return mint_trigger(user)

    def counts(self) -> tuple[int, int]:
        """(Web API calls answered, TCP connections accepted) so far."""
        self._pipe.send("counts")
        calls, connections = self._pipe.recv()
        return int(calls), int(connections)

    def calls_to(self, method: str) -> int:
        """How many calls to a Web API method were answered so far."""
        self._pipe.send(("calls_to", method))
        return int(self._pipe.recv())

    def stop(self) -> None:
        self._pipe.send("stop")
        self._pipe.recv()
        self.process.join(timeout=5)
