"""A throwaway PostgreSQL cluster for the test run: initdb, pg_ctl, gone afterwards."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

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


class Reused:
    """Databases copied from one template for one worker's tests, emptied and used again
    once a test is done. Emptying (TRUNCATE … RESTART IDENTITY) takes a fifth of the time
    of a copy (CREATE DATABASE … TEMPLATE writes 8 MB: 80 to 190 ms here), and a run that
    copied one per test left 1.8 GB in 60,000 files for its end to delete (5.6 s)."""

    def __init__(self, cluster: Cluster, template: str) -> None:
        self._cluster = cluster
        self._template = template
        self._free: list[str] = []
        self._shape: tuple[list[str], str] | None = None  # the template's tables, version…

    def take(self) -> str:
        """A database at the template's schema with every table empty."""
        while self._free:
            name = self._free.pop()
            if self._emptied(name):
                return self._cluster.url(name)
        return self._cluster.new_database(self._template)

    def give_back(self, url: str) -> None:
        self._free.append(url.rsplit("/", 1)[1])

    def _emptied(self, name: str) -> bool:
        """Empty `name` if it is as the template made it and nobody is connected to it
        (a bot that outlived its test); otherwise leave it, and say so."""
        import psycopg

        if self._shape is None:
            self._shape = self._read_shape(self._template)
        tables = self._shape[0]
        try:
            with self._connect(name) as connection:
                others = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                if others is None or others[0] or self._read_shape(name) != self._shape:
                    return False
                connection.execute("SET lock_timeout = '2s'")
                listed = ", ".join(f'"{table}"' for table in tables if table != "alembic_version")
                connection.execute(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")  # type: ignore[arg-type]
                return True
        except psycopg.Error:
            return False

    def _read_shape(self, name: str) -> tuple[list[str], str]:
        with self._connect(name) as connection:
            tables = [
                str(row[0])
                for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            ]
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            # What a test may add beside the tables (a trigger that refuses a write).
            added = connection.execute(
                "SELECT (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)"
                " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public')"
            ).fetchone()
        return tables, f"{found[0] if found else ''}+{added[0] if added else ''}"

    def _connect(self, name: str) -> Any:
        import psycopg

        return psycopg.connect(
            f"host=127.0.0.1 port={self._cluster.port} user=postgres dbname={name}",
            autocommit=True,
        )
