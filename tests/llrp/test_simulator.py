"""The LLRP reader simulator follows the standard, checked with a raw LLRP peer over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from drivers.llrp.messages import Message
from drivers.llrp.params import Param
from drivers.llrp.reports import tag_reports
from drivers.llrp.specs import content_selector, keepalive_spec, report_spec, streaming_rospec
from simulators.llrp_sim import LLRPReaderSimulator
from simulators.tag_world import TagWorld
from tests.llrp.support import RawPeer


def run(body: Callable[[LLRPReaderSimulator], Awaitable[None]], world: TagWorld | None = None, **kw: object) -> None:
    async def main() -> None:
        async with LLRPReaderSimulator(world or TagWorld.steady("r", 10, 400.0), "r", **kw) as sim:  # type: ignore[arg-type]
            await body(sim)

    asyncio.run(asyncio.wait_for(main(), 30))


async def hello(sim: LLRPReaderSimulator) -> RawPeer:
    peer = await RawPeer.connect(*sim.address)
    first = await peer.recv()
    event = first.params[0]
    assert first.name == "READER_EVENT_NOTIFICATION"
    assert event.first("ConnectionAttemptEvent") is not None
    assert event.first("ConnectionAttemptEvent").fields["Status"] == 0  # type: ignore[union-attr]
    return peer


def test_connection_attempt_first_and_second_client_refused() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        second = await RawPeer.connect(*sim.address)
        refusal = await second.recv()
        attempt = refusal.params[0].first("ConnectionAttemptEvent")
        assert attempt is not None and attempt.fields["Status"] == 2  # a client connection already exists
        assert await second.closed()
        # the first client is unaffected
        reply = await peer.request(Message.make("GET_ROSPECS", 77))
        assert (reply.name, reply.id, reply.ok) == ("GET_ROSPECS_RESPONSE", 77, True)
        peer.close()

    run(body)


def test_every_request_gets_its_response_type_with_echoed_id() -> None:
    expected = {
        "GET_READER_CAPABILITIES": "GET_READER_CAPABILITIES_RESPONSE",
        "GET_READER_CONFIG": "GET_READER_CONFIG_RESPONSE",
        "SET_READER_CONFIG": "SET_READER_CONFIG_RESPONSE",
        "GET_ROSPECS": "GET_ROSPECS_RESPONSE",
        "GET_ACCESSSPECS": "GET_ACCESSSPECS_RESPONSE",
        "DELETE_ACCESSSPEC": "DELETE_ACCESSSPEC_RESPONSE",
        "DELETE_ROSPEC": "DELETE_ROSPEC_RESPONSE",
        "GET_SUPPORTED_VERSION": "GET_SUPPORTED_VERSION_RESPONSE",
    }

    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        for i, (req, resp) in enumerate(expected.items()):
            reply = await peer.request(Message.make(req, 5000 + i))
            assert (reply.name, reply.id) == (resp, 5000 + i)
        # an unknown message type -> ERROR_MESSAGE, id echoed
        reply = await peer.request(Message(555, 4242))
        assert (reply.name, reply.id) == ("ERROR_MESSAGE", 4242)
        assert reply.status is not None and reply.status.fields["Status"] == 109  # M_UnsupportedMessage
        # ENABLE_EVENTS_AND_REPORTS has no response: the next message is the GET_ROSPECS reply
        await peer.send(Message.make("ENABLE_EVENTS_AND_REPORTS", 1))
        reply = await peer.request(Message.make("GET_ROSPECS", 2))
        assert (reply.name, reply.id) == ("GET_ROSPECS_RESPONSE", 2)
        assert sim.received.count("ENABLE_EVENTS_AND_REPORTS") == 1
        reply = await peer.request(Message.make("CLOSE_CONNECTION", 3))
        assert (reply.name, reply.id, reply.ok) == ("CLOSE_CONNECTION_RESPONSE", 3, True)
        assert await peer.closed()

    run(body)


def _state(reply: Message, rid: int) -> int:
    [spec] = [p for p in reply.params if p.name == "ROSpec" and p.fields["ROSpecID"] == rid]
    return int(spec.fields["CurrentState"])  # type: ignore[arg-type]


def test_rospec_state_machine_null_and_immediate_start() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        assert (await peer.request(Message.make("ADD_ROSPEC", 1, streaming_rospec(7, start_immediately=False)))).ok
        assert _state(await peer.request(Message.make("GET_ROSPECS", 2)), 7) == 0  # disabled
        assert not (await peer.request(Message.make("START_ROSPEC", 3, ROSpecID=7))).ok  # START needs inactive
        assert (await peer.request(Message.make("ENABLE_ROSPEC", 4, ROSpecID=7))).ok
        assert _state(await peer.request(Message.make("GET_ROSPECS", 5)), 7) == 1  # inactive (null trigger)
        assert (await peer.request(Message.make("START_ROSPEC", 6, ROSpecID=7))).ok
        assert _state(await peer.request(Message.make("GET_ROSPECS", 7)), 7) == 2  # active
        assert (await peer.request(Message.make("STOP_ROSPEC", 8, ROSpecID=7))).ok
        assert _state(await peer.request(Message.make("GET_ROSPECS", 9)), 7) == 1
        # immediate start trigger: ENABLE makes it active at once
        assert (await peer.request(Message.make("ADD_ROSPEC", 10, streaming_rospec(8)))).ok
        assert (await peer.request(Message.make("ENABLE_ROSPEC", 11, ROSpecID=8))).ok
        assert _state(await peer.request(Message.make("GET_ROSPECS", 12)), 8) == 2
        # duplicates and unknown ids are refused; id 0 deletes all
        assert not (await peer.request(Message.make("ADD_ROSPEC", 13, streaming_rospec(8)))).ok
        assert not (await peer.request(Message.make("ENABLE_ROSPEC", 14, ROSpecID=99))).ok
        assert (await peer.request(Message.make("DELETE_ROSPEC", 15, ROSpecID=0))).ok
        assert (await peer.request(Message.make("GET_ROSPECS", 16))).params[1:] == ()
        peer.close()

    run(body)


def test_report_trigger_n_and_content_selector_honoured() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        spec = streaming_rospec(3, report_every_n_tags=5)
        sel = content_selector(pc=True, crc=True, EnablePeakRSSI=False, EnableLastSeenTimestamp=False,
                               EnableROSpecID=True)
        spec = Param(spec.type, spec.fields, tuple(report_spec(5, None, sel) if p.name == "ROReportSpec" else p
                                                   for p in spec.params))
        assert (await peer.request(Message.make("ADD_ROSPEC", 1, spec))).ok
        assert (await peer.request(Message.make("ENABLE_ROSPEC", 2, ROSpecID=3))).ok
        for _ in range(3):
            report = await peer.recv_until(lambda m: m.name == "RO_ACCESS_REPORT")
            tags = tag_reports(report)
            assert len(tags) == 5
            for t in tags:
                assert t.peak_rssi is None and t.last_seen_utc is None
                assert t.antenna == 1 and t.rospec_id == 3 and t.first_seen_utc is not None
                assert t.pc == 0x3000 and t.crc is not None and t.seen_count == 1
        peer.close()

    run(body)


def test_keepalives_and_close_after_missed_acks() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        assert (await peer.request(Message.make("SET_READER_CONFIG", 1, keepalive_spec(50)))).ok
        ka = await peer.recv_until(lambda m: m.name == "KEEPALIVE")
        await peer.send(Message(72, ka.id))  # one ACK, then silence
        close = await peer.recv_until(lambda m: m.name == "READER_EVENT_NOTIFICATION", timeout=5)
        assert close.params[0].first("ConnectionCloseEvent") is not None
        assert await peer.closed()
        assert sim.received.count("KEEPALIVE_ACK") == 1

    run(body, max_missed_acks=2)


def test_get_report_flushes_held_reports() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        spec = streaming_rospec(4, report_every_n_tags=1)
        # N = 0 with an endless AISpec: a compliant reader holds everything until GET_REPORT.
        spec = Param(spec.type, spec.fields, tuple(
            Param.make("ROReportSpec", content_selector(), Trigger=1, N=0) if p.name == "ROReportSpec" else p
            for p in spec.params))
        assert (await peer.request(Message.make("ADD_ROSPEC", 1, spec))).ok
        assert (await peer.request(Message.make("ENABLE_ROSPEC", 2, ROSpecID=4))).ok
        await asyncio.sleep(0.2)
        assert not peer.inbox
        await peer.send(Message.make("GET_REPORT", 3))
        report = await peer.recv()
        assert report.name == "RO_ACCESS_REPORT" and len(tag_reports(report)) > 5
        peer.close()

    run(body)


def test_llrp_1_1_reader_negotiates_per_connection() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        reply = await peer.request(Message.make("GET_SUPPORTED_VERSION", 1, version=2))
        assert (reply.name, reply.id, reply.ok) == ("GET_SUPPORTED_VERSION_RESPONSE", 1, True)
        assert reply.fields == {"CurrentVersion": 1, "SupportedVersion": 2}  # every connection starts in 1.0.1
        # a 1.1 header before the switch is refused; so is a version the reader does not have
        reply = await peer.request(Message.make("GET_ROSPECS", 2, version=2))
        assert (reply.name, reply.id, reply.status.fields["Status"]) == ("ERROR_MESSAGE", 2, 110)  # type: ignore[union-attr]
        reply = await peer.request(Message.make("SET_PROTOCOL_VERSION", 3, version=2, ProtocolVersion=3))
        assert (reply.name, reply.status.fields["Status"]) == ("SET_PROTOCOL_VERSION_RESPONSE", 110)  # type: ignore[union-attr]
        reply = await peer.request(Message.make("SET_PROTOCOL_VERSION", 4, version=2, ProtocolVersion=2))
        assert (reply.name, reply.id, reply.ok) == ("SET_PROTOCOL_VERSION_RESPONSE", 4, True)
        reply = await peer.request(Message.make("GET_ROSPECS", 5, version=2))
        assert (reply.name, reply.version, reply.ok) == ("GET_ROSPECS_RESPONSE", 2, True)
        reply = await peer.request(Message.make("GET_ROSPECS", 6, version=1))  # now 1.0.1 is the wrong one
        assert (reply.name, reply.status.fields["Status"]) == ("ERROR_MESSAGE", 110)  # type: ignore[union-attr]
        # the millisecond report trigger is LLRP 1.1: accepted on this connection
        assert (await peer.request(Message.make("ADD_ROSPEC", 7, streaming_rospec(9, report_every_n_tags=None,
                                                                                  report_every_ms=50),
                                                version=2))).ok
        assert (await peer.request(Message.make("CLOSE_CONNECTION", 8, version=2))).ok
        assert await peer.closed()
        again = await hello(sim)  # a new connection starts in 1.0.1 again
        reply = await again.request(Message.make("GET_SUPPORTED_VERSION", 9, version=2))
        assert reply.fields == {"CurrentVersion": 1, "SupportedVersion": 2}
        again.close()

    run(body)


def test_llrp_1_0_1_reader_refuses_version_messages_and_1_1_triggers() -> None:
    async def body(sim: LLRPReaderSimulator) -> None:
        peer = await hello(sim)
        reply = await peer.request(Message.make("GET_SUPPORTED_VERSION", 1, version=2))
        assert (reply.name, reply.id, reply.version) == ("ERROR_MESSAGE", 1, 1)
        assert reply.status is not None and reply.status.fields["Status"] == 110  # M_UnsupportedVersion
        reply = await peer.request(Message.make("GET_SUPPORTED_VERSION", 2))  # a 1.0.1 header: unknown type
        assert (reply.name, reply.status.fields["Status"]) == ("ERROR_MESSAGE", 109)  # type: ignore[union-attr]
        reply = await peer.request(Message.make("SET_PROTOCOL_VERSION", 3, ProtocolVersion=2))
        assert (reply.name, reply.status.fields["Status"]) == ("ERROR_MESSAGE", 109)  # type: ignore[union-attr]
        reply = await peer.request(Message.make("ADD_ROSPEC", 4, streaming_rospec(9, report_every_n_tags=None,
                                                                                  report_every_ms=50)))
        assert (reply.name, reply.status.fields["Status"]) == ("ADD_ROSPEC_RESPONSE", 201)  # type: ignore[union-attr]
        assert (await peer.request(Message.make("ADD_ROSPEC", 5, streaming_rospec(9, report_every_n_tags=None,
                                                                                  report_every_ms=50,
                                                                                  version=1)))).ok
        peer.close()

    run(body, max_version=1)
