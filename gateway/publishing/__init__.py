"""Publishing: EPCIS 2.0 events, CloudEvents envelopes, audience projections, a durable outbox, MQTT.

Start with :class:`gateway.publishing.publisher.Publisher`; the topic tree is in
:mod:`gateway.publishing.topics` and documented in ``docs/mqtt-topics.md``.
"""
