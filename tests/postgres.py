"""A throwaway PostgreSQL cluster for the test run: initdb, pg_ctl, gone afterwards."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.harness import free_port


def find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


class Cluster:
    """One cluster on a loopback port with trust auth; databases are made per test."""

    def __init__(self, *, port: int | None = None) -> None:
        """A new cluster; or, given `port`, the one another process of this run started
        (its owner stops it)."""
        self._counter = 0
        self.owner = port is None
        if port is not None:
            self.port = port
            return
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed (initdb/pg_ctl not found)")
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cb-pg-"))
        self.data = self.dir / "data"
        # PostgreSQL refuses to run as root; CI runs as root, so use the postgres user.
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            shutil.chown(self.dir, self.user)
            os.chmod(self.dir, 0o700)
        self._run(
            [
                initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=800 "
            # Each test makes a database; autovacuum would visit every one of them.
            "-c autovacuum=off"
        )
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.dir / "log"),
                "-w",
                "start",
            ]
        )

    def _run(self, command: list[str]) -> None:
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = None) -> str:
        """A new database: empty, or a copy of `template` (CREATE DATABASE … TEMPLATE, a
        file copy inside the server, far quicker than migrating again)."""
        import psycopg

        self._counter += 1
        name = f"test_{os.getpid()}_{self._counter}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        if not self.owner:
            return
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
