"""``border-gateway config check FILE`` / ``config schema`` / ``config example``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.config import ConfigError, json_schema, load_config
from gateway.shipped import shipped


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("config", help="validate a site configuration or print its JSON Schema")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a site YAML; every problem is listed with its key path")
    check.add_argument("file")
    check.set_defaults(handler=handle_check)
    schema = actions.add_parser("schema", help="print the JSON Schema of the site YAML")
    schema.set_defaults(handler=handle_schema)
    example = actions.add_parser("example", help="print the documented two-lane example site file "
                                 "(start a site.yaml from it)")
    example.set_defaults(handler=handle_example)


def handle_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    readers = sum(len(lane.readers) for lane in config.lanes)
    cameras = sum(len(lane.cameras) for lane in config.lanes)
    print(f"{args.file}: ok (site {config.site}, gateway {config.gateway}, {len(config.lanes)} lanes, "
          f"{readers} readers, {cameras} cameras)")
    return 0


def handle_schema(args: argparse.Namespace) -> int:
    json.dump(json_schema(), sys.stdout, indent=2)
    print()
    return 0


def handle_example(args: argparse.Namespace) -> int:
    sys.stdout.write(shipped("site.example.yaml").read_text(encoding="utf-8"))
    return 0
