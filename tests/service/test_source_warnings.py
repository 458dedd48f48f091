"""A reader or camera that does not deliver is a lane-level warning in plain words (#23 item 6).

The drivers' own texts (as the LLRP client, the serial drivers and the supervisor write them) go through
:class:`gateway.service.live.LiveState` as the gateway feeds it; what the dashboard shows is the
warning's problem, since when, and whether the gateway keeps trying, never the exception text.
"""

from __future__ import annotations

import pytest

from gateway.reads import SourceStatus
from gateway.service.live import LiveState, source_problem

T = 1_800_000_000.0


@pytest.mark.parametrize(("state", "detail", "problem"), [
    ("reconnecting", "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5084); retry in 0.50 s",
     "unreachable"),
    ("reconnecting", "TimeoutError: ; retry in 1.00 s", "not responding"),
    ("reconnecting", "no ConnectionAttemptEvent from the reader; retry in 1.00 s", "not responding"),
    ("reconnecting", "reader refused the connection (ConnectionAttemptEvent status 1: another client is connected)"
     "; retry in 2.00 s", "busy (another client is connected)"),
    ("error", "open /dev/ttyUSB0: SerialException: [Errno 2] could not open port /dev/ttyUSB0: No such file or "
     "directory", "not found"),
    ("error", "open /dev/ttyUSB0: SerialException: [Errno 13] Permission denied: '/dev/ttyUSB0'", "permission denied"),
    ("reconnecting", "connection ended; retry in 0.50 s", "disconnected"),
    ("error", "driver failed: KeyError: 'x'", "failed (driver error)"),
    ("error", "cannot open: unknown camera parameter 'fsp'", "cannot be started (check its configuration)"),
    ("error", "HTTP 401 from the camera", "refused the credentials"),
    ("stopped", "", "stopped"),
    ("connected", "127.0.0.1:5084 LLRP 1.1", None),
    ("starting", "127.0.0.1:5084", None),
])
def test_driver_details_in_plain_words(state: str, detail: str, problem: str | None) -> None:
    assert source_problem(state, detail) == problem


def test_the_warning_keeps_its_cause_and_start_through_the_retries_and_clears_on_connect() -> None:
    live = LiveState([("lane1", "Lane 1")])
    live.add_source("llrp-1", "reader", "llrp://127.0.0.1:5084", ["lane1"])
    view = live.sources["llrp-1"]

    def feed(state: str, detail: str, at: float) -> dict[str, object] | None:
        live.source_status(SourceStatus("llrp-1", state, detail, host_time=at))  # type: ignore[arg-type]
        warning = view.as_dict()["warning"]
        assert warning is None or isinstance(warning, dict)
        return warning

    assert feed("starting", "127.0.0.1:5084", T) is None
    assert feed("connected", "127.0.0.1:5084 LLRP 1.1", T + 1) is None
    lost = feed("reconnecting", "connection ended; retry in 0.50 s", T + 60)
    assert lost is not None and lost["problem"] == "disconnected" and lost["since"] == T + 60
    refused = feed("reconnecting", "ConnectionRefusedError: [Errno 111] Connect call failed; retry in 1.0 s", T + 61)
    assert refused == {"problem": "unreachable", "retrying": True, "since": T + 60,
                       "text": "reader llrp-1 unreachable since 08:01 UTC, retrying"}
    # the supervisor restarts the driver: its notices do not hide the cause, and the start stays
    assert feed("reconnecting", "restarting in 1.5s", T + 62) == refused
    assert feed("starting", "127.0.0.1:5084", T + 64) == refused
    assert feed("connected", "127.0.0.1:5084 LLRP 1.1", T + 70) is None
    gone = feed("stopped", "", T + 80)
    assert gone is not None and gone["problem"] == "stopped" and gone["retrying"] is False
    assert "Error" not in str(gone) and "Errno" not in str(gone)
