"""The asyncio LLRP client against the simulator (with faults) and against replayed real captures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from drivers.llrp.client import LLRPSource, open_source
from drivers.llrp.config import ClientConfig, ConfigError
from drivers.llrp.constants import MessageType
from drivers.llrp.framing import LLRPFramer
from drivers.llrp.messages import Message, decode_body
from drivers.llrp.params import Param
from drivers.llrp.reports import TagReport
from drivers.registry import open_source as registry_open
from gateway.reads import SourceEvent
from simulators.llrp_sim import Faults, LLRPReaderSimulator
from simulators.tag_world import TagWorld
from tests.llrp.support import collect, reads_of, statuses

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llrp"


def run(body: Callable[[LLRPReaderSimulator], Awaitable[None]], faults: Faults | None = None,
        world: TagWorld | None = None, max_version: int = 2) -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(world or TagWorld.steady("r", 10, 500.0), "r", faults=faults,
                                       max_version=max_version) as sim:
            await body(sim)

    asyncio.run(asyncio.wait_for(main(), 60))


def url(sim: LLRPReaderSimulator, query: str = "") -> str:
    host, port = sim.address
    return f"llrp://{host}:{port}?backoff=0.05,0.2&timeout=2&{query}".rstrip("&")


def test_reads_flow_and_clean_shutdown() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = registry_open("dock-1", url(sim, "antennas=1&report=1&keepalive=1000"))
        assert isinstance(src, LLRPSource)
        events = await collect(src, reads=50)
        await src.close()
        reads = reads_of(events)
        assert len(reads) >= 50
        r = reads[0]
        assert (r.source, r.carrier, r.channel) == ("dock-1", "rfid", "1")
        assert r.identifier is not None and r.identifier.key_type == "sgtin" and r.scheme == "sgtin-96"
        assert r.raw == r.raw.lower() and len(r.raw) == 24
        assert r.rssi_dbm == -40.0 and r.count == 1 and r.pc == 0x3000
        assert r.frequency_khz in (865_700, 866_300, 866_900, 867_500)
        assert r.source_time is not None and abs(r.source_time - r.host_time) < 60
        assert [s.state for s in statuses(events)][:2] == ["starting", "connected"]
        requests = [name for name in sim.received if name != "KEEPALIVE_ACK"]  # acks interleave at any time
        assert requests[:10] == ["GET_SUPPORTED_VERSION", "SET_PROTOCOL_VERSION", "GET_READER_CAPABILITIES",
                                 "SET_READER_CONFIG", "ENABLE_EVENTS_AND_REPORTS", "DELETE_ACCESSSPEC",
                                 "DELETE_ROSPEC", "ADD_ROSPEC", "ENABLE_ROSPEC", "GET_ROSPECS"]
        # a conformant reader starts the ROSpec on ENABLE_ROSPEC: nothing to work around
        assert "START_ROSPEC" not in sim.received and src.workarounds == {}
        assert src.protocol_version == 2 and "LLRP 1.1" in statuses(events)[1].detail
        assert sim.received[-3:] == ["DISABLE_ROSPEC", "DELETE_ROSPEC", "CLOSE_CONNECTION"]
        assert not sim.model.rospecs  # the client cleaned up after itself

    run(body)


def test_null_start_trigger_time_report_and_power() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "start=null&report=100ms&power=20&session=2&antennas=1,2"))
        reads = reads_of(await collect(src, reads=20))
        spec = sim.model.rospecs[1234].spec  # what the client installed (deleted again on close)
        await src.close()
        assert len(reads) >= 20
        assert "START_ROSPEC" in sim.received
        assert spec.first("ROReportSpec").fields == {"Trigger": 5, "N": 100}  # type: ignore[union-attr]
        configs = [p for p in spec.walk() if p.name == "AntennaConfiguration"]
        assert [c.fields["AntennaID"] for c in configs] == [1, 2]
        powers = {p.fields["TransmitPowerIndex"] for p in spec.walk() if p.name == "RFTransmitter"}
        sessions = {p.fields["Session"] for p in spec.walk() if p.name == "C1G2SingulationControl"}
        assert powers == {41} and sessions == {2}  # 20 dBm = 2000 cdBm = entry 41 of the power table

    run(body)


def test_keepalives_are_acked_and_split_segments_survive() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=100"))
        events = await collect(src, until=lambda ev: sim.received.count("KEEPALIVE_ACK") >= 3, timeout=10)
        await src.close()
        assert sim.received.count("KEEPALIVE_ACK") >= 3
        assert len(reads_of(events)) > 10
        assert sim.connections == 1  # no reconnect: the split stream decoded cleanly
        assert src.errors_ignored == []

    run(body, Faults(split_segments=True, seed=3))


def test_watchdog_notices_a_silent_reader_and_reconnects() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=100&misses=2"))

        def reconnected(ev: list[SourceEvent]) -> bool:
            return sim.connections >= 2 and len(reads_of(ev[-5:])) >= 1

        events = await collect(src, until=reconnected, timeout=15)
        await src.close()
        states = [s for s in statuses(events) if s.state == "reconnecting"]
        assert states and "silent" in states[0].detail
        assert sim.connections >= 2

    run(body, Faults(silent_after_s=0.4))


def test_dropped_connection_then_burst_of_buffered_reports() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=1000"))
        events = await collect(src, until=lambda ev: sim.connections >= 2 and len(reads_of(ev)) > 400, timeout=15)
        await src.close()
        assert sim.connections >= 2
        assert "reconnecting" in [s.state for s in statuses(events)]
        seqs = [r.source_time for r in reads_of(events)]
        assert len(seqs) > 400

    # drop every connection after 0.3 s; the active ROSpec keeps reading and the backlog bursts out
    run(body, Faults(drop_after_s=0.3))


def test_reader_reboot_loses_rospec_and_client_reinstalls_it() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=1000"))
        events = await collect(src, until=lambda ev: sim.reboots >= 1 and sim.connections >= 2
                               and bool(sim.model.rospecs) and len(reads_of(ev)) > 200, timeout=15)
        await src.close()
        assert sim.reboots == 1 and sim.connections >= 2 and sim.refused >= 0
        assert sim.received.count("ADD_ROSPEC") >= 2
        assert len(reads_of(events)) > 200

    run(body, Faults(reboot_after_s=0.3, reboot_s=0.2))


def test_clock_never_set_keeps_host_time_beside_reader_time() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim))
        reads = reads_of(await collect(src, reads=5))
        await src.close()
        r = reads[0]
        assert r.source_time is not None and r.source_time < 946_684_800 + 3600  # year 2000
        assert r.host_time > 1_600_000_000 and r.extra["reader_clock"] == "unset"

    run(body, Faults(clock_2000=True))


def test_quirks_error_for_no_response_message_empty_reports_and_delays(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.llrp.client")

    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim))
        reads = reads_of(await collect(src, reads=30, timeout=15))
        await src.close()
        assert len(reads) >= 30
        assert any("ERROR_MESSAGE" in e for e in src.errors_ignored)
        assert sim.connections == 1
        assert list(src.workarounds) == ["error:ENABLE_EVENTS_AND_REPORTS"]

    run(body, Faults(error_on_enable_events=True, empty_report_every_s=0.02, delay_s=0.01))
    lines = [r.getMessage() for r in caplog.records if r.name == "drivers.llrp.client"]
    assert len(lines) == 1 and lines[0].startswith("LLRP source d (127.0.0.1:")
    assert lines[0].endswith("the reader answered ENABLE_EVENTS_AND_REPORTS, which has no response, with "
                             "ERROR_MESSAGE M_UnsupportedMessage unsupported; ignored")


def test_an_enabled_rospec_that_waits_for_start_is_started_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """The llrpkit emulator's quirk: an Immediate start trigger does not start the ROSpec."""
    caplog.set_level(logging.INFO, logger="drivers.llrp.client")

    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=1000"))  # the default start=immediate
        events = await collect(src, until=lambda ev: sim.received.count("START_ROSPEC") >= 2
                               and len(reads_of(ev)) > 100, timeout=15)
        await src.close()
        assert sim.connections >= 2 and len(reads_of(events)) > 100
        assert sim.received.count("START_ROSPEC") == sim.received.count("GET_ROSPECS") >= 2  # once per connection
        assert list(src.workarounds) == ["start"]

    run(body, Faults(start_on_start_only=True, drop_after_s=0.3))
    lines = [r.getMessage() for r in caplog.records if r.name == "drivers.llrp.client"]
    assert len(lines) == 1, lines  # once, however often it reconnects
    assert "left ROSpec 1234 Inactive after ENABLE_ROSPEC although its start trigger is Immediate; " \
        "sent START_ROSPEC" in lines[0]


def test_a_reader_that_drops_the_connection_on_get_rospecs_is_remembered() -> None:
    """llrpkit 0.3 closes the connection on GET_ROSPECS while a ROSpec is Inactive."""
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim))
        reads = reads_of(await collect(src, reads=20, timeout=15))
        await src.close()
        assert len(reads) >= 20 and sim.connections == 2
        assert sim.received.count("GET_ROSPECS") == 1  # asked once, never again
        assert sim.received.count("START_ROSPEC") == 1
        assert list(src.workarounds) == ["get_rospecs"]

    run(body, Faults(start_on_start_only=True, drop_on_get_rospecs=True))


def test_null_start_trigger_is_checked_too() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "start=null"))
        reads = reads_of(await collect(src, reads=5))
        await src.close()
        assert len(reads) >= 5 and src.workarounds == {}
        assert sim.received.count("START_ROSPEC") == 1 and "GET_ROSPECS" in sim.received

    run(body)


def test_second_client_is_refused_and_backs_off() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        first = open_source("a", url(sim))
        await collect(first, reads=3)
        second = open_source("b", url(sim))
        events = await collect(second, until=lambda ev: len([s for s in statuses(ev)
                                                             if s.state == "reconnecting"]) >= 2, timeout=10)
        await second.close()
        await first.close()
        retries = [s for s in statuses(events) if s.state == "reconnecting"]
        assert "refused" in retries[0].detail and [s.attempt for s in retries[:2]] == [1, 2]
        assert reads_of(events) == []

    run(body)


def test_config_parsing_errors() -> None:
    for bad in ("llrp://h?report=0", "llrp://h?bogus=1", "llrp://h?session=7", "llrp://h?start=later",
                "http://h", "llrp://h?power=abc"):
        with pytest.raises(ConfigError):
            ClientConfig.parse(bad)
    assert ClientConfig.parse("llrp://h:1?report=2s").report_ms == 2000


# -- protocol version negotiation (LLRP 1.1 §9.1) ------------------------------------------------


def test_version_negotiation_with_a_1_1_reader_switches_every_header_to_1_1() -> None:
    seen_versions: list[int] = []

    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "report=100ms&keepalive=200"))
        real_handle = sim.model.handle

        def spy(msg: Message, now: float) -> list[Message]:
            seen_versions.append(msg.version)
            return real_handle(msg, now)

        sim.model.handle = spy  # type: ignore[method-assign]
        events = await collect(src, until=lambda ev: len(reads_of(ev)) >= 10
                               and sim.received.count("KEEPALIVE_ACK") >= 1, timeout=15)
        spec = sim.model.rospecs[1234].spec
        await src.close()
        assert src.protocol_version == 2 and sim.model.version == 2
        assert sim.received[:2] == ["GET_SUPPORTED_VERSION", "SET_PROTOCOL_VERSION"]  # before any keepalive
        assert set(seen_versions) == {2}  # every request after the switch, and both version messages
        assert spec.first("ROReportSpec").fields == {"Trigger": 5, "N": 100}  # type: ignore[union-attr]
        assert len(reads_of(events)) >= 10 and not [e for e in src.errors_ignored if "version" in e]

    run(body)


def test_version_negotiation_falls_back_to_1_0_1_on_a_1_0_1_reader() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "report=1500ms&keepalive=200"))
        events = await collect(src, until=lambda ev: len(reads_of(ev)) >= 10
                               and sim.received.count("KEEPALIVE_ACK") >= 1, timeout=15)
        spec = sim.model.rospecs[1234].spec
        await src.close()
        assert src.protocol_version == 1 and sim.model.version == 1
        # the reader refused the 1.1 header with M_UnsupportedVersion; no SET_PROTOCOL_VERSION followed
        assert sim.received[:2] == ["GET_SUPPORTED_VERSION", "GET_READER_CAPABILITIES"]
        assert "SET_PROTOCOL_VERSION" not in sim.received
        assert any("version negotiation: ERROR_MESSAGE" in e for e in src.errors_ignored)
        # LLRP 1.0.1 has no millisecond report trigger: 1500 ms became "every 2 seconds"
        assert spec.first("ROReportSpec").fields == {"Trigger": 3, "N": 2}  # type: ignore[union-attr]
        assert len(reads_of(events)) >= 10 and sim.connections == 1
        assert "LLRP 1.0.1" in next(s for s in statuses(events) if s.state == "connected").detail

    run(body, max_version=1)


def test_version_1_0_1_in_the_url_skips_negotiation_and_1_1_refuses_an_old_reader() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "version=1.0.1"))
        reads = reads_of(await collect(src, reads=5))
        await src.close()
        assert len(reads) >= 5 and src.protocol_version == 1
        assert "GET_SUPPORTED_VERSION" not in sim.received
        strict = open_source("d", url(sim, "version=1.1"))
        events = await collect(strict, until=lambda ev: any(s.state == "reconnecting" for s in statuses(ev)))
        await strict.close()
        [retry, *_] = [s for s in statuses(events) if s.state == "reconnecting"]
        assert "does not speak LLRP 1.1" in retry.detail and reads_of(events) == []

    run(body, max_version=1)


def test_a_reader_that_drops_the_connection_on_version_negotiation_is_remembered() -> None:
    """Some 1.0.1 firmwares close the socket on an unknown header version instead of answering."""

    async def body(sim: LLRPReaderSimulator) -> None:
        real_handle = sim.model.handle

        def rude(msg: Message, now: float) -> list[Message]:
            if msg.type == MessageType.GET_SUPPORTED_VERSION:
                sim.drop()
                return []
            return real_handle(msg, now)

        sim.model.handle = rude  # type: ignore[method-assign]
        src = open_source("d", url(sim))
        events = await collect(src, reads=5, timeout=15)
        await src.close()
        assert len(reads_of(events)) >= 5 and src.protocol_version == 1
        assert sim.received.count("GET_SUPPORTED_VERSION") == 1 and sim.connections == 2

    run(body, max_version=1)


# -- bad input from a live reader ----------------------------------------------------------------

NOT_AN_EPC = bytes.fromhex("de00beef0011223344556677")  # header 0xDE: no EPC scheme; random bytes to the codec


async def _until(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_live_client_survives_malformed_truncated_and_garbage_messages() -> None:
    """What a broken reader can send, in order of severity; each is counted, none loses a good read."""

    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim, "keepalive=1000"))
        events: list[SourceEvent] = []

        async def consume() -> None:
            async for ev in src.events():
                events.append(ev)

        task = asyncio.create_task(consume())
        await _until(lambda: len(reads_of(events)) >= 5)
        # 1. message length right, body wrong (a TagReportData whose EPC-96 is cut short): the stream
        #    keeps its sync, the report is counted as bad, the connection stays up;
        lying = bytes.fromhex("043d00000010" "00000007" "00f00040" "8d00")
        # 2. a message type nobody knows, and an ERROR_MESSAGE whose LLRPStatus is garbage;
        unknown = Message(777, 5, raw=b"\x01\x02\x03").encode()
        error = Message(100, 6, raw=b"\x01\x1f\x00\x03").encode()
        # 3. random bytes where the EPC should be: delivered as a raw read with the reason, not dropped.
        random_epc = Message(61, 8, {}, (TagReport(epc=NOT_AN_EPC, antenna=1, peak_rssi=-50).to_param(),)).encode()
        assert await sim.inject(lying + unknown + error + random_epc)
        await _until(lambda: any(r.raw == NOT_AN_EPC.hex() for r in reads_of(events)))
        [odd] = [r for r in reads_of(events) if r.raw == NOT_AN_EPC.hex()]
        assert odd.identifier is None and odd.error and odd.channel == "1"
        assert sim.connections == 1
        assert any(e.startswith("bad report") for e in src.errors_ignored)
        assert any("UNKNOWN_777" in e or "ERROR_MESSAGE" in e for e in src.errors_ignored)
        # 4. bytes that cannot be LLRP at all (a length below the 10-byte header): sync is lost, so
        #    the client drops the connection and reconnects; reads resume.
        before = len(reads_of(events))
        assert await sim.inject(b"\x04\x3d\x00\x00\x00\x03garbage")
        await _until(lambda: sim.connections >= 2 and len(reads_of(events)) > before + 5)
        retry = next(s for s in statuses(events) if s.state == "reconnecting")
        assert "FramingError" in retry.detail
        # 5. a message cut short by the reader dying mid-write: the half message is dropped with the connection.
        before = len(reads_of(events))
        assert await sim.inject(Message.make("KEEPALIVE", 99).encode()[:6])
        sim.drop()
        await _until(lambda: sim.connections >= 3 and len(reads_of(events)) > before + 5)
        await src.close()
        await asyncio.wait_for(task, 5)
        assert src.reads_out == len(reads_of(events))  # every decoded read reached the consumer

    run(body)


# -- golden captures replayed by a fake reader over a real socket --------------------------------


def test_client_against_replayed_real_captures() -> None:
    caps = (FIXTURES / "GetReaderCapabilitiesResponse-000.bytes").read_bytes()
    reports = [(FIXTURES / f"ROAccessReport-00{i}.bytes").read_bytes() for i in range(1, 10)]
    ok = Param.make("LLRPStatus", Status=0, ErrorDescription="").encode()

    async def fake_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempt = Param.make("ReaderEventNotificationData", Param.make("UTCTimestamp", Microseconds=1),
                             Param.make("ConnectionAttemptEvent", Status=0))
        writer.write(Message(63, 1, {}, (attempt,)).encode())
        framer = LLRPFramer()
        while data := await reader.read(65536):
            for msg in framer.feed(data):
                if msg.version != 1:  # an Impinj Speedway speaks LLRP 1.0.1 only
                    status = Param.make("LLRPStatus", Status=110, ErrorDescription="unsupported version")
                    writer.write(Message(100, msg.id, {}, (status,)).encode())
                elif msg.type == MessageType.GET_READER_CAPABILITIES:
                    writer.write(decode_body(11, caps, msg.id).encode())
                elif msg.type == MessageType.ENABLE_ROSPEC:
                    writer.write(Message(34, msg.id, raw=ok).encode())
                    # the captured reports, all in one TCP write
                    writer.write(b"".join(decode_body(61, r, 900 + i).encode() for i, r in enumerate(reports)))
                elif msg.type != MessageType.ENABLE_EVENTS_AND_REPORTS:
                    from drivers.llrp.constants import RESPONSE_OF

                    writer.write(Message(int(RESPONSE_OF[MessageType(msg.type)]), msg.id, raw=ok).encode())
                if msg.type == MessageType.CLOSE_CONNECTION:
                    writer.close()
                    return

    async def main() -> None:
        server = await asyncio.start_server(fake_reader, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        src = open_source("impinj", f"llrp://127.0.0.1:{port}?power=20&timeout=2")
        reads = reads_of(await collect(src, reads=9))
        await src.close()
        server.close()
        assert [r.raw for r in reads][:3] == ["3000abcdef00000000000003", "3000abcdef00000000000005",
                                              "301430a55c0ac30000000009"]
        assert [r.rssi_dbm for r in reads][:3] == [-48.0, -47.0, -54.0]
        assert reads[0].source_time == 1594174805.140192 and reads[0].channel == "1"

    asyncio.run(asyncio.wait_for(main(), 20))


def test_the_pc_word_reported_beside_the_epc_is_honoured() -> None:
    """LLRP reports PC_Bits (C1G2PC) and XPC_W1/W2 beside the EPC: the toggle bit (T = 1, an ISO UII with
    an AFI) is never decoded as an EPC, even when the bits look like an SGTIN-96; XPC words beside the EPC
    are not part of it (TDS 2.3 §9.3-9.4, §15.2; the EPC is the TDS Annex E SGTIN-96 example)."""
    sgtin = bytes.fromhex("3074257bf7194e4000001a85")
    iso = TagReport(epc=sgtin, antenna=1, peak_rssi=-50, pc=0x3100 | 0xA2)  # L=6, T=1, AFI 0xA2
    xpc = TagReport(epc=sgtin, antenna=2, peak_rssi=-50, pc=0x3200, xpc_w1=0x0100)  # L=6, XI=1, XPC_W1 beside

    async def body(sim: LLRPReaderSimulator) -> None:
        src = open_source("d", url(sim))
        events: list[SourceEvent] = []

        async def consume() -> None:
            async for ev in src.events():
                events.append(ev)

        task = asyncio.create_task(consume())
        await _until(lambda: len(reads_of(events)) >= 1)
        assert await sim.inject(Message(61, 9, {}, (iso.to_param(), xpc.to_param())).encode())
        await _until(lambda: {r.pc for r in reads_of(events)} >= {iso.pc, xpc.pc})
        await src.close()
        await asyncio.wait_for(task, 5)
        [not_epc] = [r for r in reads_of(events) if r.pc == iso.pc]
        assert not_epc.identifier is None and not_epc.error and "AFI=0xA2" in not_epc.error
        [with_xpc] = [r for r in reads_of(events) if r.pc == xpc.pc]
        assert with_xpc.identifier is not None and with_xpc.identifier.key == "80614141123458.6789", with_xpc.error

    run(body)
