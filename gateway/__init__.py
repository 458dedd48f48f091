"""gs1-border-gateway: GS1 identifiers from border lanes to the pre-clearance system.

The data flows through modules named after each stage::

    drivers/ (reads)  ->  gateway.gs1 (identifiers)  ->  gateway.lane (lane events)
    ->  gateway.enrichment  ->  gateway.publishing (outbox, MQTT)
"""

__version__ = "0.1.0"
