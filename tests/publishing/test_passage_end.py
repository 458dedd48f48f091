"""``Publisher.publish_passage_end``: a closed passage's messages in one outbox transaction.

It must publish exactly what ``publish_passage_event(end)`` followed by ``publish_enriched`` (or
``publish_observation``) published -- same topics, same CloudEvents ids, same order -- except that the
retained lane state is written once (``occupied: false`` and the decision together), and it must commit
them with a single ``Outbox.put`` so that a SIGKILL leaves all of them or none.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.lane.passage import PassageEvent
from gateway.publishing.outbox import Outbox, OutboxMessage
from gateway.publishing.publisher import Publisher
from tests.publishing.support import RESULT, make_publisher, passage


def _rows(pub: Publisher) -> list[OutboxMessage]:
    return pub.outbox.pending(0, 1000)


def _ce_id(message: OutboxMessage) -> str | None:
    user = dict(message.props.get("user") or [])  # type: ignore[call-overload]
    return user.get("ce_id")


def _state(message: OutboxMessage) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message.payload)
    body.pop("time")
    return body


def _count_puts(pub: Publisher) -> list[int]:
    """Record the number of messages of each ``Outbox.put`` (each one is one SQLite transaction)."""
    calls: list[int] = []
    put = pub.outbox.put

    def counting(messages: Any, counters: Any = None) -> list[int]:
        calls.append(len(messages))
        return put(messages, counters)

    pub.outbox.put = counting  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("result", [RESULT, None], ids=["enriched", "enrichment-failed"])
def test_passage_end_equals_the_two_calls_in_one_transaction(tmp_path: Path, result: Any) -> None:
    p = passage()
    end = PassageEvent("end", p, p.closed_at or 0.0)
    two = make_publisher(tmp_path / "two")
    two.publish_passage_event(end)
    if result is None:
        two.publish_observation(p)
    else:
        two.publish_enriched(p, result)
    one = make_publisher(tmp_path / "one")
    puts = _count_puts(one)
    customs_id = one.publish_passage_end(end, result)
    before, after = _rows(two), _rows(one)
    two.outbox.close()
    one.outbox.close()

    assert len(puts) == 1 and puts[0] == len(after)  # one transaction holds every message
    # the same messages in the same order; the lane state once, at the end, saying what the last one said
    states = [m for m in before if m.topic.endswith("/state")]
    assert [m.topic.endswith("/state") for m in after] == [False] * (len(after) - 1) + [True]
    assert [(m.topic, _ce_id(m), m.retain, m.lane) for m in after[:-1]] == [
        (m.topic, _ce_id(m), m.retain, m.lane) for m in before if m not in states]
    assert _state(after[-1]) == _state(states[-1])
    assert _state(after[-1])["occupied"] is False and _state(after[-1])["passageId"] == p.id
    if result is None:
        assert customs_id is None and "decision" not in _state(after[-1])
    else:
        assert customs_id is not None and customs_id in {_ce_id(m) for m in after}
        assert _state(after[-1])["decision"] == "go_to_bay"


def test_a_record_that_cannot_be_built_still_publishes_the_observation(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.publishing import compose

    def broken(record: Any, audience: str) -> Any:
        raise RuntimeError("a bug while projecting")

    monkeypatch.setattr(compose, "project", broken)
    p = passage()
    pub = make_publisher(tmp_path)
    with caplog.at_level(logging.ERROR, logger="gateway.publishing.compose"):
        assert pub.publish_passage_end(PassageEvent("end", p, 1.0), RESULT) is None
    topics = [m.topic for m in _rows(pub)]
    pub.outbox.close()
    assert [t.rsplit("/", 2)[-2:] for t in topics] == [["L1", "passage"], ["observation", "L1"], ["L1", "state"]]
    assert "could not build the enriched record" in caplog.text


def test_passage_end_replays_after_a_crash_byte_for_byte(tmp_path: Path) -> None:
    p = passage()
    pub = make_publisher(tmp_path)
    pub.publish_passage_end(PassageEvent("end", p, 1.0), RESULT)
    stored = [(m.id, m.topic, m.payload, m.props) for m in _rows(pub)]
    # no close(), no flush: what a SIGKILL leaves behind is what the next start replays
    again = Outbox(tmp_path / "outbox.sqlite")
    assert [(m.id, m.topic, m.payload, m.props) for m in again.pending(0, 1000)] == stored
    again.close()
    pub.outbox.close()
