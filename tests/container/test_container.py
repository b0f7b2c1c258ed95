"""The container recipe built and run for real: the Dockerfile's image (non-root, its port,
its health check, SIGTERM) and compose.yaml (PostgreSQL, the one-shot migrate, two replicas,
Prometheus scraping both), driven through the published ports as Slack would drive them.

The base images are built from Debian's own archive by scripts/ensure-docker (no registry
is pulled from): the bot's on a Python from Debian, PostgreSQL and Prometheus from Debian's
packages, each taking the official image's settings. `make test-container` runs this; CI
runs it wherever its machine can start an engine, and `make test` leaves it out with one
line."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.flow.steps import open_form
from tests.harness import ROOT, bot_env, eventually, free_port

BASE = "local/debian-python:bookworm"
HERE = Path(__file__).resolve().parent
BOT_IMAGE = "connect-bitbucket:container-test"
POSTGRES_IMAGE = "connect-bitbucket-test/postgres:15"
PROMETHEUS_IMAGE = "connect-bitbucket-test/prometheus:debian"
# Containers reach the fakes, which listen on every address of this machine, through the
# gateway of their network.
HOST = "host.docker.internal"

# Building on vfs storage and starting five containers takes minutes, not the suite's 120 s.
pytestmark = pytest.mark.timeout(1800)


def run(*args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def must(*args: str, timeout: float = 900, **env: str) -> str:
    done = run(*args, timeout=timeout, **env)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def engine_problem() -> str | None:
    if not shutil.which("docker"):
        return "no docker command"
    if run("docker", "info", timeout=30).returncode != 0:
        return "no Docker engine answers"
    if run("docker", "image", "inspect", BASE, timeout=30).returncode != 0:
        return f"no {BASE} image (scripts/ensure-docker builds it)"
    if not (shutil.which("docker-compose") or run("docker", "compose", "version").returncode == 0):
        return "no docker compose"
    return None


PROBLEM = engine_problem()
if PROBLEM and not os.environ.get("REQUIRE_CONTAINER"):
    pytest.skip(
        f"Container test left out: {PROBLEM}; run ./scripts/ensure-docker (as root) first",
        allow_module_level=True,
    )


def compose_command() -> list[str]:
    if run("docker", "compose", "version", timeout=30).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"]


@pytest.fixture(scope="module")
def images() -> None:
    """The bot's image from the repository's Dockerfile, and the test's database and
    Prometheus images, all on the Debian base."""
    assert PROBLEM is None, PROBLEM
    # --network host: the build reaches PyPI and Debian's archive as this machine does.
    must(
        "docker", "build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={BASE}",
        "-t", BOT_IMAGE, str(ROOT),
    )  # fmt: skip
    for image, recipe in ((POSTGRES_IMAGE, "postgres"), (PROMETHEUS_IMAGE, "prometheus")):
        must(
            "docker", "build", "--network", "host", "--build-arg", f"BASE={BASE}",
            "-f", str(HERE / f"{recipe}.Dockerfile"), "-t", image, str(HERE),
        )  # fmt: skip


def test_the_image_runs_the_bot_as_a_user_with_its_port_health_check_and_stop_signal(
    images: None,
) -> None:
    config = json.loads(must("docker", "image", "inspect", BOT_IMAGE))[0]["Config"]
    assert config["User"] == "bot"
    assert "3000/tcp" in config["ExposedPorts"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    assert config["StopSignal"] == "SIGTERM"
    assert config["Cmd"] == ["python", "-m", "bot", "serve"]
    # Only the virtualenv came across from the build stage: no source, no wheel.
    inside = must(
        "docker", "run", "--rm", "--network", "none", BOT_IMAGE, "sh", "-c",
        "id -u; ls /src /wheels 2>&1 | grep -c 'No such' ; "
        "python -c 'import bot.db; print(bot.db.MIGRATIONS)'",
    ).split()  # fmt: skip
    assert inside[0] == "10001" and inside[0] != "0"
    assert inside[1] == "2"
    assert inside[2].startswith("/opt/bot/") and inside[2].endswith("bot/_migrations")


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeTFE, FakeBitbucket]]:
    slack, tfe, bitbucket = FakeSlack(), FakeTFE(), FakeBitbucket()
    for fake in (slack, tfe, bitbucket):
        fake.start(host="0.0.0.0")
    yield slack, tfe, bitbucket
    for fake in (slack, tfe, bitbucket):
        fake.stop()


class Compose:
    """compose.yaml as it is in the repository, with a test override beside it."""

    def __init__(self, work: Path, env_file: Path) -> None:
        self.project = "cbtest" + uuid.uuid4().hex[:8]
        self.ports = {name: free_port() for name in ("bot-1", "bot-2", "prometheus")}
        override = work / "compose.test.yaml"
        scrape = work / "prometheus.yml"
        # The repository's scrape configuration, scraped every second instead of 15.
        scrape.write_text(
            (ROOT / "docker" / "prometheus.yml")
            .read_text()
            .replace("scrape_interval: 15s", "scrape_interval: 1s")
        )
        # The project's network gets a subnet of the test's choosing, so its gateway (this
        # machine, seen from the containers) is known before it exists: Docker's own
        # "host-gateway" names the default bridge's, which a dockerd without one lacks.
        subnet = f"172.31.{secrets.randbelow(250) + 1}"
        gateway = {"extra_hosts": [f"{HOST}:{subnet}.1"]}
        override.write_text(
            json.dumps(
                {
                    "services": {
                        "migrate": gateway,
                        "bot-1": gateway,
                        "bot-2": gateway,
                        "prometheus": {"volumes": [f"{scrape}:/etc/prometheus/prometheus.yml:ro"]},
                    },
                    "networks": {
                        "default": {
                            "ipam": {
                                "config": [{"subnet": f"{subnet}.0/24", "gateway": f"{subnet}.1"}]
                            }
                        }
                    },
                }
            )
        )
        self.base = [
            *compose_command(),
            "-p", self.project,
            "-f", str(ROOT / "compose.yaml"),
            "-f", str(override),
            "--profile", "metrics",
        ]  # fmt: skip
        self.env = {
            "BOT_IMAGE": BOT_IMAGE,
            "POSTGRES_IMAGE": POSTGRES_IMAGE,
            "PROMETHEUS_IMAGE": PROMETHEUS_IMAGE,
            "BOT_ENV_FILE": str(env_file),
            "BOT_1_PORT": str(self.ports["bot-1"]),
            "BOT_2_PORT": str(self.ports["bot-2"]),
            "PROMETHEUS_PORT": str(self.ports["prometheus"]),
        }

    def __call__(self, *args: str, timeout: float = 300) -> str:
        return must(*self.base, *args, timeout=timeout, **self.env)

    def container(self, service: str) -> str:
        return self("ps", "-a", "-q", service).strip()

    def state(self, service: str) -> dict[str, object]:
        state: dict[str, object] = json.loads(
            must("docker", "inspect", "-f", "{{json .State}}", self.container(service))
        )
        return state

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


@pytest.fixture
def compose(
    images: None, fakes: tuple[FakeSlack, FakeTFE, FakeBitbucket], tmp_path: Path
) -> Iterator[Compose]:
    slack, tfe, bitbucket = fakes
    env = bot_env(
        slack_url=f"http://{HOST}:{slack.port}",
        tfe_url=f"http://{HOST}:{tfe.port}",
        bitbucket_url=f"http://{HOST}:{bitbucket.port}",
        database_url="set by compose.yaml",
    )
    del env["DATABASE_URL"]
    env_file = tmp_path / "bot.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    project = Compose(tmp_path, env_file)
    try:
        yield project
    finally:
        logs = run(*project.base, "logs", "--no-color", timeout=120, **project.env).stdout
        print(logs[-20000:])
        run(*project.base, "down", "-v", "--remove-orphans", "-t", "5", timeout=300, **project.env)


def test_compose_runs_the_database_the_migration_two_replicas_and_prometheus(
    compose: Compose, fakes: tuple[FakeSlack, FakeTFE, FakeBitbucket]
) -> None:
    slack = fakes[0]
    compose("up", "-d", "--no-build", timeout=600)

    # The one-shot migration ran to its end before the replicas started.
    migrate = compose.state("migrate")
    assert migrate["Status"] == "exited" and migrate["ExitCode"] == 0

    # Both replicas pass the image's own health check, and answer on their ports.
    def healthy() -> bool:
        return all(
            isinstance(health := compose.state(name).get("Health"), dict)
            and health.get("Status") == "healthy"
            for name in ("bot-1", "bot-2")
        )

    eventually(healthy, timeout=120, every=1)
    for name in ("bot-1", "bot-2"):
        answer = httpx.get(compose.url(name) + "/healthz", timeout=5)
        assert (answer.status_code, answer.text) == (200, "ok\n")
        # Metrics are on their own port inside the network, never on the port Slack reaches.
        assert httpx.get(compose.url(name) + "/metrics", timeout=5).status_code == 404

    # A signed slash command to either replica opens the form: both serve Slack, from one
    # PostgreSQL that the migration prepared.
    for name, user in (("bot-1", "U1OWNER"), ("bot-2", "U2OWNER")):
        view = open_form(SlackDriver(slack, compose.url(name)), user=user)
        assert view.view["callback_id"] == "connect_request"

    # Prometheus (the `metrics` profile) scrapes both replicas on METRICS_PORT.
    prometheus = compose.url("prometheus")

    def scraped() -> list[dict[str, object]]:
        try:  # Prometheus may not listen yet
            answer = httpx.get(
                prometheus + "/api/v1/query",
                params={"query": 'connect_bitbucket_build_info{job="connect-bitbucket"}'},
                timeout=5,
            ).json()
        except (httpx.HTTPError, ValueError):
            return []
        found: list[dict[str, object]] = answer["data"]["result"]
        return found if len(found) == 2 else []

    series = eventually(scraped, timeout=60, every=1)
    assert sorted(s["metric"]["instance"] for s in series) == ["bot-1:9300", "bot-2:9300"]  # type: ignore[index]

    # `docker stop` sends SIGTERM: the replica stops cleanly (exit 0), well within its grace.
    started = time.monotonic()
    must("docker", "stop", "-t", "15", compose.container("bot-1"), timeout=60)
    took = time.monotonic() - started
    stopped = compose.state("bot-1")
    assert stopped["ExitCode"] == 0 and took < 12, (stopped, took)
    said = run("docker", "logs", compose.container("bot-1"), timeout=60)
    assert "stopped" in said.stdout + said.stderr
    # The other replica goes on serving.
    assert httpx.get(compose.url("bot-2") + "/healthz", timeout=5).status_code == 200
