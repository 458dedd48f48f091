"""The SQLite outbox on its own: order, acknowledgement, bounds, restart."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.publishing.outbox import Outbox, OutboxFull, OutboxMessage


def _msgs(n: int, lane: str = "L1") -> list[OutboxMessage]:
    return [OutboxMessage(f"bx/v1/t/{lane}", f"{lane}-{i}".encode(), lane=lane) for i in range(n)]


def test_fifo_ack_and_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    ids = box.put(_msgs(3, "L1")) + box.put(_msgs(2, "L2"))
    assert ids == sorted(ids) and box.depth() == 5
    box.ack(ids[:2])
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    rows = again.pending(after=0)
    assert [r.payload for r in rows] == [b"L1-2", b"L2-0", b"L2-1"] and again.depth() == 3
    assert rows[0].props == {} and rows[0].qos == 1 and not rows[0].retain


def test_drop_oldest_is_counted_logged_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reports: list[tuple[str, int]] = []
    box = Outbox(tmp_path / "o.sqlite", max_messages=10, on_drop=lambda r, n: reports.append((r, n)))
    box.put(_msgs(10))
    with caplog.at_level(logging.ERROR):
        box.put(_msgs(3, "L2"))
    assert box.depth() == 10 and box.stats.dropped_full == 3 and reports == [("full", 3)]
    assert "dropped the 3 oldest" in caplog.text
    assert box.pending(0)[0].payload == b"L1-3"


def test_reject_new_raises(tmp_path: Path) -> None:
    reports: list[tuple[str, int]] = []
    box = Outbox(tmp_path / "o.sqlite", max_messages=10, when_full="reject_new",
                 on_drop=lambda r, n: reports.append((r, n)))
    box.put(_msgs(10))
    with pytest.raises(OutboxFull):
        box.put(_msgs(1))
    assert box.depth() == 10 and box.stats.rejected == 1 and reports == [("full", 1)]


def test_age_bound(tmp_path: Path) -> None:
    now = [1000.0]
    box = Outbox(tmp_path / "o.sqlite", max_age_s=60, clock=lambda: now[0])
    box.put(_msgs(2))
    now[0] += 30
    box.put(_msgs(1, "L2"))
    assert box.oldest_age() == 30
    now[0] += 45
    assert box.expire() == 2 and box.stats.dropped_age == 2 and box.depth() == 1
