"""``lane_engine:`` section: dedup, presence and passage timing (defaults suit a truck lane).

Every time is in seconds of host time (the reads' ``host_time``); the engine has no clock of its
own.  The arbitration defaults follow the EdgeX mobility profile (6 dB, 500 ms hold-off, then the
margin decays by 8 dB/s) and Rifidi's examples (stable set 5 s, departure 3 s).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.config.common import Section


class LaneEngineConfig(Section):
    dedup_window_s: float = Field(1.0, gt=0, description="same tag on the same antenna within this is one read")
    depart_after_s: float = Field(3.0, gt=0, description="an identifier departs after this much absence")
    passage_quiet_s: float = Field(4.0, gt=0, description="a passage closes when no new identifier for this long")
    passage_max_s: float | None = Field(
        600.0, gt=0, description="a passage closes after this long regardless; null: never (only quiet/trigger)")
    hold_while_present: bool = Field(
        True, description="a quiet passage stays open while its identifiers are still read (truck stopped "
        "in the portal); it then closes once they have departed")
    exit_grace_s: float = Field(1.0, ge=0, description="after the closing trigger, wait this long for late tags")
    arbitration_window_s: float = Field(2.0, gt=0, description="RSSI evidence window for cross-lane arbitration")
    arbitration_margin_db: float = Field(
        6.0, ge=0, description="a tag moves to another lane only if its evidence there is this much stronger")
    arbitration_holdoff_s: float = Field(0.5, ge=0, description="the full margin applies for this long")
    arbitration_decay_db_per_s: float = Field(8.0, ge=0, description="then the margin shrinks this fast")
    camera_evidence_dbm: float = Field(
        -30.0, description="RSSI-equivalent of one barcode read in arbitration (cameras see their own lane)")
    min_reads: int = Field(2, ge=1, description="reads needed before an RFID identifier counts")
    camera_min_reads: int = Field(1, ge=1, description="reads needed before a barcode identifier counts")
    update_interval_s: float = Field(1.0, gt=0, description="at most one passage 'update' event per interval")
    only_gs1_keys: bool = Field(True, description="drop reads that carry no GS1 key (e.g. unprogrammed tags)")
    key_types: list[str] | None = Field(
        None, description="if set, only these key types count (e.g. [sscc, sgtin, grai]); others are dropped")
    outage_hold_s: float = Field(
        10.0, ge=0, description="identifiers last read by a source that reported an error do not depart "
        "for this long after the error (a reader dropping out must not split a passage)")
    direction_agreement: float = Field(
        0.6, gt=0.5, le=1.0, description="share of identifiers that must agree on the antenna order")
    timer_resolution_s: float = Field(0.1, gt=0, description="reads run the timers at most this often")
    open_on: Literal["any", "trigger"] = Field(
        "any", description="what opens a passage: any identifier, plate or trigger (any), or only a trigger "
        "(trigger: for lanes whose loops or light barriers see every vehicle; what is read before waits "
        "preroll_s for one); a lane may set its own")
    exit_wait_s: float = Field(
        20.0, ge=0, description="a passage an entry trigger opened stays open this long without reads for its "
        "exit trigger (the truck between the loops), instead of passage_quiet_s")
    preroll_s: float = Field(
        2.0, ge=0, description="identifiers, plates and container codes read this long before the trigger "
        "that opens a passage join it")
    intake_mqtt: bool = Field(
        False, description="take lane controllers' triggers from bx/v1/in/{site}/{gw}/lane/{lane}/trigger")
    vehicle_late_s: float = Field(
        10.0, ge=0, description="a plate or container code read again in its lane within this long after "
        "its passage closed is the same vehicle (counted as vehicle_after_close, not a new passage)")
