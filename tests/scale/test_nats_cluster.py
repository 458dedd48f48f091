"""The gateway on a three-node NATS cluster (JetStream + MQTT on every node): one node dies mid-run.

NATS 2.9 refuses MQTT 5, so ``mqtt.protocol: auto`` falls back to 3.1.1 on the first node and keeps it
for the others; the consumer reads from another node than the gateway's, with a persistent session.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.publishing.support import close_passages, make_publisher, record_event_ids
from tests.support.consumer import EventConsumer
from tests.support.nats import NatsCluster


def test_node_killed_under_the_gateway_loses_nothing(nats3: NatsCluster, tmp_path: Path) -> None:
    urls = nats3.mqtt_urls
    consumer = EventConsumer([urls[2]], "bx/v1/#", protocol="3.1.1", client_id="nats-consumer",
                             persistent=True).start(20)
    pub = make_publisher(tmp_path, gateway="gw-nats", urls=urls)
    stored = record_event_ids(pub)
    pub.start()
    try:
        assert pub.link.connected.wait(15), nats3.logs()
        assert pub.link.broker.url == urls[0] and pub.link.protocol == "3.1.1"
        close_passages(pub, 30, pause=0.02, at=(15, lambda: nats3.kill(0))).join(30)  # SIGKILL its node
        assert pub.wait_idle(40), "the outbox did not drain on the surviving nodes"
        missing = consumer.wait_for_ids(stored, 30)
        status = consumer.wait_for(lambda d: d.topic == "bx/v1/ops/s1/gw-nats/status"
                                   and f'"broker":"{pub.link.broker.url}"' in d.payload.decode(), 15)
    finally:
        pub.stop()
        consumer.stop()
    assert not missing, f"{len(missing)} of {len(set(stored))} events lost"
    assert consumer.conflicting_duplicates() == []  # duplicates only ever repeat a message, same id
    # A node that comes up empty-handed right after the kill (JetStream still electing leaders) closes the
    # CONNECT after a 4 s timeout: the link may end on the third node rather than the second.
    assert pub.link.broker.url in urls[1:]
    assert status is not None
    connection = json.loads(status.payload)["connection"]
    assert connection["broker"] == pub.link.broker.url and connection["protocol"] == "3.1.1"
    assert connection["failovers"] >= 1 and urls[0] in connection["errors"]
