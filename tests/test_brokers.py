"""The broker fixtures themselves: a real Mosquitto answers, restarts keep the port, TLS and ACL hold."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.brokers import MosquittoBroker, SharedBroker, TlsBroker, port_open


def _roundtrip(host: str, port: int, topic: str, configure: Callable[[mqtt.Client], None] | None = None,
               publisher_configure: Callable[[mqtt.Client], None] | None = None) -> bytes | None:
    got: list[bytes] = []
    done = threading.Event()
    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    if configure:
        configure(sub)
    sub.on_message = lambda c, u, m: (got.append(m.payload), done.set())
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    sub.connect(host, port)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2)
        (publisher_configure or configure or (lambda c: None))(pub)
        pub.connect(host, port)
        pub.loop_start()
        pub.publish(topic, b"hello", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        done.wait(3)
    finally:
        sub.loop_stop()
        sub.disconnect()
    return got[0] if got else None


def test_shared_broker_round_trip(mqtt_broker: SharedBroker) -> None:
    assert _roundtrip(mqtt_broker.host, mqtt_broker.port, "bx-test/fixture/shared") == b"hello"


def test_private_broker_restarts_on_the_same_port(private_broker: Callable[..., MosquittoBroker]) -> None:
    broker = private_broker()
    port = broker.port
    broker.stop()
    assert not port_open(broker.host, port)
    broker.start()
    assert broker.port == port
    assert _roundtrip(broker.host, port, "bx-test/fixture/private") == b"hello"


def test_tls_broker_mutual_tls_and_acl(tls_broker: TlsBroker) -> None:
    gw = tls_broker.client_cert("gw-a")

    def tls_as(cn: str) -> Callable[[mqtt.Client], None]:
        cert = tls_broker.client_cert(cn)

        def configure(client: mqtt.Client) -> None:
            client.tls_set(ca_certs=str(tls_broker.ca), certfile=str(cert.cert), keyfile=str(cert.key),
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        return configure

    assert gw.cert.exists()
    # gw-a may publish under its own id, and customs-consumer may read it.
    ok = _roundtrip(tls_broker.host, tls_broker.tls_port, "bx/v1/customs/site1/gw-a/enriched/lane1",
                    configure=tls_as("customs-consumer"), publisher_configure=tls_as("gw-a"))
    assert ok == b"hello"
    # gw-a may not publish under gw-b's id: the subscriber sees nothing.
    denied = _roundtrip(tls_broker.host, tls_broker.tls_port, "bx/v1/customs/site1/gw-b/enriched/lane1",
                        configure=tls_as("customs-consumer"), publisher_configure=tls_as("gw-a"))
    assert denied is None


def test_password_listener_rejects_wrong_password(tls_broker: TlsBroker) -> None:
    results: list[object] = []
    event = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("gw-a", "wrong")
    client.on_connect = lambda c, u, f, rc, p: (results.append(rc), event.set())
    client.connect(tls_broker.host, tls_broker.password_port)
    client.loop_start()
    try:
        assert event.wait(5)
    finally:
        client.loop_stop()
        client.disconnect()
    assert results and getattr(results[0], "is_failure", True)
