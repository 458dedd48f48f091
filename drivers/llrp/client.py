"""The asyncio LLRP reader client: a thin I/O shell around the codec, yielding normalised reads.

One connection goes through the sequence of LLRP 1.1 §20.1 / rfid.md 1a:

1. connect, then wait for the ConnectionAttemptEvent (send nothing before it);
1b. version negotiation (LLRP 1.1 §9.1): GET_SUPPORTED_VERSION in a 1.1 header; a 1.1
   reader answers with its current and highest version and SET_PROTOCOL_VERSION(2) switches
   the connection to 1.1; a 1.0.1 reader answers with an ERROR_MESSAGE (M_UnsupportedVersion,
   or M_UnsupportedMessage) and the client stays on 1.0.1.  A reader that drops the connection
   or stays mute instead is remembered: later connections skip the negotiation;
2. GET_READER_CAPABILITIES (power table, hop-table frequencies, antenna count);
3. SET_READER_CONFIG with a periodic KeepaliveSpec and the event notifications, then
   ENABLE_EVENTS_AND_REPORTS (releases readers that hold reports after a reconnect);
3b. with ``gpi=`` ports: SET_READER_CONFIG with a GPIPortCurrentState per port (GPIConfig on), so
   that the reader reports their edges (LLRP 1.1 §13.2.6.2: a GPI is silent until enabled).  Each
   GPIEvent becomes a :class:`~gateway.reads.Trigger` (``gpi:{source}:{port}``), which the site
   configuration's ``gpi_entry`` / ``gpi_exit`` turn into lane triggers.  A reader that refuses
   (no GPIs) is logged once and the session goes on without triggers;
4. DELETE_ACCESSSPEC(0), DELETE_ROSPEC(0) (a clean slate), ADD_ROSPEC (streaming: report every
   N >= 1 tags or every N ms), ENABLE_ROSPEC (and START_ROSPEC for a Null start trigger);
   With ``gpi_start`` the ROSpec starts on a GPI edge instead (and stops on ``gpi_stop``), so the
   reader inventories only while a vehicle is over the loop; it stays Inactive until then;
4b. GET_ROSPECS: the ROSpec's CurrentState must be Active.  Some readers (the llrpkit emulator
   among them) leave an enabled ROSpec Inactive whatever its Immediate start trigger says and
   start it only on START_ROSPEC: the client then sends START_ROSPEC itself.  A reader that
   cannot tell the state gets a START_ROSPEC too, whose refusal is not fatal;
5. consume RO_ACCESS_REPORTs and READER_EVENT_NOTIFICATIONs, ACK every KEEPALIVE;
6. general-purpose outputs (:mod:`drivers.llrp.gpo`): once configured, the connection writes every level
   asked of this reader's outputs (SET_READER_CONFIG with one GPOWriteData per port), then each change as
   it comes, from any thread; a refusal is logged once and the session goes on.  A change asked while
   disconnected is written on the next connection, with all the others.  :meth:`LLRPSource.write_gpo`
   writes directly and raises when the reader refuses.

A watchdog declares the connection dead when nothing arrives for ``misses`` keepalive
intervals; any fault leads to a reconnect with jittered exponential backoff
(:mod:`drivers.backoff`).  :meth:`LLRPSource.close` disables and deletes the ROSpec, sends
CLOSE_CONNECTION and waits for its response.  Reader quirks are tolerated: an ERROR_MESSAGE
for a message that has no response (ENABLE_EVENTS_AND_REPORTS), an enabled ROSpec that does
not start by itself, empty reports, reports that arrive before the ROSpec is installed (the
backlog burst after a reconnect), and reader clocks that were never set (``source_time`` is
the reader's claim; ``host_time`` is when the report arrived).  Each deviation the client works
around is logged once per source, in one line saying what the reader did and what the client
did about it (``LLRPSource.workarounds`` keeps them).

>>> src = open_source("dock-1", "llrp://127.0.0.1:5084?antennas=1&report=1")
>>> src.config.antennas, src.config.dead_after_s
((1,), 15.5)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

from drivers.backoff import Backoff
from drivers.llrp.config import ClientConfig
from drivers.llrp.constants import VERSION_1_0_1, VERSION_1_1, MessageType, ROSpecState, StatusCode
from drivers.llrp.errors import LLRPError
from drivers.llrp.framing import LLRPFramer
from drivers.llrp.gpo import outputs_for
from drivers.llrp.messages import Message
from drivers.llrp.params import Param
from drivers.llrp.reports import TagReport, tag_reports
from drivers.llrp.specs import (
    event_notification_spec,
    gpi_port_states,
    gpo_write_data,
    keepalive_spec,
    streaming_rospec,
)
from drivers.rfid import decode_epc
from gateway.reads import Read, SourceEvent, SourceStatus, Trigger

M = MessageType
log = logging.getLogger(__name__)
_VERSION_NAMES = {VERSION_1_0_1: "1.0.1", VERSION_1_1: "1.1"}
CLOCK_UNSET_BEFORE_S = 1_262_304_000.0  # 2010-01-01: earlier reader timestamps mean the clock was never set
_DONE = object()


class LLRPSessionError(Exception):
    """The reader refused or broke the session (the message says why); the client reconnects."""


def status_text(msg: Message) -> str:
    """``"ERROR_MESSAGE M_UnsupportedMessage why"``: a reply's type, status code name and description."""
    st = msg.status
    code = int(st.fields.get("Status", -1)) if st else -1  # type: ignore[arg-type]
    text = str(st.fields.get("ErrorDescription", "")) if st else ""
    try:
        code_name = StatusCode(code).name
    except ValueError:
        code_name = str(code)
    return f"{msg.name} {code_name} {text}".rstrip()



def to_read(source: str, r: TagReport, host_time: float, frequencies: tuple[int, ...] = ()) -> Read:
    """A :class:`TagReport` as the normalised :class:`Read`."""
    raw = r.epc.hex()
    ident, scheme, error = decode_epc(raw, r.pc, r.xpc_w1, r.xpc_w2)  # the PC word first: T = 1 is never an EPC
    micros = r.last_seen_utc if r.last_seen_utc is not None else r.first_seen_utc
    source_time = micros / 1e6 if micros is not None else None
    extra: dict[str, object] = {}
    if source_time is not None and source_time < CLOCK_UNSET_BEFORE_S:
        extra["reader_clock"] = "unset"
    uptime = r.last_seen_uptime if r.last_seen_uptime is not None else r.first_seen_uptime
    if uptime is not None:
        extra["reader_uptime_us"] = uptime
    if r.channel_index is not None:
        extra["channel_index"] = r.channel_index
    freq = None
    if r.channel_index is not None and 1 <= r.channel_index <= len(frequencies):
        freq = frequencies[r.channel_index - 1]
    return Read(source=source, channel=str(r.antenna if r.antenna is not None else 0), carrier="rfid", raw=raw,
                host_time=host_time, source_time=source_time,
                rssi_dbm=float(r.peak_rssi) if r.peak_rssi is not None else None,
                count=r.seen_count or 1, identifier=ident, error=error, scheme=scheme, pc=r.pc,
                frequency_khz=freq, extra=extra)


class _Connection:
    """One TCP session: request/response matching by message id, a reader task, the watchdog clock."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_message: Callable[[Message, float], None]) -> None:
        self.reader, self.writer = reader, writer
        self.on_message = on_message
        self.framer = LLRPFramer(raw_types=frozenset({int(M.RO_ACCESS_REPORT)}))  # reports: fast path
        self.pending: dict[int, asyncio.Future[Message]] = {}
        self.next_id = 100
        self.last_rx = asyncio.get_running_loop().time()
        self.closed = asyncio.Event()
        self.error: str | None = None
        self.version = VERSION_1_0_1  # every connection starts in LLRP 1.0.1 until SET_PROTOCOL_VERSION
        self.no_reply: dict[int, str] = {}  # ids of sent messages that have no response -> their names

    async def pump(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    self.error = self.error or "reader closed the connection"
                    return
                now = asyncio.get_running_loop().time()
                self.last_rx = now
                host_time = time.time()
                for msg in self.framer.feed(data):
                    fut = self.pending.pop(msg.id, None) if msg.type != M.RO_ACCESS_REPORT else None
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    else:
                        self.on_message(msg, host_time)
        except (ConnectionError, OSError, LLRPError) as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"
        finally:
            self.closed.set()
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(LLRPSessionError(self.error or "connection closed"))

    def send(self, msg: Message) -> None:
        self.writer.write(msg.encode())

    def send_no_reply(self, name: str, **fields: int | bool) -> None:
        """Send a message that has no response (its id is kept to recognise an ERROR_MESSAGE to it)."""
        self.next_id += 1
        self.no_reply[self.next_id] = name
        self.send(Message.make(name, self.next_id, version=self.version, **fields))

    async def request(self, name: str, *params: Param, timeout: float, check: bool = True,
                      version: int | None = None, **fields: int | bool) -> Message:
        """Send a request and wait for the reply with the same message id (``version``: header
        version for this one message, else the connection's)."""
        self.next_id += 1
        msg = Message.make(name, self.next_id, *params, version=version or self.version, **fields)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.pending[msg.id] = fut
        self.send(msg)
        await self.writer.drain()
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self.pending.pop(msg.id, None)
            raise LLRPSessionError(f"no response to {name} within {timeout:g} s") from None
        if check and not reply.ok:
            raise LLRPSessionError(f"{name} failed: {status_text(reply)}")
        return reply


class LLRPSource:
    """A running LLRP reader (see the module docstring).  ``events()`` may be iterated once."""

    def __init__(self, source_id: str, config: ClientConfig) -> None:
        self.source_id = source_id
        self.config = config
        self.backoff = Backoff(base=config.backoff_base_s, cap=max(config.backoff_cap_s, config.backoff_base_s))
        self._queue: asyncio.Queue[SourceEvent | object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._closing = False
        self._frequencies: tuple[int, ...] = ()
        self._attempt_event: asyncio.Future[int] | None = None
        self.reads_out = 0
        self.connections = 0
        self.protocol_version = VERSION_1_0_1  # what the last connection negotiated
        self._skip_negotiation = config.version == VERSION_1_0_1
        self._ask_rospec_state = True  # False once a reader dropped the connection on GET_ROSPECS
        self.errors_ignored: list[str] = []  # ERROR_MESSAGEs and bad messages the client shrugged off
        self.workarounds: dict[str, str] = {}  # reader deviations worked around, each logged once
        self.reader_events: list[str] = []
        self.gpi_events = 0  # GPIEvents turned into triggers
        self.num_gpis: int | None = None  # what the reader's GPIOCapabilities say
        self.num_gpos: int | None = None
        self.gpo = outputs_for(source_id)  # the levels the lane's signals ask of this reader's outputs
        self.gpo_writes = 0  # SET_READER_CONFIG / GPOWriteData messages the reader accepted
        self.gpo_errors: list[str] = []

    # -- public ----------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[SourceEvent]:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            yield item  # type: ignore[misc]

    async def write_gpo(self, levels: Mapping[int, bool]) -> None:
        """Set output ports now (``{port: high}``) with SET_READER_CONFIG / GPOWriteData; raises
        :class:`LLRPSessionError` when not connected or when the reader's status is not M_Success."""
        conn = self._conn
        if conn is None or conn.closed.is_set():
            raise LLRPSessionError("not connected")
        await conn.request("SET_READER_CONFIG", *gpo_write_data(levels), timeout=self.config.timeout_s)
        self.gpo_writes += 1

    async def close(self) -> None:
        """Clean shutdown: DISABLE/DELETE the ROSpec, CLOSE_CONNECTION, wait for its response."""
        if self._closing:
            return
        self._closing = True
        conn = self._conn
        if conn is not None and not conn.closed.is_set():
            t = min(self.config.timeout_s, 2.0)
            with contextlib.suppress(LLRPSessionError, ConnectionError, OSError):
                await conn.request("DISABLE_ROSPEC", timeout=t, check=False, ROSpecID=self.config.rospec_id)
                await conn.request("DELETE_ROSPEC", timeout=t, check=False, ROSpecID=self.config.rospec_id)
                await conn.request("CLOSE_CONNECTION", timeout=t, check=False)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._drop()
        self._status("stopped", "closed")
        self._queue.put_nowait(_DONE)

    # -- the reconnect loop ------------------------------------------------------------------

    def _worked_around(self, key: str, what: str, level: int = logging.WARNING) -> None:
        """Note a reader deviation and what the client did about it; logged once per kind and source."""
        if key in self.workarounds:
            return
        self.workarounds[key] = what
        log.log(level, "LLRP source %s (%s:%s): %s", self.source_id, self.config.host, self.config.port, what)

    def _status(self, state: str, detail: str = "", attempt: int = 0) -> None:
        self._queue.put_nowait(SourceStatus(self.source_id, state, detail, attempt=attempt))  # type: ignore[arg-type]

    async def _run(self) -> None:
        self._status("starting", f"{self.config.host}:{self.config.port}")
        while not self._closing:
            started = asyncio.get_running_loop().time()
            try:
                await self._session()
                reason = (self._conn.error if self._conn else None) or "connection ended"
            except (LLRPSessionError, ConnectionError, OSError, TimeoutError, LLRPError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, LLRPSessionError) else str(exc)
            await self._drop()
            if self._closing:
                return
            if asyncio.get_running_loop().time() - started > 10 * self.config.backoff_base_s + 5:
                self.backoff.reset()  # the connection was healthy for a while: start the backoff again
            delay = self.backoff.next_delay()
            self._status("reconnecting", f"{reason}; retry in {delay:.2f} s", attempt=self.backoff.attempt)
            await asyncio.sleep(delay)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.writer.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 1.0)

    async def _session(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port), cfg.timeout_s)
        conn = self._conn = _Connection(reader, writer, self._on_message)
        self._attempt_event = loop.create_future()
        pump = asyncio.create_task(conn.pump())
        try:
            # 1. nothing may be sent before the ConnectionAttemptEvent (§20.1).
            waiters: set[asyncio.Future[object]] = {self._attempt_event, pump}  # type: ignore[arg-type]
            done, _ = await asyncio.wait(waiters, timeout=cfg.timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if self._attempt_event not in done:
                raise LLRPSessionError(conn.error or "no ConnectionAttemptEvent from the reader")
            status = self._attempt_event.result()
            if status != 0:
                raise LLRPSessionError(f"reader refused the connection (ConnectionAttemptEvent status {status}: "
                                       "another client is connected)")
            await self._configure(conn)
            self.connections += 1
            self.backoff.reset()
            changes: asyncio.Queue[dict[int, bool]] = asyncio.Queue()

            def hand_over(change: dict[int, bool]) -> None:  # any thread: handed to this loop
                with contextlib.suppress(RuntimeError):  # the loop is closing: the next connection writes it
                    loop.call_soon_threadsafe(changes.put_nowait, change)

            levels = self.gpo.attach(hand_over)
            if levels:
                changes.put_nowait(levels)  # every level again: the reader may have rebooted
            outputs = asyncio.create_task(self._write_outputs(conn, changes), name=f"gpo:{self.source_id}")
            self._status("connected", f"{cfg.host}:{cfg.port} LLRP {_VERSION_NAMES[conn.version]}")
            try:
                await self._watch(conn, pump)
            finally:
                self.gpo.detach(hand_over)
                outputs.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await outputs
        finally:
            if not pump.done():
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    async def _write_outputs(self, conn: _Connection, changes: asyncio.Queue[dict[int, bool]]) -> None:
        """Step 6: write output changes in the order asked (changes waiting together go in one message)."""
        while not conn.closed.is_set():
            levels = await changes.get()
            while not changes.empty():
                levels.update(changes.get_nowait())
            try:
                await self.write_gpo(levels)
            except LLRPSessionError as exc:
                if conn.closed.is_set():
                    return  # the next connection writes every level again
                self.gpo_errors.append(str(exc))
                self._worked_around("gpo", f"the reader refused to set output ports {sorted(levels)} ({exc}); "
                                    f"{self.num_gpos if self.num_gpos is not None else 'unknown'} GPO(s) reported")
            except LLRPError as exc:  # a port the codec cannot encode
                self.gpo_errors.append(str(exc))
                self._worked_around("gpo_value", f"cannot write output ports {sorted(levels)}: {exc}")

    async def _negotiate(self, conn: _Connection) -> None:
        """LLRP 1.1 §9.1: switch the connection to 1.1 when the reader can; otherwise stay on 1.0.1."""
        cfg, t = self.config, self.config.timeout_s
        if self._skip_negotiation:
            return
        try:
            # Both version messages go in a 1.1 header: a 1.0.1 reader rejects the header version itself.
            reply = await conn.request("GET_SUPPORTED_VERSION", timeout=t, check=False, version=VERSION_1_1)
        except LLRPSessionError as exc:
            # The reader dropped the connection or stayed mute: a 1.0.1 reader that does not follow
            # §9.1.  Remember it, so that later connections do not trip over the same question.
            if cfg.version == VERSION_1_1:
                raise
            self._skip_negotiation = True
            if conn.closed.is_set():
                raise
            self.errors_ignored.append(f"version negotiation: {exc}; using LLRP 1.0.1")
            return
        supported, detail = 0, status_text(reply)
        if reply.type == M.GET_SUPPORTED_VERSION_RESPONSE and reply.ok and reply.error is None:
            current = int(reply.fields.get("CurrentVersion", 0))  # type: ignore[arg-type]
            supported = int(reply.fields.get("SupportedVersion", 0))  # type: ignore[arg-type]
            detail = f"SupportedVersion {supported}"
            if supported >= VERSION_1_1:
                if current == VERSION_1_1:
                    conn.version = VERSION_1_1
                    return
                answer = await conn.request("SET_PROTOCOL_VERSION", timeout=t, check=False, version=VERSION_1_1,
                                            ProtocolVersion=VERSION_1_1)
                if answer.ok and answer.type == M.SET_PROTOCOL_VERSION_RESPONSE:
                    conn.version = VERSION_1_1
                    return
                detail = f"SET_PROTOCOL_VERSION refused ({answer.name})"
        # ERROR_MESSAGE (M_UnsupportedVersion / M_UnsupportedMessage), a malformed or failed answer,
        # or a reader whose highest version is 1.0.1: stay on 1.0.1.
        if cfg.version == VERSION_1_1:
            raise LLRPSessionError(f"the reader does not speak LLRP 1.1 (GET_SUPPORTED_VERSION: {detail}) "
                                   "and the URL asks for version=1.1")
        self.errors_ignored.append(f"version negotiation: {detail}; using LLRP 1.0.1")
        self._worked_around("version", f"GET_SUPPORTED_VERSION answered with {detail}: the reader speaks "
                            "LLRP 1.0.1 only; staying on 1.0.1", logging.INFO)

    async def _configure(self, conn: _Connection) -> None:
        cfg, t = self.config, self.config.timeout_s
        await self._negotiate(conn)
        self.protocol_version = conn.version
        caps = await conn.request("GET_READER_CAPABILITIES", timeout=t, RequestedData=0)
        power_index = self._learn_capabilities(caps)
        await conn.request("SET_READER_CONFIG", event_notification_spec(), keepalive_spec(cfg.keepalive_ms),
                           Param.make("EventsAndReports", HoldEventsAndReportsUponReconnect=False), timeout=t)
        conn.send_no_reply("ENABLE_EVENTS_AND_REPORTS")
        if cfg.gpi_ports:
            await self._enable_gpis(conn)
        # Clean slate; a reader with nothing to delete may answer with an error status: not fatal.
        await conn.request("DELETE_ACCESSSPEC", timeout=t, check=False, AccessSpecID=0)
        await conn.request("DELETE_ROSPEC", timeout=t, check=False, ROSpecID=0)
        spec = streaming_rospec(cfg.rospec_id, cfg.antennas, cfg.report_n, cfg.report_ms, cfg.start_immediately,
                                power_index, cfg.session, cfg.population, cfg.mode_id, version=conn.version,
                                gpi_start=cfg.gpi_start, gpi_stop=cfg.gpi_stop, gpi_timeout_ms=cfg.gpi_timeout_ms)
        await conn.request("ADD_ROSPEC", spec, timeout=t)
        await conn.request("ENABLE_ROSPEC", timeout=t, ROSpecID=cfg.rospec_id)
        if cfg.gpi_start is not None:
            return  # Inactive until the GPI edge starts it: nothing to start or check now
        if not cfg.start_immediately:
            await conn.request("START_ROSPEC", timeout=t, ROSpecID=cfg.rospec_id)
        await self._ensure_active(conn)

    async def _enable_gpis(self, conn: _Connection) -> None:
        """SET_READER_CONFIG with GPIConfig on for the configured GPI ports (step 3b)."""
        cfg = self.config
        ports = cfg.gpi_ports
        if self.num_gpis is not None and any(port > self.num_gpis for port in ports):
            self._worked_around("gpi_count", f"GPI ports {list(ports)} configured but the reader reports "
                                f"{self.num_gpis} GPI(s); asking for them anyway")
        reply = await conn.request("SET_READER_CONFIG", *gpi_port_states(ports), timeout=cfg.timeout_s, check=False)
        if not reply.ok:
            self._worked_around("gpi", f"the reader refused to enable GPI ports {list(ports)} "
                                f"({status_text(reply)}); no lane triggers from this reader")

    async def _rospec_state(self, conn: _Connection) -> tuple[ROSpecState | None, str]:
        """Our ROSpec's CurrentState from GET_ROSPECS, or ``(None, why not)``."""
        rid, t = self.config.rospec_id, self.config.timeout_s
        try:
            reply = await conn.request("GET_ROSPECS", timeout=t, check=False)
        except LLRPSessionError as exc:
            if conn.closed.is_set():
                # The reader dropped the connection over the question (llrpkit 0.3 does when the
                # ROSpec is Inactive): remember it, so that the next connection does not ask again.
                self._ask_rospec_state = False
                self._worked_around("get_rospecs", "the reader dropped the connection on GET_ROSPECS; from "
                                    "the next connection on, START_ROSPEC follows ENABLE_ROSPEC without asking")
                raise
            return None, str(exc)  # a mute reader: the question cost one timeout, the session goes on
        if reply.type != M.GET_ROSPECS_RESPONSE or not reply.ok or reply.error is not None:
            return None, f"GET_ROSPECS answered with {status_text(reply)}"
        for p in reply.params:
            if p.name == "ROSpec" and p.fields.get("ROSpecID") == rid:
                state = p.fields.get("CurrentState")
                try:
                    return ROSpecState(state), ""  # type: ignore[arg-type]
                except ValueError:
                    return None, f"GET_ROSPECS gave CurrentState {state!r}"
        return None, f"GET_ROSPECS did not list ROSpec {rid}"

    async def _ensure_active(self, conn: _Connection) -> None:
        """After ENABLE_ROSPEC (and START_ROSPEC for a Null start trigger) the ROSpec must be Active."""
        cfg, t, rid = self.config, self.config.timeout_s, self.config.rospec_id
        if not self._ask_rospec_state:
            if cfg.start_immediately:  # a Null start trigger has had its START_ROSPEC already
                await conn.request("START_ROSPEC", timeout=t, check=False, ROSpecID=rid)
            return
        state, why = await self._rospec_state(conn)
        if state == ROSpecState.ACTIVE:
            return
        if state == ROSpecState.INACTIVE and cfg.start_immediately:
            reply = await conn.request("START_ROSPEC", timeout=t, check=False, ROSpecID=rid)
            if not reply.ok:
                raise LLRPSessionError(f"ROSpec {rid} stayed Inactive after ENABLE_ROSPEC and START_ROSPEC failed: "
                                       f"{status_text(reply)}")
            self._worked_around("start", f"the reader left ROSpec {rid} Inactive after ENABLE_ROSPEC although its "
                                "start trigger is Immediate; sent START_ROSPEC")
            return
        if state is None:
            # Unknown state: START_ROSPEC starts a ROSpec that waits for it and is refused, harmlessly, by
            # a reader whose ROSpec already runs.
            reply = await conn.request("START_ROSPEC", timeout=t, check=False, ROSpecID=rid)
            answer = "it started the ROSpec" if reply.ok else f"it answered {status_text(reply)}"
            self._worked_around("state", f"cannot tell whether ROSpec {rid} runs ({why}); sent START_ROSPEC: {answer}")
            return
        raise LLRPSessionError(f"ROSpec {rid} is {state.name} after ENABLE_ROSPEC"
                               f"{'' if cfg.start_immediately else ' and START_ROSPEC'}")

    def _learn_capabilities(self, caps: Message) -> int | None:
        """Hop-table frequencies (for ``frequency_khz``) and the power index nearest ``power_dbm``."""
        freqs: tuple[int, ...] = ()
        powers: list[tuple[int, int]] = []
        for p in caps.params:
            for sub in p.walk():
                if (sub.name == "FrequencyHopTable" and not freqs) or (sub.name == "FixedFrequencyTable" and not freqs):
                    freqs = tuple(sub.fields.get("Frequencies", ()))  # type: ignore[arg-type]
                elif sub.name == "GPIOCapabilities":
                    self.num_gpis = int(sub.fields.get("NumGPIs", 0))  # type: ignore[arg-type]
                    self.num_gpos = int(sub.fields.get("NumGPOs", 0))  # type: ignore[arg-type]
                elif sub.name == "TransmitPowerLevelTableEntry":
                    powers.append((int(sub.fields["Index"]), int(sub.fields["TransmitPowerValue"])))  # type: ignore[arg-type]
        self._frequencies = freqs
        if self.config.power_dbm is None or not powers:
            return None
        want = self.config.power_dbm * 100
        return min(powers, key=lambda ip: (abs(ip[1] - want), ip[0]))[0]

    async def _watch(self, conn: _Connection, pump: asyncio.Task[None]) -> None:
        """Until the connection ends: the keepalive watchdog."""
        deadline = self.config.dead_after_s
        loop = asyncio.get_running_loop()
        while not pump.done():
            if deadline is None:
                await asyncio.wait({pump})
                return
            silent = loop.time() - conn.last_rx
            if silent > deadline:
                conn.error = f"reader silent for {silent:.1f} s (keepalive deadline {deadline:g} s)"
                return
            await asyncio.wait({pump}, timeout=max(0.05, min(deadline - silent, deadline / 4)))

    # -- incoming messages -------------------------------------------------------------------

    def _on_message(self, msg: Message, host_time: float) -> None:
        t = msg.type
        conn = self._conn
        if t == M.RO_ACCESS_REPORT:
            try:
                reports = tag_reports(msg)  # an empty report is a no-op
            except LLRPError as exc:
                self.errors_ignored.append(f"bad report: {exc}")
                return
            put = self._queue.put_nowait
            source, freqs = self.source_id, self._frequencies
            for r in reports:
                put(to_read(source, r, host_time, freqs))
                self.reads_out += 1
        elif t == M.KEEPALIVE:
            if conn is not None:
                conn.send(Message(int(M.KEEPALIVE_ACK), msg.id, {}, (), msg.version))
        elif t == M.READER_EVENT_NOTIFICATION:
            self._on_event(msg, host_time)
        elif t == M.ERROR_MESSAGE:
            st = msg.status
            self.errors_ignored.append(f"ERROR_MESSAGE id {msg.id}: {st.fields if st else ''}")
            name = conn.no_reply.pop(msg.id, None) if conn is not None else None
            if name is not None:  # e.g. ENABLE_EVENTS_AND_REPORTS, which has no response in the standard
                self._worked_around(f"error:{name}", f"the reader answered {name}, which has no response, "
                                    f"with {status_text(msg)}; ignored")
        elif msg.error is not None:
            self.errors_ignored.append(f"{msg.name}: {msg.error}")

    def _on_event(self, msg: Message, host_time: float) -> None:
        data = msg.first("ReaderEventNotificationData")
        if data is None:
            return
        stamp = data.first("UTCTimestamp")
        micros = int(stamp.fields.get("Microseconds", 0)) if stamp is not None else 0  # type: ignore[arg-type]
        source_time = micros / 1e6 if micros / 1e6 >= CLOCK_UNSET_BEFORE_S else None
        for p in data.params:
            name = p.name
            if name in ("UTCTimestamp", "Uptime"):
                continue
            if name == "GPIEvent":  # the hot one on a busy lane: not kept in reader_events
                self.gpi_events += 1
                self._queue.put_nowait(Trigger(self.source_id, host_time, port=int(p.fields.get("Port", 0)),  # type: ignore[arg-type]
                                               active=bool(p.fields.get("Event")), kind="gpi",
                                               source_time=source_time))
                continue
            self.reader_events.append(name)
            if name == "ConnectionAttemptEvent":
                fut = self._attempt_event
                if fut is not None and not fut.done():
                    fut.set_result(int(p.fields.get("Status", 3)))  # type: ignore[arg-type]
            elif name == "ConnectionCloseEvent":
                if self._conn is not None:
                    self._conn.error = "reader announced ConnectionCloseEvent"
            elif name in ("AntennaEvent", "ReaderExceptionEvent", "ReportBufferOverflowErrorEvent",
                          "ReportBufferLevelWarningEvent"):
                detail = ", ".join(f"{k}={v!r}" for k, v in p.fields.items())
                self._status("connected", f"{name} {detail}".strip())


def open_source(source_id: str, url: str) -> LLRPSource:
    """``drivers.registry`` entry point for ``llrp://`` URLs."""
    return LLRPSource(source_id, ClientConfig.parse(url))
