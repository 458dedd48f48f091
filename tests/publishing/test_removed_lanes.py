"""A lane removed from the configuration has its retained state cleared on the broker.

The publisher records the lanes it publishes for in the outbox database (table ``lanes``, outbox schema 2).
At start-up, a lane the previous run had and this configuration no longer has gets an empty retained
message on ``ops/.../lane/{lane}/state``; on a reload, :meth:`Publisher.set_lanes` does the same at once.
Checked against a real Mosquitto: a new subscriber receives no retained state for the removed lane.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.config.mqtt import MqttConfig
from gateway.publishing.epcis import EpcisContext
from gateway.publishing.publisher import Publisher
from tests.publishing.support import Subscriber, make_publisher
from tests.support.brokers import SharedBroker

STATE = "bx/v1/ops/s1/{gw}/lane/+/state"


def _retained_lanes(broker: SharedBroker, gateway: str) -> set[str]:
    """The lanes whose state a new subscriber receives as retained messages (after a short settle)."""
    sub = Subscriber(broker.host, broker.port, STATE.format(gw=gateway)).start()
    try:
        time.sleep(0.5)  # retained messages come right after the SUBACK
        return {m.topic.split("/")[-2] for m in sub.messages if m.retain and m.payload}
    finally:
        sub.stop()


def _publish_states(pub: Publisher, lanes: list[str]) -> None:
    pub.start()
    for lane in lanes:
        pub.publish_lane_state(lane)
    assert pub.wait_idle(10), "the lane states were not acknowledged"


def test_a_lane_dropped_between_two_runs_is_cleared_at_start_up(tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    gateway = f"gw-lanes-{time.monotonic_ns()}"
    first = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway=gateway)  # lanes L1, L2
    try:
        _publish_states(first, ["L1", "L2"])
    finally:
        first.stop()
    assert _retained_lanes(mqtt_broker, gateway) == {"L1", "L2"}

    # The next run's configuration has L1 only (same storage).
    second = Publisher(mqtt=MqttConfig(url=mqtt_broker.url), site="s1", gateway=gateway,
                       lanes={"L1": EpcisContext(lane="L1")}, outbox_path=tmp_path / "outbox.sqlite")
    try:
        second.start()
        assert second.wait_idle(10)
        assert _retained_lanes(mqtt_broker, gateway) == {"L1"}
        assert second.outbox.lanes() == {"L1"}
    finally:
        second.stop()
        _clear(mqtt_broker, gateway, ["L1"])


def test_set_lanes_clears_a_removed_lane_and_keeps_the_others(tmp_path: Path, mqtt_broker: SharedBroker) -> None:
    gateway = f"gw-reload-{time.monotonic_ns()}"
    pub = make_publisher(tmp_path, mqtt_broker.host, mqtt_broker.port, gateway=gateway)
    try:
        _publish_states(pub, ["L1", "L2"])
        gone = pub.set_lanes({"L1": pub.lanes["L1"], "L3": EpcisContext(lane="L3")}, {"L1": "one", "L3": None})
        assert gone == ["L2"]
        assert pub.wait_idle(10)
        assert _retained_lanes(mqtt_broker, gateway) == {"L1"}
        assert pub.outbox.lanes() == {"L1", "L3"}
        assert [lane.id for lane in pub.capabilities().lanes] == ["L1", "L3"]
    finally:
        pub.stop()
        _clear(mqtt_broker, gateway, ["L1"])


def _clear(broker: SharedBroker, gateway: str, lanes: list[str]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for lane in lanes:
            client.publish(STATE.format(gw=gateway).replace("+", lane), b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
