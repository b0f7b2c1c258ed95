"""Installed as a package (a wheel, as a container image installs it), the bot migrates,
checks and serves from an empty directory: its migrations travel inside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.bitbucket import FakeBitbucket
from tests.fakes.slack import FakeSlack
from tests.fakes.tfe import FakeTFE
from tests.harness import HTTP, ROOT, bot_env, free_port


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the built wheel installed.

    The wheel's dependencies are borrowed from this environment (a path line in a .pth
    file, which adds the directory but none of its own .pth files, so the editable install
    of the checkout stays out): installing them again from PyPI took a worker 50 to 80 s.
    The container test installs the wheel with its dependencies, as a user would."""
    work = tmp_path_factory.mktemp("wheel")
    quiet = {"capture_output": True, "text": True, "timeout": 600}
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        **quiet,  # type: ignore[call-overload]
    )
    assert built.returncode == 0, built.stderr
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
    python = work / "venv" / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], **quiet
    ).stdout.strip()  # type: ignore[call-overload]
    borrowed = sysconfig.get_path("purelib")
    (Path(own) / "borrowed-dependencies.pth").write_text(borrowed + "\n")
    wheel = next(work.glob("connect_bitbucket-*.whl"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", own, str(wheel)],
        **quiet,  # type: ignore[call-overload]
    )
    assert done.returncode == 0, done.stderr
    return python


def run(
    python: Path, cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **env}
    return subprocess.run(
        [str(python), "-m", "bot", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_installed_wheel_migrates_checks_and_serves_from_an_empty_directory(
    installed: Path,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_tfe: FakeTFE,
    fake_bitbucket: FakeBitbucket,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = bot_env(
        slack_url=fake_slack.url,
        tfe_url=fake_tfe.url,
        bitbucket_url=fake_bitbucket.url,
        database_url=f"sqlite:///{empty / 'bot.db'}",
    )
    located = subprocess.run(
        [str(installed), "-c", "import bot, bot.db; print(bot.__file__); print(bot.db.MIGRATIONS)"],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=60,
    )
    package, migrations = located.stdout.split()
    assert "site-packages" in package and str(ROOT) not in package
    assert migrations.endswith("bot/_migrations")

    migrated = run(installed, empty, env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    checked = run(installed, empty, env, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "schema at the latest revision" in checked.stdout

    port = free_port()
    serving = subprocess.Popen(
        [str(installed), "-m", "bot", "serve"],
        cwd=empty,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if HTTP.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the installed bot did not come up")
    finally:
        serving.send_signal(signal.SIGTERM)
        out, _ = serving.communicate(timeout=20)
    assert serving.returncode == 0, out
    assert "Traceback" not in out
