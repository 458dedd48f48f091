"""General-purpose outputs of an LLRP reader: the levels they should have, handed to the live connection.

:class:`GpoOutputs` keeps, per reader (source id), the level each output port should have and hands
every change to the reader's running :class:`~drivers.llrp.client.LLRPSource`, from any thread.  The
client writes the changes with SET_READER_CONFIG / GPOWriteData (type 219) and, on each (re)connect,
writes every level again: a reader's outputs match what was asked last, even after a reader reboot or
a write made while the connection was down.

>>> outputs = GpoOutputs("rdr-1")
>>> outputs.set({1: True, 2: False})      # no connection yet: kept for the next one
>>> sent = []
>>> outputs.attach(sent.append)           # the client on connect: every level comes back at once
{1: True, 2: False}
>>> outputs.set({2: True})
>>> sent, outputs.levels()
([{2: True}], {1: True, 2: True})
>>> outputs.detach(sent.append); outputs.set({1: False}); sent
[{2: True}]

:func:`outputs_for` is the process-wide table the client and the lane's signal sink share (the
supervisor opens drivers by URL, so the sink cannot hand its object to the client directly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

Writer = Callable[[dict[int, bool]], None]


class GpoOutputs:
    """The wanted output levels of one reader and the writer of its current connection (thread-safe)."""

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self._levels: dict[int, bool] = {}
        self._lock = threading.Lock()
        self._writer: Writer | None = None

    def set(self, levels: Mapping[int, bool]) -> None:
        """Ask for these levels; a connected client gets them at once (its writer must not block)."""
        if not levels:
            return
        change = {int(port): bool(high) for port, high in levels.items()}
        with self._lock:
            self._levels.update(change)
            if self._writer is not None:
                self._writer(change)  # under the lock: writes reach the connection in the order asked

    def levels(self) -> dict[int, bool]:
        with self._lock:
            return dict(self._levels)

    def attach(self, writer: Writer) -> dict[int, bool]:
        """A connection is up: later changes go to ``writer``; returns every level to write now."""
        with self._lock:
            self._writer = writer
            return dict(self._levels)

    def detach(self, writer: Writer) -> None:
        with self._lock:
            if self._writer == writer:
                self._writer = None

    @property
    def attached(self) -> bool:
        return self._writer is not None


_TABLE: dict[str, GpoOutputs] = {}
_TABLE_LOCK = threading.Lock()


def outputs_for(source_id: str) -> GpoOutputs:
    """The :class:`GpoOutputs` of reader ``source_id`` (created on first use)."""
    with _TABLE_LOCK:
        found = _TABLE.get(source_id)
        if found is None:
            found = _TABLE[source_id] = GpoOutputs(source_id)
        return found
