"""A loopback TCP proxy in front of a real broker that plays an MQTT 3.1.1-only broker.

Mosquitto accepts MQTT 5 and 3.1.1 alike, so the client's fallback cannot be tested against it
directly.  :class:`Mqtt311OnlyProxy` reads each connection's CONNECT packet: protocol level 5 gets
the answer an MQTT 3.1.1 broker gives (CONNACK, return code 1 "unacceptable protocol version")
and the connection is closed; any other level is forwarded to the real broker byte for byte, and
from then on the proxy only copies bytes both ways.  ``levels`` records what each client asked for.

Bounded: every socket has a timeout, the threads are daemons, and :meth:`stop` closes everything.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from tests.support.brokers import LOOPBACK

REFUSE_V5 = b"\x20\x02\x00\x01"  # CONNACK, remaining length 2, no session, rc 1: unacceptable protocol version


def _read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed before the CONNECT was complete")
        data += chunk
    return data


def read_connect(sock: socket.socket) -> tuple[bytes, int]:
    """The whole CONNECT packet and its protocol level (4 = MQTT 3.1.1, 5 = MQTT 5)."""
    head = _read_exact(sock, 1)
    if head[0] >> 4 != 1:
        raise ConnectionError(f"first packet is not CONNECT: 0x{head[0]:02x}")
    length, shift, raw = 0, 0, b""
    for _ in range(4):  # MQTT's variable-length integer: at most 4 bytes
        byte = _read_exact(sock, 1)
        raw += byte
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    body = _read_exact(sock, length)
    name_length = int.from_bytes(body[:2], "big")
    level = body[2 + name_length]
    return head + raw + body, level


@dataclass
class Mqtt311OnlyProxy:
    upstream_host: str
    upstream_port: int
    host: str = LOOPBACK
    port: int = 0
    levels: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, self.port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="mqtt311-proxy", daemon=True)

    def start(self) -> Mqtt311OnlyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv(); close() alone may not
                except OSError:
                    pass
                sock.close()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self._keep(client),), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            connect, level = read_connect(client)
        except (ConnectionError, OSError, IndexError):
            client.close()
            return
        with self._lock:
            self.levels.append(level)
        if level == 5:
            client.sendall(REFUSE_V5)
            client.close()
            return
        upstream = self._keep(socket.create_connection((self.upstream_host, self.upstream_port), timeout=10))
        upstream.sendall(connect)
        client.settimeout(None)
        upstream.settimeout(None)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
