"""Zebra IoT Connector (FX7500, FX9600, ATR7000): tag data events over MQTT.

``zebra-iot+mqtt://broker[:1883]/<base>/d-evt`` subscribes to the Data interface topic.

>>> open_mqtt_source("fx9600", "zebra-iot+mqtt://127.0.0.1/lane1/d-evt").topic
'lane1/d-evt'
"""

from __future__ import annotations

from drivers.vendor_json.mapping import zebra_reads
from drivers.vendor_json.sources import MQTTJsonSource


def open_mqtt_source(source_id: str, url: str) -> MQTTJsonSource:
    return MQTTJsonSource(source_id, url, zebra_reads)
