"""A pseudo-terminal that a serial reader simulator owns, with unplug/replug.

The simulator holds the master side; the driver opens :attr:`PtyPort.path`, a stable
symlink in a private directory that is re-pointed to a fresh slave on each replug, so the
driver's URL stays valid across an unplug (closing the master gives the driver EIO, like a
USB adapter pulled out).

>>> port = PtyPort(name="ttyDOC")
>>> import os; os.path.islink(port.path) and port.plugged
True
>>> port.unplug(); os.path.exists(port.path), port.plugged
(False, False)
>>> port.replug(); port.plugged
True
>>> port.close()
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import tempfile
import time
import tty


class PtyPort:
    def __init__(self, path: str | None = None, name: str = "ttySIM") -> None:
        if path is None:
            self._dir: str | None = tempfile.mkdtemp(prefix="bg-pty-")
            path = os.path.join(self._dir, name)
        else:
            self._dir = None
        self.path = path
        self.master: int | None = None
        self._slave: int | None = None
        self.bytes_written = 0
        self.bytes_dropped = 0
        self.replug()

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def replug(self) -> None:
        """A new pty behind the same path (the reader was plugged in again)."""
        self.unplug()
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: bytes pass as on a real UART
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        tmp = f"{self.path}.tmp{os.getpid()}"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        """Close both sides: the driver's next read fails with EIO; the path disappears."""
        for fd in (self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self._slave = None
        if os.path.lexists(self.path):
            os.unlink(self.path)

    def close(self) -> None:
        self.unplug()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def read(self, size: int = 65536) -> bytes:
        if self.master is None:
            return b""
        try:
            return os.read(self.master, size)
        except BlockingIOError:
            return b""
        except OSError as exc:  # EIO while no slave is open
            if exc.errno == errno.EIO:
                return b""
            raise

    def wait_readable(self, timeout: float) -> bool:
        if self.master is None:
            time.sleep(timeout)
            return False
        readable, _, _ = select.select([self.master], [], [], timeout)
        return bool(readable)

    def write(self, data: bytes, timeout: float = 2.0) -> bool:
        """Write all of ``data``, waiting (like hardware flow control) up to ``timeout`` while
        the driver does not read; the rest is dropped and counted (a UART does not block)."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            if self.master is None:
                self.bytes_dropped += len(view)
                return False
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                n = 0
            except OSError:
                self.bytes_dropped += len(view)
                return False
            self.bytes_written += n
            view = view[n:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.bytes_dropped += len(view)
                    return False
                select.select([], [self.master], [], min(remaining, 0.05))
        return True
