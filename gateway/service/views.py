"""JSON views of passages for the dashboard, the API and the ops topics.

Only keys and counts: no names, plates or EORIs ever appear here.
"""

from __future__ import annotations

from typing import Any

from gateway.lane.passage import Passage, SeenIdentifier


def identifier_view(seen: SeenIdentifier) -> dict[str, Any]:
    ev = seen.evidence
    return {
        "key_type": seen.identifier.key_type,
        "key": seen.identifier.key,
        "reads": ev.reads,
        "best_rssi_dbm": ev.best_rssi_dbm,
        "first_seen": ev.first_seen,
        "last_seen": ev.last_seen,
        "carriers": list(ev.carriers),
        "confidence": round(ev.confidence, 3),
    }


def passage_view(passage: Passage, limit: int = 500) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for seen in passage.identifiers:
        counts[seen.identifier.key_type] = counts.get(seen.identifier.key_type, 0) + 1
    return {
        "id": passage.id,
        "lane": passage.lane,
        "direction": passage.direction,
        "state": passage.state,
        "opened_at": passage.opened_at,
        "closed_at": passage.closed_at,
        "close_reason": passage.close_reason,
        "counts": counts,
        "identifiers": [identifier_view(seen) for seen in passage.identifiers[:limit]],
        "truncated": len(passage.identifiers) > limit,
    }
