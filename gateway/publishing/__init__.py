"""Publishing: EPCIS 2.0 events, CloudEvents envelopes, audience projections, a durable outbox, MQTT.

Start with :class:`gateway.publishing.publisher.Publisher`, the shell around :mod:`.compose` (a closed
passage and its enrichment to messages, sans-I/O), :mod:`.sender` (outbox to broker), :mod:`.status`
and :mod:`.commands`; ``docs/architecture.md`` shows where they sit.  The topic tree is in
:mod:`gateway.publishing.topics` and documented in ``docs/mqtt-topics.md``.
"""
