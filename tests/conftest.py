"""Fixtures shared by the whole suite: real Mosquitto brokers (see tests/support/brokers.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.brokers import (
    LOOPBACK,
    MosquittoBroker,
    SharedBroker,
    TlsBroker,
    make_tls_broker,
    port_open,
)

# Hypothesis profiles: "ci" runs every fuzz test at >= 10,000 examples (tests that want
# that use tests.support.fuzz.FUZZ_EXAMPLES); "dev" is quicker; "long" is for soak runs.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("long", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[SharedBroker]:
    """The broker on 127.0.0.1:1883 when one is running, else a mosquitto of our own."""
    if os.environ.get("BX_TEST_OWN_BROKER") != "1" and port_open(LOOPBACK, 1883):
        yield SharedBroker(LOOPBACK, 1883)
        return
    with tempfile.TemporaryDirectory(prefix="bx-mosquitto-") as tmp:
        broker = MosquittoBroker(workdir=Path(tmp))
        broker.start()
        try:
            yield SharedBroker(broker.host, broker.port)
        finally:
            broker.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Callable[..., MosquittoBroker]]:
    """Factory for brokers a test may stop and restart: ``b = private_broker(); b.stop(); b.start()``."""
    started: list[MosquittoBroker] = []

    def factory(extra_config: str = "") -> MosquittoBroker:
        broker = MosquittoBroker(workdir=tmp_path / f"broker{len(started)}", extra_config=extra_config)
        broker.start()
        started.append(broker)
        return broker

    yield factory
    for broker in started:
        broker.stop(kill=True)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    """Mutual-TLS + username/password listeners with an ACL (see DEFAULT_ACL)."""
    broker = make_tls_broker(tmp_path / "tls")
    try:
        yield broker
    finally:
        broker.stop()
