"""The Impinj IoT webhook receiver over a real loopback HTTP connection: batches in, reads out, bad input answered.

The batch fixture (``tests/fixtures/vendor_json/impinj_webhook_batch.json``) is built from the documented
``tagInventoryEvent`` field list (rfid.md 1c): base64 ``epc`` and ``epcHex``, ``pc``, ``antennaPort`` and
``antennaName``, ``peakRssiCdbm`` in centi-dBm, ``frequency``, ``transmitPowerCdbm``, ``lastSeenTime``,
``phaseAngle``, ``tid``/``tidHex``, plus the non-tag events a reader sends in the same batches.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.registry import open_source, validate_url
from drivers.vendor_json.webhook import ImpinjWebhookSource, WebhookConfig, WebhookURLError
from gateway.config import ConfigError, parse_config
from gateway.reads import Read, SourceEvent, SourceStatus

BATCH: list[Any] = json.loads((Path(__file__).parent.parent / "fixtures" / "vendor_json"
                               / "impinj_webhook_batch.json").read_text())


def run(url_tail: str, body: Callable[[ImpinjWebhookSource, str, list[SourceEvent]], Awaitable[None]]) -> None:
    """Start the source from its URL, collect what it yields while ``body`` talks HTTP to it, close it."""

    async def main() -> None:
        src = open_source("r700", f"impinj-iot+webhook://{url_tail}")
        assert isinstance(src, ImpinjWebhookSource)
        got: list[SourceEvent] = []

        async def consume() -> None:
            async for ev in src.events():
                got.append(ev)

        task = asyncio.create_task(consume())
        await asyncio.wait_for(src.listening.wait(), 5)
        host, port = src.address
        try:
            await body(src, f"http://{host}:{port}", got)
        finally:
            await src.close()
            await asyncio.wait_for(task, 5)
        assert isinstance(got[-1], SourceStatus) and got[-1].state == "stopped"

    asyncio.run(asyncio.wait_for(main(), 30))


def reads(events: list[SourceEvent]) -> list[Read]:
    return [e for e in events if isinstance(e, Read)]


async def settle(events: list[SourceEvent], n_reads: int) -> None:
    """Wait (bounded) until the consumer task has taken ``n_reads`` reads off the queue."""
    for _ in range(200):
        if len(reads(events)) >= n_reads:
            return
        await asyncio.sleep(0.01)


def test_batches_over_one_keep_alive_connection_become_reads() -> None:
    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        async with httpx.AsyncClient() as http:
            first = await http.post(f"{base}/impinj", json=BATCH)
            second = await http.post(f"{base}/impinj", json=BATCH[0])  # a single event, not a list
        assert (first.status_code, second.status_code) == (204, 204)
        await settle(events, 4)
        got = reads(events)
        assert [r.raw for r in got] == ["3074257bf7194e4000001a85", "31049dc7d2aa000000000001",
                                        "3074257bf7194e4000001a86", "3074257bf7194e4000001a85"]
        assert [r.channel for r in got] == ["1", "2", "Lane 1 right", "1"]
        assert [r.rssi_dbm for r in got] == [-53.5, -61.2, -70.0, -53.5]  # centi-dBm -> dBm
        a = got[0]
        assert (a.source, a.pc, a.frequency_khz, a.phase_deg) == ("r700", 0x3000, 866900, 31.5)
        assert a.identifier is not None and a.identifier.key == "80614141123458.6789"
        assert a.extra["antenna_name"] == "Lane 1 left" and a.extra["transmitPowerCdbm"] == 3000
        assert got[1].identifier is None and got[1].error  # not a valid GS1 EPC: delivered raw with the reason
        assert got[2].extra["tid"] == "4oARYCAAdM8IUAnB"
        assert any("antennaDisconnectedEvent" in s.detail for s in events if isinstance(s, SourceStatus))
        assert (src.requests, src.events_accepted, src.rejected) == (2, 6, 0)

    run("127.0.0.1:0/impinj", body)


def test_bad_events_are_reported_and_the_good_ones_of_the_batch_kept() -> None:
    bad = [BATCH[0], {"tagInventoryEvent": {"epc": "%%%"}}, "nope", {"tagInventoryEvent": {"antennaPort": 1}},
           BATCH[3]]

    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        async with httpx.AsyncClient() as http:
            resp = await http.post(f"{base}/", json=bad)
        # 2xx, so that the reader does not re-send (and duplicate) the three good events
        assert resp.status_code == 200
        answer = resp.json()
        assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1, 2, 3]
        assert "not base64" in answer["rejected"][0]["error"]
        await settle(events, 2)
        assert [r.raw for r in reads(events)] == ["3074257bf7194e4000001a85", "3074257bf7194e4000001a86"]
        assert any("bad webhook event" in s.detail for s in events if isinstance(s, SourceStatus))

    run("127.0.0.1:0", body)


def test_each_kind_of_bad_request_gets_its_status_and_the_receiver_keeps_serving() -> None:
    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        auth = ("gw", "s3cret")
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{base}/hook", json=BATCH)).status_code == 401  # no credentials
            no = await http.post(f"{base}/hook", json=BATCH, auth=("gw", "wrong"))
            assert no.status_code == 401 and no.headers["www-authenticate"].startswith("Basic")
            assert (await http.post(f"{base}/other", json=BATCH, auth=auth)).status_code == 404
            wrong_method = await http.get(f"{base}/hook", auth=auth)
            assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
            not_json = await http.post(f"{base}/hook", content=b"{not json", auth=auth)
            assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
            scalar = await http.post(f"{base}/hook", json=42, auth=auth)
            assert scalar.status_code == 400 and "list of events" in scalar.json()["error"]
            too_big = await http.post(f"{base}/hook", content=b"[" + b" " * 5000 + b"]", auth=auth)
            assert too_big.status_code == 413

            async def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
                for _ in range(10):
                    yield b" " * 1000

            chunked = await http.post(f"{base}/hook", content=chunks(), auth=auth)
            assert chunked.status_code == 413
        # malformed HTTP on a raw socket: 400, connection closed
        reader, writer = await asyncio.open_connection(*src.address)
        writer.write(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400")
        # ... and the receiver still takes a good batch afterwards
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{base}/hook", json=BATCH, auth=auth)).status_code == 204
        await settle(events, 3)
        assert len(reads(events)) == 3 and src.rejected == 9 and src.requests == 1

    run("gw:s3cret@127.0.0.1:0/hook?max_body=4096", body)


def test_bearer_token() -> None:
    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        async with httpx.AsyncClient() as http:
            assert (await http.post(base + "/", json=BATCH)).status_code == 401
            ok = await http.post(base + "/", json=BATCH, headers={"Authorization": "Bearer t0k3n"})
            assert ok.status_code == 204

    run("127.0.0.1:0?token=t0k3n", body)


def test_port_in_use_is_an_error_status_not_a_crash() -> None:
    async def main() -> None:
        blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = blocker.sockets[0].getsockname()[1]
        src = open_source("r700", f"impinj-iot+webhook://127.0.0.1:{port}/")
        events = [e async for e in src.events()]  # ends by itself: nothing can be received
        blocker.close()
        await src.close()
        assert [e.state for e in events if isinstance(e, SourceStatus)][:2] == ["starting", "error"]

    asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize(("url", "message"), [
    ("impinj-iot+webhook://reader.example:8081/", "IP address or localhost"),
    ("impinj-iot+webhook://127.0.0.1/", "a port is required"),
    ("impinj-iot+webhook://127.0.0.1:8081/?max_body=10", "max_body"),
    ("impinj-iot+webhook://127.0.0.1:8081/?secret=1", "unknown parameter"),
    ("impinj-iot+webhook://gw@127.0.0.1:8081/", "user:password"),
    ("impinj-iot+webhook://gw:pw@127.0.0.1:8081/?token=t0k3n", "not both"),
    ("impinj-iot+webhook://127.0.0.1:8081/?max_connections=0", "max_connections"),
    ("impinj-iot+webhook://127.0.0.1:8081/?request_timeout=nan", "request_timeout"),
])
def test_bad_urls_are_refused_by_the_driver_and_by_config_check(url: str, message: str) -> None:
    with pytest.raises(WebhookURLError, match=message):
        WebhookConfig.parse(url)
    with pytest.raises(ValueError, match=message):
        validate_url(url)
    site = {"site": "bx1", "gateway": "gw1",
            "lanes": [{"id": "lane1", "readers": [{"id": "r700", "url": url}]}]}
    with pytest.raises(ConfigError) as err:
        parse_config(site, "site.yaml")
    assert "lanes[0].readers[0].url" in [path for path, _ in err.value.problems] and message in str(err.value)


def test_good_url_passes_config_check() -> None:
    site = {"site": "bx1", "gateway": "gw1", "lanes": [{"id": "lane1", "readers": [
        {"id": "r700", "url": "impinj-iot+webhook://0.0.0.0:8081/impinj"},
        {"id": "r2", "url": "llrp://10.0.0.5?antennas=1,2&version=1.0.1"}]}]}
    assert parse_config(site, "site.yaml").lanes[0].readers[0].url.endswith("/impinj")
    for bad, where in (("llrp://10.0.0.5?report=0", "report"), ("llrp://h?version=2.0", "version"),
                       ("zebra-iot+mqtt://broker:1883", "no topic")):
        site["lanes"][0]["readers"][1]["url"] = bad  # type: ignore[index]
        with pytest.raises(ConfigError, match=where):
            parse_config(site, "site.yaml")


def _tag(**fields: Any) -> dict[str, Any]:
    event = json.loads(json.dumps(BATCH[0]))
    event["tagInventoryEvent"].update(fields)
    return event  # type: ignore[no-any-return]


def test_numbers_no_float_holds_and_deep_nesting_are_answered() -> None:
    """Issue #22 item 4: each of these closed the connection with no answer."""
    huge = 10**400  # valid JSON; float() of it overflows

    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        async with httpx.AsyncClient() as http:
            for field in ("peakRssiCdbm", "phaseAngle"):
                res = await http.post(f"{base}/", content=json.dumps([_tag(**{field: huge}), BATCH[0]]))
                assert res.status_code == 200, res.text
                answer = res.json()
                assert answer["accepted"] == 1 and answer["rejected"][0]["index"] == 0
                assert field in answer["rejected"][0]["error"]
            res = await http.post(f"{base}/", content=json.dumps([_tag(lastSeenTime=huge)]))
            assert res.status_code == 204  # an implausible time: the host time stands in, as for a bad string
            res = await http.post(f"{base}/", content=json.dumps([_tag(peakRssiCdbm=1e308 * 10)]))  # Infinity
            assert res.status_code == 200 and "peakRssiCdbm" in res.json()["rejected"][0]["error"]
            res = await http.post(f"{base}/", content=b"[" * 500 + b"]" * 500)
            assert res.status_code == 400 and "nested deeper than 64" in res.json()["error"]
            assert (await http.post(f"{base}/", json=BATCH)).status_code == 204  # still serving
        await settle(events, 2 + 1 + 3)
        assert all(r.rssi_dbm is None or abs(r.rssi_dbm) < 1000 for r in reads(events))

    run("127.0.0.1:0", body)


def test_a_trickling_client_is_answered_408_when_the_request_deadline_runs_out() -> None:
    """Issue #22 item 4: the deadline is the whole request's, from its first byte (from the connect for a
    connection's first request), and is never restarted by the bytes that keep coming."""
    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        reader, writer = await asyncio.open_connection(*src.address)
        request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"[" + b" " * 99_998 + b"]"
        answer = b""
        for i in range(0, len(request), 1):  # one byte at a time, far more often than any per-read timeout
            try:
                writer.write(request[i:i + 1])
                await writer.drain()
            except ConnectionError:
                break
            try:
                answer += await asyncio.wait_for(reader.read(4096), 0.05)
            except TimeoutError:
                continue
            if answer:
                break
        else:
            raise AssertionError("the whole slow request was accepted")
        answer += await asyncio.wait_for(reader.read(), 5)  # ... and the connection is closed
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert b"request not complete within 1 s" in answer
        silent_reader, silent = await asyncio.open_connection(*src.address)  # connects, says nothing
        assert (await asyncio.wait_for(silent_reader.read(), 10)).startswith(b"HTTP/1.1 408")
        silent.close()
        async with httpx.AsyncClient() as http:
            assert (await http.post(f"{base}/", json=BATCH)).status_code == 204

    run("127.0.0.1:0?request_timeout=1", body)


def test_connections_over_the_limit_get_503_and_the_limit_frees_up() -> None:
    async def body(src: ImpinjWebhookSource, base: str, events: list[SourceEvent]) -> None:
        held = [await asyncio.open_connection(*src.address) for _ in range(2)]
        for _, writer in held:  # each holds a request in progress
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
        for _ in range(100):  # until the server has taken both
            if len(src._writers) == 2:
                break
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient() as http:
            over = await http.post(f"{base}/", json=BATCH)
            assert over.status_code == 503 and over.headers["retry-after"] == "1"
            assert src.refused_connections == 1
            for _, writer in held:
                writer.close()
            for _ in range(100):
                if not src._writers:
                    break
                await asyncio.sleep(0.02)
            assert (await http.post(f"{base}/", json=BATCH)).status_code == 204
        assert any("max_connections" in s.detail for s in events if isinstance(s, SourceStatus))

    run("127.0.0.1:0?max_connections=2", body)
