"""A retained state set while a connection comes up is never lost (``MqttLink.publish_state`` and the birth).

Found by the decisions end-to-end test under load: a lane's new signal was set while its connection was being
re-established after a broker restart.  The birth had already read the old signal, and ``connected`` was not
set yet, so the new one was neither in the birth nor published: the lane showed the old decision until the
next change.  Here the interleaving is forced: the birth waits until another thread is inside
``publish_state`` with the newer state.
"""

from __future__ import annotations

import threading
import time
import uuid

from gateway.config.mqtt import MqttConfig
from gateway.publishing.mqtt_client import MqttLink, Will
from tests.publishing.support import Subscriber
from tests.support.brokers import SharedBroker


def test_a_state_set_during_the_birth_reaches_the_broker(mqtt_broker: SharedBroker) -> None:
    topic = f"bx-test/retained-state/{uuid.uuid4().hex}"
    state = {"body": b'{"state":"old"}'}
    inside = threading.Event()
    later: list[threading.Thread] = []
    handed: list[bool] = []

    def change() -> None:
        state["body"] = b'{"state":"new"}'  # set first, then published: the contract of publish_state
        inside.set()
        handed.append(link.publish_state(topic, state["body"], {}))

    def birth() -> tuple[str, bytes]:
        body = state["body"]  # the birth reads the old state ...
        if not later:  # ... and, on the first connect only, the state changes before ``connected`` is set
            later.append(threading.Thread(target=change))
            later[0].start()
            assert inside.wait(5)
            time.sleep(0.2)  # the other thread is now waiting on the state lock, not skipping the publish
        return topic, body

    link = MqttLink(MqttConfig(url=mqtt_broker.url), f"bx-test-state-{uuid.uuid4().hex[:8]}",
                    will=Will(topic, b'{"state":"will"}'), birth=birth)
    link.start()
    try:
        assert link.connected.wait(10)
        later[0].join(5)
        assert handed == [True]  # handed to paho once the birth went out, not dropped for "not connected"
        seen = Subscriber(mqtt_broker.host, mqtt_broker.port, topic).start()
        try:
            got = seen.wait_for(lambda msgs: bool(msgs) and msgs[-1].payload == b'{"state":"new"}', timeout=10)
            assert got and got[-1].payload == b'{"state":"new"}' and got[-1].retain
        finally:
            seen.stop()
    finally:
        link.stop(offline=b"")  # an empty retained message: the topic is left clean
