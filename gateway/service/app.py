"""``border-gateway run``: build the gateway from a site configuration and run it until a signal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from gateway.config import ConfigError, SiteConfig, load_config
from gateway.service.gateway import Gateway

log = logging.getLogger(__name__)


def build_gateway(config: SiteConfig) -> Gateway:
    """Wire the real components named by the configuration."""
    from gateway.service.wiring import build

    return build(config)


async def run_gateway(gateway: Gateway) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gateway.request_stop)
    try:
        await gateway.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_from_cli(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    gateway = build_gateway(config)
    asyncio.run(run_gateway(gateway))
    return 0
