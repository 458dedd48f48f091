"""``border-gateway simulate preclearance``: the central pre-clearance system the test bench needs.

It is the other end of the gateway's contract and sees the gateway only on the wire:

* **in**: the enriched records, ``{base}/customs/+/+/enriched/+`` (CloudEvents, ``data`` = the enriched
  record, see ``docs/mqtt-topics.md``), through the MQTT 5 shared subscription
  ``$share/{group}/...``, so that N instances share the work; on NATS (``--nats-url``), whose MQTT
  listener has no shared subscriptions, through a JetStream durable pull consumer named after the group
  over a stream on ``bx.v1.customs.*.*.enriched.*`` (:mod:`.nats_intake`);
* **out**: ``bx.decision.v1`` decisions (:class:`gateway.decisions.model.Decision`) on the gateway's
  decision intake ``{base}/in/{site}/{gw}/decisions`` (the gateway that published the record), or on
  the office topic ``{base}/in/office/{office}/decisions``: pre-arrival decisions go to the office of
  first entry the declaration names unless gateways are given (``--to site/gw``), post-passage ones to
  ``--office`` with ``--via-office``;
* **store** (optional, ``--store DSN``): what it receives, in PostgreSQL, idempotent by CloudEvents id,
  every revision kept and the latest one per passage as "current" (:mod:`.store`).

The rules (:mod:`.rules`; seeded, so a run is reproducible and every member decides alike):

* *before arrival*, for each declaration in the files given (``--declarations``, the same JSON, JSON
  Lines or CSV files ``border-gateway import declarations`` reads), at start-up and every ``--rescan``
  seconds: each SPS/CITES agency the routing table names for a goods item decides
  ``documentary-check`` (``physical-inspection`` when the documents it expects are not referenced);
  customs decides ``physical-inspection`` for a seeded share (``--random-inspection``, default 5 %),
  ``release`` otherwise.  ``--defer MRN`` / ``--defer-share`` keep declarations for after the passage.
* *after the passage*, for each enriched record: a ``critical`` flag puts the passage on ``hold``, a
  ``high`` one sends it to ``physical-inspection`` (subject ``passageId``); an MRN it links that was not
  decided before arrival gets the declaration rules (subject ``mrn``, the agencies from the record's
  routing); a record without any declaration gets them on the passage.  ``--decision-delay`` holds
  these back, as a central system's processing would, so they arrive after the passage closed.
* an agency never sends a lower or equal outcome for a subject it already decided; decision ids are
  hashes of (seed, subject, agency, outcome), so members and restarts repeat ids, never decisions.

Embedding (the demo; tests)::

    sim = PreclearanceSimulator(PreclearanceConfig(mqtt_url=url, declarations=(path,)))
    sim.start()          # connected, subscribed, pre-lodged declarations decided
    ...                  # sim.published: the (topic, decision) pairs sent; sim.snapshot(): counters
    sim.stop()

CLI: the first line printed is ``subscribed <filter> on <url>``; the last one, at SIGINT/SIGTERM or after
``--duration``, is a JSON summary of the counters.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from simulators.preclearance.records import BadRecord, EnrichedRecord, parse_enriched
from simulators.preclearance.rules import Desk, Rules
from simulators.preclearance.service import PreclearanceConfig, PreclearanceSimulator
from simulators.preclearance.store import DEFAULT_SCHEMA, CentralStore, StoreError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", help="broker (default %(default)s)")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5",
                        help="5 (default; shared subscription) or 3.1.1 (one member only)")
    parser.add_argument("--base-topic", default="bx/v1")
    parser.add_argument("--group", default="preclearance", help="shared-subscription group (default %(default)s)")
    parser.add_argument("--client-id", default=None, help="stable id: with --session-expiry, a restarted "
                        "member gets the messages queued for it")
    parser.add_argument("--session-expiry", type=int, default=0, help="seconds the broker keeps the session")
    parser.add_argument("--declarations", action="append", default=[], metavar="FILE",
                        help="pre-lodged declarations (JSON / JSON Lines / CSV); repeatable")
    parser.add_argument("--rescan", type=float, default=None, metavar="S", help="read the files again every S s")
    parser.add_argument("--to", action="append", default=[], metavar="SITE/GW",
                        help="send pre-arrival decisions to this gateway's intake (default: the office topic)")
    parser.add_argument("--office", default=None, help="customs office for --via-office, e.g. DE004056")
    parser.add_argument("--via-office", action="store_true", help="post-passage decisions to the office topic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-inspection", type=float, default=0.05, help="share customs inspects at random")
    parser.add_argument("--sps-outcome", choices=("documentary-check", "release", "physical-inspection"),
                        default="documentary-check", help="SPS/CITES outcome when the expected documents are there")
    parser.add_argument("--defer", action="append", default=[], metavar="MRN",
                        help="decide this declaration only after its passage; repeatable")
    parser.add_argument("--defer-share", type=float, default=0.0, help="seeded share of declarations deferred")
    parser.add_argument("--decision-delay", type=float, default=0.0, metavar="S",
                        help="seconds between a record and its decisions")
    parser.add_argument("--store", default=None, metavar="DSN", help="PostgreSQL, e.g. postgresql://127.0.0.1/test")
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help="PostgreSQL schema (default %(default)s)")
    parser.add_argument("--store-only", action="store_true", help="store, decide nothing")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--nats-url", default=None, metavar="URL[,URL]",
                        help="consume from NATS JetStream (a durable pull consumer named --group, shared by the "
                        "members) instead of an MQTT shared subscription; decisions still go to --mqtt-url")
    parser.add_argument("--nats-stream", default="BX_ENRICHED", help="JetStream stream (default %(default)s)")
    parser.add_argument("--nats-replicas", type=int, default=1, help="stream replicas when creating it (3 in a "
                        "cluster; default %(default)s)")
    parser.add_argument("--ack-wait", type=float, default=30.0, metavar="S",
                        help="JetStream: redeliver what a member did not acknowledge after S s (default %(default)s)")


def config_from_args(args: argparse.Namespace) -> PreclearanceConfig:
    """Raises ValueError with a one-line reason for bad options."""
    targets = []
    for target in args.to:
        site, _, gw = target.partition("/")
        if not site or not gw or "/" in gw:
            raise ValueError(f"--to {target!r}: expected SITE/GATEWAY")
        targets.append((site, gw))
    return PreclearanceConfig(
        mqtt_url=args.mqtt_url, base_topic=args.base_topic, group=args.group, protocol=args.protocol,
        client_id=args.client_id, session_expiry_s=args.session_expiry,
        rules=Rules(seed=args.seed, random_inspection=args.random_inspection, sps_outcome=args.sps_outcome),
        decide=not args.store_only, declarations=tuple(Path(p) for p in args.declarations), rescan_s=args.rescan,
        defer=frozenset(args.defer), defer_share=args.defer_share, prelodged_to=tuple(targets),
        office=args.office, via_office=args.via_office, decision_delay_s=args.decision_delay,
        store_dsn=args.store, store_schema=args.schema, nats_url=args.nats_url, nats_stream=args.nats_stream,
        nats_replicas=args.nats_replicas, ack_wait_s=args.ack_wait)


def main(args: argparse.Namespace) -> int:
    """Bad options raise ValueError, an unusable broker or database OSError: the CLI makes them one line."""
    config = config_from_args(args)
    for path in config.declarations:
        if not path.is_file():
            raise ValueError(f"--declarations {path}: no such file")
    sim = PreclearanceSimulator(config)
    sim.start()
    print(f"subscribed {config.topic_filter} on {config.source_url}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait(args.duration)
    sim.stop()
    print(json.dumps({"preclearance": sim.snapshot()}), flush=True)
    return 0


__all__ = ["BadRecord", "CentralStore", "Desk", "EnrichedRecord", "PreclearanceConfig", "PreclearanceSimulator",
           "Rules", "StoreError", "add_arguments", "config_from_args", "main", "parse_enriched"]
