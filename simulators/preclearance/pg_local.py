"""A PostgreSQL for the tests, the benchmarks and a local run: the one already there, else one of our own.

:func:`local_postgres` tries ``BX_PG_DSN`` (if set), then the developers' server (127.0.0.1:5432, trust
authentication, database ``test``); if none answers, it starts a private cluster (``initdb`` with trust
authentication on a free loopback port, in a temporary directory, stopped and removed on exit) from the
Debian ``postgresql`` package (``scripts/setup.sh test`` installs it).  PostgreSQL refuses to run as
root, so as root the cluster runs as the ``postgres`` user the package creates.  When there is neither
a server nor the binaries, :class:`PostgresUnavailable` says why, in one line, so a test can skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gateway.service.broker import LOOPBACK, free_port, wait_port

DEVELOPER_DSNS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://127.0.0.1:5432/test")


class PostgresUnavailable(RuntimeError):
    pass


def _answers(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _binaries() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextlib.contextmanager
def local_postgres() -> Iterator[str]:
    """A DSN of a database the caller may create schemas in (see the module doc)."""
    candidates = [os.environ["BX_PG_DSN"]] if os.environ.get("BX_PG_DSN") else list(DEVELOPER_DSNS)
    for dsn in candidates:
        if _answers(dsn):
            yield dsn
            return
    with private_cluster() as dsn:
        yield dsn


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """A throw-away cluster (trust auth, loopback, database ``test``); yields its DSN."""
    bindir = _binaries()
    if bindir is None:
        raise PostgresUnavailable("no PostgreSQL at 127.0.0.1:5432 and no initdb (Debian package 'postgresql')")
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user to run a cluster as") from None
        as_user = ["runuser", "-u", "postgres", "--"]
    workdir = Path(tempfile.mkdtemp(prefix="bx-pg-"))
    data, port = workdir / "data", free_port()
    if as_user:
        shutil.chown(workdir, "postgres")
    process: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                               "--no-sync", "-E", "UTF8"], capture_output=True)
        if init.returncode:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.decode(errors='replace').strip()[:200]}")
        process = subprocess.Popen([*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
                                    "-h", LOOPBACK, "-k", str(workdir), "-c", "fsync=off"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(LOOPBACK, port, 30)
        except TimeoutError:
            raise PostgresUnavailable("the private PostgreSQL cluster did not start") from None
        import psycopg

        for _ in range(100):  # the port opens before the server accepts connections
            try:
                with psycopg.connect(f"postgresql://postgres@{LOOPBACK}:{port}/postgres", autocommit=True,
                                     connect_timeout=3) as conn:
                    conn.execute("CREATE DATABASE test")
                break
            except psycopg.OperationalError:
                import time

                time.sleep(0.1)
        yield f"postgresql://postgres@{LOOPBACK}:{port}/test"
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
