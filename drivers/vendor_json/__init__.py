"""Vendor JSON feeds (Impinj IoT Device Interface, Zebra IoT Connector) mapped into normalised reads.

* :mod:`drivers.vendor_json.mapping` - pure JSON -> :class:`gateway.reads.Read` functions;
* :mod:`drivers.vendor_json.sources` - the MQTT and HTTP NDJSON I/O shells;
* :mod:`drivers.vendor_json.webhook` - the receiver the Impinj webhook POSTs its batches to;
* :mod:`drivers.vendor_json.impinj` / :mod:`drivers.vendor_json.zebra` - the registry entry points.
"""
