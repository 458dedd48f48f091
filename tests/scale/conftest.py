"""Fixtures of the scale-out tests: a NATS cluster (skipped when ``nats-server`` is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import NatsCluster, NatsMissing, nats_binary, nats_cluster


@pytest.fixture
def nats3(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three NATS nodes with JetStream and MQTT, on loopback (see tests/support/nats.py)."""
    try:
        nats_binary()
    except NatsMissing as exc:
        pytest.skip(str(exc))
    with nats_cluster(3, tmp_path / "nats") as cluster:
        yield cluster
