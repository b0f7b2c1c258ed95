"""Running the real bot against the fakes: in this process, or as `python -m bot serve`."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from waitress import create_server

from bot.__main__ import close_server
from bot.app import Runtime, build_runtime
from bot.config import Settings, load_settings
from tests import forked
from tests.fakes import slack as fake_slack
from tests.fakes import tfe as fake_tfe

ROOT = Path(__file__).resolve().parent.parent


def bot_env(
    *, slack_url: str, tfe_url: str, database_url: str, bitbucket_url: str = "", **overrides: str
) -> dict[str, str]:
    """The environment the bot gets in tests: every outside address on loopback."""
    env = {
        "SLACK_BOT_TOKEN": fake_slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": fake_slack.SIGNING_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "TFE_URL": tfe_url,
        "TFE_TOKEN": fake_tfe.TOKEN,
        "DATABASE_URL": database_url,
        "TOKEN_POLL_EVERY": "0.2",
    }
    if bitbucket_url:
        env["BITBUCKET_URL"] = bitbucket_url
        env["BITBUCKET_API_URL"] = bitbucket_url + "/2.0"
    env.update(overrides)
    return env


class RunningBot:
    """The bot's real WSGI app behind waitress on a loopback port, in this process."""

    def __init__(self, settings: Settings, *, jobs: bool = True) -> None:
        self.settings = settings
        self.runtime: Runtime = build_runtime(settings)
        # waitress reads asyncore_loop_timeout as a whole number of seconds: anything under
        # 1 becomes 0, a select() that never waits, and a core burnt per bot.
        self.server = create_server(
            self.runtime.wsgi(), host="127.0.0.1", port=0, threads=8, asyncore_loop_timeout=1
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if jobs:
            self.runtime.start_jobs()

    def _run(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed by stop()
            self.server.run()

    def stop(self) -> None:
        close_server(self.server)  # its kept-alive connections too, as `serve` does
        self.runtime.close()
        # server.close() leaves waitress's handler threads waiting for tasks, and with them
        # the whole bot: a worker that ran a hundred tests kept a thousand threads and a heap
        # every garbage collection walked.
        self.server.task_dispatcher.shutdown(timeout=1)  # type: ignore[union-attr]
        # The loop notices its empty map at its next wake (within a second) and ends by
        # itself; nothing waits on that.
        self.thread.join(timeout=0.2)

    @classmethod
    def from_env(cls, env: dict[str, str], **kwargs: Any) -> RunningBot:
        return cls(load_settings(env), **kwargs)


# The tests' own plain-HTTP calls (a bot's /healthz, /metrics, Prometheus's API) share one
# client: each httpx.get() built a TLS context and read the CA bundle into it, 50 ms of CPU
# for a call to a loopback port. Nothing is kept alive, so a request never goes to a
# stopped bot over its old connection when another bot has its port.
HTTP = httpx.Client(verify=False, limits=httpx.Limits(max_keepalive_connections=0))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Bot processes are forked from a server that has imported the bot once (multiprocessing's
# forkserver, itself started with fork+exec, so no test thread is copied): each start used
# to pay a new interpreter's 1.5 s of CPU for the same imports, a tenth of the suite's CPU.
# The child is a process of its own as before (its own pid, killed with SIGKILL, its exit
# code read back); `python -m bot serve` itself is run as a command by the wheel's test.
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["tests.forked", "bot.app", "waitress"])


class ForkedChild:
    """The few things of `subprocess.Popen` the tests use, for a forked bot process."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        assert process.pid is not None  # a started process has one
        self._process = process
        self.pid: int = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired("bot serve", timeout or 0)
        return self._process.exitcode


class BotProcess:
    """The bot serving in a child process of its own, the way a platform runs it: what
    `python -m bot serve` runs, with only the environment it is given."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TFE_"))}
        full_env.update(env, PORT=str(self.port), PYTHONUNBUFFERED="1")
        child = _FORKS.Process(
            target=forked.serve, args=(full_env, str(ROOT), str(log_path)), name="bot", daemon=True
        )
        child.start()
        self.process = ForkedChild(child)

    def wait_ready(self, timeout: float = 30) -> BotProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"bot exited: {self.log_path.read_text()[-2000:]}")
            try:
                if HTTP.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"bot not ready: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """Die at once, as a crashed machine would: no cleanup."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        assert code is not None
        return code


def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = 10,
    message: str | Callable[[], str] = "",
    every: float = 0.05,
) -> Any:
    """Poll `check` until it returns something truthy (no sleeping for schedules in tests).
    Every 50 ms: a check reads what the fakes were sent (often all of it), and at 20 ms the
    suite's checks took a fifteenth of its CPU."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as error:
            last = error
        else:
            if last:
                return last
        time.sleep(every)
    said = message() if callable(message) else message
    raise AssertionError(said or f"condition not met in {timeout}s (last: {last!r})")
