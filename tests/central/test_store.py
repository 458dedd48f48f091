"""The central store on a real PostgreSQL: a repeated CloudEvents id is a no-op, every revision is kept, and
the current row of a passage is its highest revision whatever the order of arrival (no broker here: the
shared-subscription members are in test_consumers.py)."""

from __future__ import annotations

import time

import pytest

from simulators.preclearance.records import parse_enriched
from simulators.preclearance.store import CentralStore, Received, StoreError
from tests.central.helpers import enriched_revisions


def _received(message) -> Received:  # type: ignore[no-untyped-def]
    return Received(parse_enriched(message.topic, message.payload), time.time())


def test_duplicates_are_no_ops_and_an_older_revision_never_overwrites_a_newer(postgres_dsn: str,
                                                                             pg_schema: str) -> None:
    passages = enriched_revisions()
    assert len(passages) >= 2
    (a1, a2, a3), (b1, b2, b3) = passages[0], passages[1]
    store = CentralStore(postgres_dsn, pg_schema, consumer="t")
    try:
        first = store.store([_received(a3), _received(b1)])  # passage a: its newest revision first
        assert (first.stored, first.duplicates, first.current) == (2, 0, 2)
        late = store.store([_received(a1), _received(a2), _received(b2)])
        assert (late.stored, late.duplicates) == (3, 0)
        assert late.current == 1  # b moved to r2; a1 and a2 are older than a3: history only
        again = store.store([_received(b2), _received(b2), _received(a3)])  # redeliveries
        assert (again.stored, again.duplicates, again.current) == (0, 3, 0)
        store.store([_received(b3)])
        with store.conn.cursor() as cur:
            cur.execute(f"SELECT passage_id, revision, ce_id FROM {pg_schema}.passage ORDER BY passage_id")
            current = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
            cur.execute(f"SELECT passage_id, array_agg(revision ORDER BY revision) FROM {pg_schema}.enriched "
                        "GROUP BY passage_id")
            history = {row[0]: row[1] for row in cur.fetchall()}
            cur.execute(f"SELECT payload->'data'->>'revision' FROM {pg_schema}.enriched WHERE ce_id = %s",
                        (_received(a2).record.ce_id,))
            stored_payload = cur.fetchone()
        a, b = _received(a3).record, _received(b3).record
        assert current == {a.passage_id: (3, a.ce_id), b.passage_id: (3, b.ce_id)}
        assert history == {a.passage_id: [1, 2, 3], b.passage_id: [1, 2, 3]}
        assert stored_payload == ("2",)  # the payload as received, queryable
        assert store.counts() == {"rows": 6, "ids": 6, "passages": 2, "decisions": 0}
    finally:
        store.close()


def test_a_payload_postgresql_refuses_costs_only_itself(postgres_dsn: str, pg_schema: str) -> None:
    (r1, r2, _r3) = enriched_revisions()[0]
    record = parse_enriched(r2.topic, r2.payload)
    bad = r2.payload.replace(record.passage_id.encode(), record.passage_id.encode() + b"\\u0000")
    assert bad != r2.payload  # a NUL in a text column: PostgreSQL refuses the row
    store = CentralStore(postgres_dsn, pg_schema)
    try:
        outcome = store.store([_received(r1), Received(parse_enriched(r2.topic, bad), time.time())])
        assert outcome.stored == 1 and len(outcome.rejected) == 1
    finally:
        store.close()


def test_bad_schema_name_and_unreachable_server_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="schema name"):
        CentralStore("postgresql://127.0.0.1:1/none", "Bad-Name")
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        CentralStore("postgresql://127.0.0.1:1/none")
