"""PostgreSQL for the central-side tests: the developers' server, else a private cluster (see
:mod:`simulators.preclearance.pg_local`); each test gets a schema of its own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from simulators.preclearance.pg_local import PostgresUnavailable, local_postgres


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg is not installed (extra 'dev' or 'central')")
    try:
        with local_postgres() as dsn:
            yield dsn
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started: {exc}")


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    """A unique schema name; the store creates it, this drops it."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
