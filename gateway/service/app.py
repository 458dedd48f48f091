"""``border-gateway run``: build the gateway from a site configuration and run it until a signal.

Start-up, in this order: the site file is validated; the storage directory is locked (one gateway
per storage: :mod:`gateway.storage.lock`), so that a second ``run`` of the same site refuses before
it opens a database, connects to MQTT or binds the API; the API's certificate is loaded when
``api.tls`` is set; the databases are opened and migrated forward; then the gateway runs.  Each of
these failures is one line on standard error and exit status 1.  Under systemd the service reports
readiness, feeds the watchdog and announces its stop (:mod:`gateway.service.notify`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from gateway.config import ConfigError, SiteConfig, load_config
from gateway.service.gateway import Gateway
from gateway.service.http_server import TlsError, check_tls
from gateway.service.notify import Notifier
from gateway.storage.lock import StorageLock, StorageLocked
from gateway.storage.schema import SchemaError

log = logging.getLogger(__name__)


def build_gateway(config: SiteConfig) -> Gateway:
    """Wire the real components named by the configuration."""
    from gateway.service.wiring import build

    return build(config)


async def run_gateway(gateway: Gateway, notifier: Notifier | None = None) -> None:
    notifier = notifier or Notifier.from_environment()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        notifier.stopping("stopping: closing passages, flushing the outbox")
        gateway.request_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    helper = asyncio.create_task(_tell_systemd(gateway, notifier), name="systemd-notify")
    try:
        await gateway.run()
    finally:
        helper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await helper
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        notifier.close()


async def _tell_systemd(gateway: Gateway, notifier: Notifier) -> None:
    """READY=1 once the gateway runs (API listening, sources started), then WATCHDOG=1 from this loop."""
    if not notifier.enabled:
        return
    await gateway.running.wait()
    config = gateway.config
    notifier.ready(f"running: site {config.site}, gateway {config.gateway}, {len(config.lanes)} lanes")
    interval = notifier.watchdog_interval()
    while interval:  # a loop that hangs stops pinging: systemd then restarts the service
        notifier.watchdog()
        await asyncio.sleep(interval)


def run_from_cli(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        lock = StorageLock(config.storage.path).acquire()
    except StorageLocked as exc:
        print(f"border-gateway run: {exc}; refusing to start a second gateway on it "
              "(it would take over the running one's MQTT session and outbox)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"border-gateway run: storage {config.storage.path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        if config.api.tls is not None:
            check_tls(config.api.tls.cert, config.api.tls.key)
        gateway = build_gateway(config)
        asyncio.run(run_gateway(gateway))
    except (TlsError, SchemaError) as exc:
        print(f"border-gateway run: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    return 0
