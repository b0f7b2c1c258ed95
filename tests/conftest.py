"""Fixtures: the fakes, a real database (SQLite and PostgreSQL), and the running bot."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import db
from bot.logs import setup_logging
from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack, SlackDriver
from tests.fakes.tfe import FakeTFE
from tests.harness import RunningBot, bot_env
from tests.postgres import Cluster, Reused, find_bin

BACKENDS = ["sqlite", "postgresql"]
# The container test builds images (minutes): `make test-container` runs it, not `make test`.
CONTAINER_TESTS = bool(os.environ.get("CONTAINER_TESTS"))
collect_ignore = [] if CONTAINER_TESTS else ["container"]
# Without PostgreSQL's server binaries (and unless CI requires them) the PostgreSQL half is
# left out with one line saying so, not a skip line per test.
NO_POSTGRES = (
    None
    if os.environ.get("REQUIRE_POSTGRES") or (find_bin("initdb") and find_bin("pg_ctl"))
    else "PostgreSQL tests left out: initdb and pg_ctl were not found "
    "(install PostgreSQL's server package to run them too)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "starts_early: one of the longest tests (over 12 s): runs first, so no worker is "
        "left with one at the end",
    )
    config.addinivalue_line(
        "markers",
        "empty_database: the test's database starts empty, not migrated (it tests migrating)",
    )
    config.addinivalue_line(
        "markers",
        "sqlite_only: what it checks happens before or apart from the database (the door, "
        "form checks, the outside services), so one backend is enough",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use the database run on SQLite and PostgreSQL, unless marked sqlite_only."""
    if "database_url" in metafunc.fixturenames:
        one = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("database_url", ["sqlite"] if one else BACKENDS, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The longest tests go first, so that a worker is not left with one at the end.
    items.sort(key=lambda item: item.get_closest_marker("starts_early") is None)
    if NO_POSTGRES:
        kept = [i for i in items if "[postgresql" not in i.nodeid]
        config.hook.pytest_deselected(items=[i for i in items if "[postgresql" in i.nodeid])
        items[:] = kept


NO_PROMETHEUS = (
    None
    if os.environ.get("REQUIRE_PROMETHEUS")
    or (shutil.which("prometheus") and shutil.which("promtool"))
    else "Prometheus test left out: prometheus and promtool were not found "
    "(install Debian's prometheus package to run it too)"
)


NO_CONTAINER = None if CONTAINER_TESTS else "Container test left out: make test-container runs it"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [line for line in (NO_POSTGRES, NO_PROMETHEUS, NO_CONTAINER) if line]


class SharedDatabases:
    """What every worker of a run shares, made once by the process that hands out the
    tests: one PostgreSQL cluster and a migrated template on each backend. (Each of six
    workers made its own: six clusters, twelve migrations, a tenth of a minute of CPU.)"""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cb-templates-"))
        self.sqlite_template = self.dir / "bot.db"
        db.migrate(f"sqlite:///{self.sqlite_template}")
        self.cluster: Cluster | None = None
        self.pg_template: str | None = None
        self.pg_error = ""
        if not NO_POSTGRES:
            try:
                self.cluster = Cluster()
                self.pg_template = _migrated_template(self.cluster)
            except Exception as error:
                if os.environ.get("REQUIRE_POSTGRES"):
                    raise
                self.pg_error = str(error) or type(error).__name__

    def workerinput(self) -> dict[str, str]:
        given = {"sqlite_template": str(self.sqlite_template)}
        if self.cluster is not None and self.pg_template is not None:
            given.update(pg_port=str(self.cluster.port), pg_template=self.pg_template)
        elif self.pg_error:
            given["pg_error"] = self.pg_error
        return given

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


_SHARED = pytest.StashKey[SharedDatabases]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, in the controller, before a worker starts: hand it the shared databases."""
    config = node.config
    if _SHARED not in config.stash:
        config.stash[_SHARED] = SharedDatabases()
    node.workerinput.update(config.stash[_SHARED].workerinput())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SHARED in config.stash:
        config.stash[_SHARED].stop()


def _given(request: pytest.FixtureRequest) -> dict[str, str]:
    """What the controller handed this worker (nothing when running without workers)."""
    return dict(getattr(request.config, "workerinput", {}))


def _migrated_template(cluster: Cluster) -> str:
    url = cluster.new_database()
    db.migrate(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def pg_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster | None]:
    given = _given(request)
    if "pg_port" in given:
        yield Cluster(port=int(given["pg_port"]))
        return
    try:
        if "pg_error" in given:
            raise RuntimeError(given["pg_error"])
        cluster = Cluster()
    except Exception as error:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        logging.getLogger(__name__).warning("PostgreSQL tests skipped: %s", error)
        yield None
        return
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A database migrated to head once per run; each test gets a copy (migrating anew
    took a tenth of a second of CPU per test, a sixth of the suite on SQLite alone)."""
    given = _given(request)
    if "sqlite_template" in given:
        return Path(given["sqlite_template"])
    path = tmp_path_factory.mktemp("template") / "bot.db"
    db.migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest, pg_cluster: Cluster | None) -> str | None:
    """The same on PostgreSQL: a migrated database that new ones are created from."""
    if pg_cluster is None:
        return None
    return _given(request).get("pg_template") or _migrated_template(pg_cluster)


@pytest.fixture(scope="session")
def pg_databases(pg_cluster: Cluster | None, pg_template: str | None) -> Reused | None:
    """This worker's PostgreSQL databases at head, emptied and used again test after test."""
    if pg_cluster is None or pg_template is None:
        return None
    return Reused(pg_cluster, pg_template)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database for one test, migrated to head unless the test is marked
    `empty_database` (it tests migrating)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        if not empty:
            source = sqlite3.connect(request.getfixturevalue("sqlite_template"))
            target = sqlite3.connect(path)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        yield f"sqlite:///{path}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL is not available here (set REQUIRE_POSTGRES=1 to fail instead)")
    if empty:
        yield str(cluster.new_database(None))
        return
    databases: Reused = request.getfixturevalue("pg_databases")
    url = databases.take()
    yield url
    databases.give_back(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_tfe() -> Iterator[FakeTFE]:
    fake = FakeTFE().start()
    fake.add_organization("acme-infra")
    yield fake
    fake.stop()


@pytest.fixture
def fake_bitbucket() -> Iterator[FakeBitbucket]:
    from tests.flow.steps import KEY, SECRET

    fake = FakeBitbucket().start()
    fake.add_consumer(KEY, SECRET, owner="svc-terraform")
    yield fake
    fake.stop()


@pytest.fixture
def env(
    fake_slack: FakeSlack, fake_tfe: FakeTFE, fake_bitbucket: FakeBitbucket, database_url: str
) -> dict[str, str]:
    return bot_env(
        slack_url=fake_slack.url,
        tfe_url=fake_tfe.url,
        database_url=database_url,
        bitbucket_url=fake_bitbucket.url,
    )


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every line the bot logs, at DEBUG, through its own handler and filters."""
    lines: list[str] = []

    class Collect:
        def write(self, text: str) -> None:
            lines.extend(line for line in text.splitlines() if line)

        def flush(self) -> None:
            pass

    handler = setup_logging("DEBUG", stream=Collect())  # type: ignore[arg-type]
    yield lines
    logging.getLogger().removeHandler(handler)


@pytest.fixture
def bot(env: dict[str, str], log_lines: list[str]) -> Iterator[RunningBot]:
    running = RunningBot.from_env(env)
    yield running
    running.stop()


@pytest.fixture
def make_bot(env: dict[str, str], log_lines: list[str]) -> Iterator[Callable[..., RunningBot]]:
    """Bots built on demand with settings of the test's own; all stopped afterwards."""
    bots: list[RunningBot] = []

    def make(**overrides: str) -> RunningBot:
        bots.append(RunningBot.from_env({**env, **overrides}))
        return bots[-1]

    yield make
    for running in bots:
        running.stop()


@pytest.fixture
def slack(fake_slack: FakeSlack, bot: RunningBot) -> Iterator[SlackDriver]:
    driver = SlackDriver(fake_slack, bot.url)
    yield driver
    driver.http.close()  # keep-alive connections would hold the server open
