"""A real Prometheus scrapes the bot's metrics port and answers a query for a value the test
caused; promtool finds nothing to lint in what the bot serves. Without Prometheus's binaries
(Debian's `prometheus` package) `make test` leaves this out with one line; CI requires it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.test_health import connected
from tests.harness import HTTP, RunningBot, eventually, free_port

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
if not (PROMETHEUS and PROMTOOL) and not os.environ.get("REQUIRE_PROMETHEUS"):
    pytest.skip(
        "Prometheus test left out: prometheus and promtool were not found "
        "(apt-get install prometheus to run it too)",
        allow_module_level=True,
    )


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start Prometheus on loopback scraping a port every half second; yields a function
    that starts it for a port and returns its address."""
    assert PROMETHEUS, "REQUIRE_PROMETHEUS is set, but prometheus is not installed"
    started: list[subprocess.Popen[bytes]] = []

    def start(target: int) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n"
            "scrape_configs:\n  - job_name: connect-bitbucket\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        )
        port = free_port()
        started.append(
            subprocess.Popen(
                [
                    PROMETHEUS or "prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def query(address: str, expression: str) -> list[dict[str, object]]:
    try:
        answer = HTTP.get(f"{address}/api/v1/query", params={"query": expression}, timeout=2)
    except httpx.TransportError:
        return []  # still starting
    if answer.status_code != 200:
        return []
    return list(answer.json()["data"]["result"])


@pytest.mark.sqlite_only
def test_a_real_prometheus_scrapes_what_the_bot_did(
    make_bot: Callable[..., RunningBot],
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    prometheus: Callable[[int], str],
) -> None:
    port = free_port()
    bot = make_bot(METRICS_PORT=str(port), HEALTH_EVERY="0.3")
    connected(SlackDriver(fake_slack, bot.url), fake_slack, fake_tfe, bot)
    address = prometheus(port)
    result = eventually(
        lambda: query(address, 'max by (state) (connect_bitbucket_connections{state="connected"})'),
        timeout=30,
    )
    assert result[0]["value"][1] == "1"  # type: ignore[index]
    works = eventually(
        lambda: query(address, 'connect_bitbucket_health_checks_total{outcome="works"} > 0'),
        timeout=30,
    )
    assert works and "instance" in works[0]["metric"]  # type: ignore[operator]
    text = HTTP.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    lint = subprocess.run(
        [PROMTOOL or "promtool", "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
