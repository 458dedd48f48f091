"""One gateway per storage directory: an exclusive lock taken at start-up.

Two gateways started from the same site file would connect with the same MQTT client id (each one
knocking the other off the broker), write the same outbox and bind the same port.  ``run`` therefore
takes an exclusive ``flock`` on ``{storage.path}/gateway.lock`` before it opens a database, connects
to MQTT or binds the API, and a second ``run`` refuses with one line naming the process that holds
it.  ``restore`` takes the same lock, so that nothing runs on files being replaced.  The kernel
releases the lock when its holder exits, however it exits (``kill -9`` included): there is never a
stale lock to remove by hand.

>>> import tempfile
>>> directory = tempfile.mkdtemp()
>>> first = StorageLock(directory).acquire()
>>> StorageLock(directory).acquire()
Traceback (most recent call last):
...
gateway.storage.lock.StorageLocked: storage .../ is in use by another gateway (pid ...)
>>> holder(directory) == os.getpid()
True
>>> first.release()
>>> holder(directory) is None
True
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "gateway.lock"


class StorageLocked(RuntimeError):
    """Another process holds the storage directory."""

    def __init__(self, directory: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"storage {directory}/ is in use by another gateway ({who})")
        self.directory, self.pid = directory, pid


class StorageLock:
    """An exclusive, non-blocking lock on a storage directory (created if missing)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> StorageLock:
        """Take the lock or raise :class:`StorageLocked`; the lock file then holds our pid."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: opening must not wipe the holder's pid before we know we hold the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageLocked(self.directory, _read_pid(self.path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> StorageLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(directory: str | Path) -> int | None:
    """The pid of the process holding ``directory``'s lock (0 if it wrote none yet), None when nobody does."""
    path = Path(directory) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or 0
    finally:
        os.close(fd)  # also releases the shared lock, when we got it
    return None


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
