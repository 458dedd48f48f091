"""Cross-lane arbitration: a generalised mobility profile over RSSI evidence.

Every read adds its received power (mW, ``10 ** (dBm / 10)``; a barcode read counts as
``camera_evidence_dbm``) to its identifier's evidence in that lane, kept in a few time buckets
that span ``arbitration_window_s``.  The identifier belongs to the lane with the most power in
the window, and the confidence is that lane's share of the total.  Like EdgeX's mobility
profile, a tag already assigned moves only if the challenger beats its lane by a margin that
holds for ``holdoff_s`` and then decays, so a burst of cross-reads does not flap it.

>>> from gateway.config.lane_engine import LaneEngineConfig
>>> cfg = LaneEngineConfig()
>>> choose({"lane1": dbm_to_mw(-45), "lane2": dbm_to_mw(-72)}, ["lane1", "lane2"], None, 0.0, cfg)
('lane1', 0.998)
>>> choose({"lane1": dbm_to_mw(-50), "lane2": dbm_to_mw(-47)}, ["lane1", "lane2"], "lane1", 0.1, cfg)[0]
'lane1'
>>> margin_db(0.1, cfg), margin_db(1.0, cfg), margin_db(5.0, cfg)
(6.0, 2.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from gateway.config.lane_engine import LaneEngineConfig

BUCKETS = 4  # evidence window = BUCKETS buckets of arbitration_window_s / BUCKETS


def dbm_to_mw(dbm: float) -> float:
    return float(10.0 ** (dbm * 0.1))


def margin_db(elapsed_s: float, cfg: LaneEngineConfig) -> float:
    """The extra evidence (dB) a challenger needs, ``elapsed_s`` after the current assignment."""
    over = elapsed_s - cfg.arbitration_holdoff_s
    if over <= 0:
        return cfg.arbitration_margin_db
    return max(0.0, cfg.arbitration_margin_db - cfg.arbitration_decay_db_per_s * over)


def choose(scores: Mapping[str, float], eligible: Iterable[str], current: str | None, elapsed_s: float,
           cfg: LaneEngineConfig) -> tuple[str, float]:
    """(lane, confidence) among ``eligible`` lanes (those where the identifier qualified).

    Ties go to the current lane, then to the lane id that sorts first, so the result is
    deterministic.
    """
    lanes = sorted(eligible)
    if not lanes:
        raise ValueError("no eligible lane to choose from")
    best = max(lanes, key=lambda lane: (scores.get(lane, 0.0), lane == current))
    if current is not None and current != best and current in lanes:
        here, there = scores.get(current, 0.0), scores.get(best, 0.0)
        if here > 0.0 and 10.0 * math.log10(there / here) <= margin_db(elapsed_s, cfg):
            best = current
    total = sum(scores.values())
    confidence = scores.get(best, 0.0) / total if total > 0.0 else 1.0
    return best, round(confidence, 4)
