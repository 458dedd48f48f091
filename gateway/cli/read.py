"""``border-gateway read URL``: print normalised reads from one reader or camera.

Installers use it to check real hardware: it opens the URL with the same driver the
service uses and prints one JSON line (or a text line) per read, and status changes on
standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from drivers.registry import DriverNotAvailable, open_source
from gateway.reads import Read, SourceStatus, Trigger, VehicleRead


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("read", help="print normalised reads from a reader or camera URL",
                              description="Open a reader or camera URL (llrp://, mercury://, "
                              "serial-ascii://, impinj-iot+http://, zebra-iot+mqtt://, camera:, "
                              "images:, anpr+webhook://, anpr+mqtt://) and print its reads, plates and "
                              "presence triggers (GPI edges).")
    p.add_argument("url")
    p.add_argument("--id", default="cli", help="source id to report (default: cli)")
    p.add_argument("--limit", type=int, default=0, help="stop after N reads (0: until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="stop after this many seconds (0: no limit)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=handle)


def read_to_json(read: Read) -> dict[str, object]:
    """The JSON line of ``border-gateway read``; shared by the drivers' own CLI formats."""
    ident = read.identifier
    out: dict[str, object] = {
        "reader": read.source,
        "channel": read.channel,
        "carrier": read.carrier,
        "raw": read.raw,
        "scheme": read.scheme,
        "uri": ident.uri if ident else None,
        "key_type": ident.key_type if ident else None,
        "elements": [{"ai": ai, "value": v} for ai, v in ident.elements] if ident else [],
        "error": read.error,
        "host_time": read.host_time,
        "reader_time": read.source_time,
        "count": read.count,
    }
    if read.carrier == "rfid":
        out.update(antenna=read.antenna, rssi_dbm=read.rssi_dbm, epc_hex=read.raw, pc=read.pc,
                   frequency_khz=read.frequency_khz, phase_deg=read.phase_deg)
    else:  # the camera line of issue 7: source, frame, symbology, symbology_id, raw, gs1, position, confirmed
        out.update(source=read.source, frame=read.extra.get("frame"), symbology=read.scheme,
                   symbology_id=read.extra.get("symbology_id"), gs1=read.extra.get("gs1"),
                   position=[list(p) for p in read.position] if read.position else None,
                   confirmed=read.extra.get("confirmed"))
    out.update({k: v for k, v in read.extra.items() if k not in out})
    return out


def vehicle_to_json(read: VehicleRead) -> dict[str, object]:
    """The JSON line of a plate or container reading (``anpr+...`` sources)."""
    return {"source": read.source, "kind": read.kind, "text": read.text, "value": read.value,
            "confidence": read.confidence, "country": read.country, "position": read.position,
            "direction": read.direction, "error": read.error, "host_time": read.host_time,
            "source_time": read.source_time, "event_id": read.event_id, "image_ref": read.image_ref,
            "candidates": [list(c) for c in read.candidates]}


def trigger_to_json(trigger: Trigger) -> dict[str, object]:
    """The JSON line of a presence trigger (a GPI edge, a camera's vehicle detection)."""
    return {"source": trigger.source, "trigger": trigger.label, "kind": trigger.kind, "port": trigger.port,
            "active": trigger.active, "host_time": trigger.host_time, "source_time": trigger.source_time}


def _text_line(event: Read | VehicleRead | Trigger) -> str:
    if isinstance(event, Trigger):
        return f"{event.source} trigger {event.label} {'on' if event.active else 'off'}"
    if isinstance(event, VehicleRead):
        conf = "" if event.confidence is None else f" {event.confidence:.2f}"
        return f"{event.source} {event.kind} {event.value or '-'}{conf} {event.position} {event.error or ''}".rstrip()
    key = f"{event.identifier.key_type}:{event.identifier.key}" if event.identifier else event.error
    return f"{event.source} {event.channel} {event.raw} {key}"


async def _run(args: argparse.Namespace) -> int:
    source = open_source(args.id, args.url)
    count = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout > 0 else None

    async def consume() -> None:
        nonlocal count
        async for event in source.events():
            if isinstance(event, SourceStatus):
                print(f"status {event.source} {event.state} {event.detail}", file=sys.stderr, flush=True)
                continue
            count += 1
            if args.format == "json":
                line = (trigger_to_json(event) if isinstance(event, Trigger) else vehicle_to_json(event)
                        if isinstance(event, VehicleRead) else read_to_json(event))
                print(json.dumps(line, ensure_ascii=False), flush=True)
            else:
                print(_text_line(event), flush=True)
            if args.limit and count >= args.limit:
                return

    try:
        if deadline is None:
            await consume()
        else:
            await asyncio.wait_for(consume(), timeout=max(deadline - loop.time(), 0.0))
    except TimeoutError:
        pass
    finally:
        await source.close()
    return 0 if (count > 0 or not args.limit) else 1


def handle(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except DriverNotAvailable as exc:
        print(f"border-gateway read: {exc}", file=sys.stderr)
        return 3
