"""Broker failover (``mqtt.urls``) and connection failures in the log and the retained status.

Two private Mosquitto brokers that are not bridged: the consumer keeps a persistent session on each
(as a consumer of such a pair must: a broker stopped after its PUBACK still holds what it had not
delivered yet, and hands it over when it is back).  TLS: two brokers with different CAs, the gateway
trusting only the second one's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config.mqtt import MqttTls
from tests.publishing.support import close_passages, make_publisher, record_event_ids
from tests.support.brokers import MosquittoBroker, make_tls_broker
from tests.support.consumer import EventConsumer

STATUS = "bx/v1/ops/s1/{gw}/status"


def test_failover_to_the_second_broker_loses_nothing(private_broker: Callable[..., MosquittoBroker],
                                                     tmp_path: Path) -> None:
    first, second = private_broker(), private_broker()
    consumer = EventConsumer([first.url, second.url], "bx/v1/#", client_id="failover-consumer",
                             persistent=True).start()
    pub = make_publisher(tmp_path, gateway="gw-fo", urls=[first.url, second.url])
    stored = record_event_ids(pub)
    pub.start()
    try:
        assert pub.link.connected.wait(10)
        assert pub.link.broker.url == first.url
        close_passages(pub, 40, pause=0.02, at=(20, first.stop)).join(30)  # SIGTERM the broker it is on
        assert pub.wait_idle(20), "the outbox did not drain on the second broker"
        assert pub.link.broker.url == second.url
        first.start()  # what the first broker acknowledged but had not delivered reaches the consumer now
        missing = consumer.wait_for_ids(stored, 20)
        # The first broker, restarted with the gateway's persisted session, fires its Last Will: "offline"
        # is true there.  The status that counts is the one on the broker the gateway is on.
        status = consumer.last(STATUS.format(gw="gw-fo"), broker=second.url)
    finally:
        pub.stop()
        consumer.stop()
    assert len(set(stored)) == 40 * 7  # end, observation, enriched, flag, 2 referrals, decision
    assert not missing, f"{len(missing)} of {len(set(stored))} events never arrived"
    assert consumer.conflicting_duplicates() == []  # a duplicate is only ever the same message again
    assert status is not None and status.broker == second.url
    connection = json.loads(status.payload)["connection"]
    assert connection["broker"] == second.url and connection["index"] == 1 and connection["failovers"] == 1
    assert connection["protocol"] == "5"
    assert connection["errors"][first.url]["error"].startswith("connection lost")


def test_every_broker_down_then_back_publishes_the_outbox(private_broker: Callable[..., MosquittoBroker],
                                                          tmp_path: Path) -> None:
    """Both brokers down: the link cycles through the list (with backoff) until one returns."""
    first, second = private_broker(), private_broker()
    first.stop()
    second.stop()
    pub = make_publisher(tmp_path, gateway="gw-down", urls=[first.url, second.url])
    stored = record_event_ids(pub)
    pub.start()
    try:
        close_passages(pub, 3).join(10)
        deadline = time.monotonic() + 10
        while pub.link.failures < 3 and time.monotonic() < deadline:  # tried both, and round again
            time.sleep(0.05)
        assert pub.link.failures >= 3
        assert not pub.link.connected.is_set()
        assert pub.connection_state()["reason"] == "unreachable"  # connection refused: nobody listens
        second.start()
        with EventConsumer([second.url], "bx/v1/#") as consumer:
            assert pub.wait_idle(20)
            assert consumer.wait_for_ids(stored, 10) == set()
        assert pub.link.broker.url == second.url
    finally:
        pub.stop()


def test_wrong_ca_is_logged_once_and_named_in_the_status(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """#22: a TLS handshake that fails (the broker's certificate is not signed by ``mqtt.tls.ca``)
    is logged once, with the broker's address, and shows in the retained status on the broker that works."""
    untrusted = make_tls_broker(tmp_path / "untrusted")
    trusted = make_tls_broker(tmp_path / "trusted")
    try:
        cert = trusted.client_cert("gw-a")
        tls = MqttTls(ca=trusted.ca, cert=cert.cert, key=cert.key)
        bad_url = f"mqtts://127.0.0.1:{untrusted.tls_port}"
        good_url = f"mqtts://127.0.0.1:{trusted.tls_port}"

        # Only the untrusted broker: the handshake fails on every attempt, the log says so once.
        caplog.set_level(logging.INFO, logger="gateway.publishing.mqtt_client")
        alone = make_publisher(tmp_path / "alone", gateway="gw-a", urls=[bad_url], tls=tls)
        alone.start()
        try:
            deadline = time.monotonic() + 10
            while alone.link.failures < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert alone.link.failures >= 3
            assert alone.connection_state()["reason"] == "tls"
        finally:
            alone.stop()
        tls_lines = [r for r in caplog.records if "TLS" in r.getMessage()]
        assert len(tls_lines) == 1, [r.getMessage() for r in tls_lines]
        assert tls_lines[0].levelno == logging.ERROR
        assert bad_url in tls_lines[0].getMessage() and "certificate not trusted" in tls_lines[0].getMessage()

        # The untrusted broker first, then the trusted one: the status there names the failure.
        reader = trusted.client_cert("customs-consumer")
        listed = make_publisher(tmp_path / "listed", gateway="gw-a", urls=[bad_url, good_url], tls=tls)
        listed.start()
        try:
            assert listed.link.connected.wait(15)
            status = _read_retained(trusted, reader, STATUS.format(gw="gw-a"))
        finally:
            listed.stop()
        connection = status["connection"]
        assert connection["broker"] == good_url and connection["index"] == 1
        assert connection["errors"][bad_url]["error"].startswith("TLS handshake failed: certificate not trusted")
        assert connection["errors"][bad_url]["reason"] == "tls"
    finally:
        untrusted.stop()
        trusted.stop()


def _read_retained(broker: object, cert: object, topic: str) -> dict[str, object]:
    import ssl

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[dict[str, object]] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.tls_set(ca_certs=str(broker.ca), certfile=str(cert.cert), keyfile=str(cert.key),  # type: ignore[attr-defined]
                   tls_version=ssl.PROTOCOL_TLS_CLIENT)

    def on_message(c: object, u: object, m: mqtt.MQTTMessage) -> None:
        body = json.loads(m.payload)
        if body.get("state") == "online":
            got.append(body)
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", broker.tls_port)  # type: ignore[attr-defined]
    client.loop_start()
    try:
        assert done.wait(10), "no online status on the trusted broker"
    finally:
        client.loop_stop()
        client.disconnect()
    return got[-1]
