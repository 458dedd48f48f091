"""systemd's notify protocol: start-up readiness, the watchdog, and stopping (``Type=notify``, ``WatchdogSec=``).

Under systemd, ``NOTIFY_SOCKET`` names a unix datagram socket (a path, or ``@name`` in the abstract
namespace); each datagram is newline-separated ``KEY=value`` assignments.  The service sends
``READY=1`` once its API listens and its sources are started, ``WATCHDOG=1`` every half of
``WATCHDOG_USEC`` from its event loop (a loop that hangs stops the pings, and systemd restarts the
service), ``STATUS=...`` lines a person reads in ``systemctl status``, and ``STOPPING=1`` when a
stop begins.  Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.

>>> import socket, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "notify")
>>> manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); manager.bind(path)
>>> notifier = Notifier.from_environment({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})
>>> notifier.ready("running"), manager.recv(100)
(True, b'READY=1\\nSTATUS=running')
>>> notifier.watchdog_interval()
5.0
>>> Notifier.from_environment({}).ready()
False
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notify datagrams to ``address`` (None: not under systemd, nothing is sent)."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID, when set, names the process the watchdog is for (a child must not answer for us).
        watchdog = int(usec) if usec.isdigit() and int(usec) > 0 and pid in ("", str(os.getpid())) else None
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half the timeout, as systemd advises), None: no watchdog."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False when not under systemd or when it failed."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(assignments).encode("utf-8"), target)
        except OSError as exc:
            if not self._warned:  # once: a watchdog ping every few seconds must not flood the log
                log.warning("systemd notify socket %s: %s", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
