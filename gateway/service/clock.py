"""Is the host clock synchronised?  Every passage, EPCIS event and declaration window is timed by it.

The kernel knows: whatever keeps the clock in step (chrony, ntpd, systemd-timesyncd, a PTP daemon)
tells it through ``adjtimex(2)``, and the kernel keeps a maximum-error estimate that grows by 500 ppm
while nobody does and saturates at 16 s (``NTP_PHASE_LIMIT``) once synchronisation is lost.  The rule is
systemd-timedated's (what ``timedatectl`` shows as "System clock synchronized"): synchronised when the
maximum error is below 16 s.

``adjtimex`` with no mode bits set only reads, but systemd's sandbox refuses the call altogether
(``SystemCallFilter=@system-service`` and ``ProtectClock=`` leave out ``@clock``, reads included:
systemd issue 26413), so under the shipped unit the check asks ``timedatectl``, which gets the same
answer from timedated over D-Bus.  When neither works (a container without either) the state is
unknown and the metrics leave the values out rather than guess.

>>> from_timex(maxerror_us=120_000)
ClockSync(synchronized=True, max_error_s=0.12, how='adjtimex')
>>> from_timex(maxerror_us=16_000_000).synchronized
False
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

UNSYNCED_US = 16_000_000  # NTP_PHASE_LIMIT: the kernel's maximum error once synchronisation is lost


@dataclass(frozen=True, slots=True)
class ClockSync:
    synchronized: bool | None  # None: cannot be told
    max_error_s: float | None
    how: str  # "adjtimex", "timedatectl" or "unknown"


def from_timex(maxerror_us: int) -> ClockSync:
    return ClockSync(maxerror_us < UNSYNCED_US, round(maxerror_us / 1e6, 6), "adjtimex")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` of ``<sys/timex.h>`` (Linux, glibc): the fields up to ``tai`` and the padding."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("_padding", ctypes.c_int * 11)]


def read_adjtimex() -> ClockSync | None:
    """The kernel's view (``modes = 0``: read only); None when the call is refused or unavailable."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        timex = _Timex()
        if libc.adjtimex(ctypes.byref(timex)) < 0:
            return None  # EPERM under systemd's system call filter
    except (OSError, AttributeError):
        return None
    return from_timex(int(timex.maxerror))


def read_timedatectl(timeout_s: float = 3.0) -> ClockSync | None:
    """timedated's answer (``NTPSynchronized``), over D-Bus; None without systemd."""
    program = shutil.which("timedatectl")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "show", "--property=NTPSynchronized", "--value"], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None
    return ClockSync(answer == "yes", None, "timedatectl")


class ClockCheck:
    """The clock's state, asked at most every ``ttl_s`` (a scrape must not start a process each time)."""

    def __init__(self, ttl_s: float = 30.0,
                 sources: tuple[Callable[[], ClockSync | None], ...] = (read_adjtimex, read_timedatectl)) -> None:
        self.ttl_s, self.sources = ttl_s, sources
        self._state: ClockSync | None = None
        self._at = -float("inf")

    def state(self) -> ClockSync:
        now = time.monotonic()
        if self._state is None or now - self._at >= self.ttl_s:
            state = next((s for s in (source() for source in self.sources) if s is not None),
                         ClockSync(None, None, "unknown"))
            if state.synchronized is False and (self._state is None or self._state.synchronized is not False):
                log.warning("the host clock is not synchronised (%s): passage times may be wrong", state.how)
            self._state, self._at = state, now
        return self._state
