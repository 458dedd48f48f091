"""``lane_engine:`` section: dedup, presence and passage timing (defaults suit a truck lane)."""

from __future__ import annotations

from pydantic import Field

from gateway.config.common import Section


class LaneEngineConfig(Section):
    dedup_window_s: float = Field(1.0, gt=0, description="same tag on the same antenna within this is one read")
    depart_after_s: float = Field(3.0, gt=0, description="an identifier departs after this much absence")
    passage_quiet_s: float = Field(4.0, gt=0, description="a passage closes when no new identifier for this long")
    passage_max_s: float = Field(600.0, gt=0, description="a passage closes after this long regardless")
    arbitration_window_s: float = Field(2.0, gt=0, description="RSSI evidence window for cross-lane arbitration")
    min_reads: int = Field(2, ge=1, description="reads needed before an RFID identifier counts")
    update_interval_s: float = Field(1.0, gt=0, description="at most one passage 'update' event per interval")
    only_gs1_keys: bool = Field(True, description="drop reads that carry no GS1 key (e.g. unprogrammed tags)")
