"""A publishing failure (disk error, full outbox) is logged and never escapes into a reader's task.

``Gateway.on_source_event`` runs inside each source's supervised task: an exception there would be
taken for a driver failure and restart the reader.  Here the outbox's SQLite connection is closed
under the gateway (as a disk error would leave it), then a passage closes: the call returns, the
failure is logged with the passage id, and the passage is still shown on the dashboard state.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import yaml

from gateway.config import load_config
from gateway.gs1.epc.encoder import encode
from gateway.identity import Identifier
from gateway.reads import Read
from gateway.service.wiring import build

SSCCS = ("340123450000001014", "340123450000001021")


def _site(tmp_path: Path) -> Path:
    site = {
        "site": "test-post", "gateway": "gw-fail",
        "lanes": [{"id": "lane1", "read_point_gln": "4012345000009", "default_direction": "inbound",
                   "readers": [{"id": "rdr", "url": "llrp://127.0.0.1:9?antennas=1,2",
                                "antennas": {1: {"zone": "entry"}, 2: {"zone": "exit"}}}]}],
        "lane_engine": {"depart_after_s": 0.5, "passage_quiet_s": 0.5, "min_reads": 1},
        "mqtt": {"url": "mqtt://127.0.0.1:9"},  # never connected: the publisher is not started
        "api": {"bind": "127.0.0.1:0", "tokens": ["t"]},
        "storage": {"path": str(tmp_path / "data")},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    return path


def _read(sscc: str, t: float) -> Read:
    epc = encode([("00", sscc)], scheme="sscc-96", filter=0, company_prefix_length=7).hex.lower()
    return Read("rdr", "1", "rfid", epc, t, rssi_dbm=-50.0,
                identifier=Identifier.from_elements([("00", sscc)]), scheme="sscc-96")


def test_a_broken_outbox_is_logged_and_the_reader_task_survives(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    gateway = build(load_config(_site(tmp_path)))
    gateway.publisher.outbox.close()  # every later write raises, as after a disk error
    t0 = time.time()
    with caplog.at_level(logging.ERROR):
        for i, sscc in enumerate(SSCCS):
            gateway.on_source_event(_read(sscc, t0 + i * 0.01))  # opens the passage: must not raise
        gateway.on_source_event(_read(SSCCS[0], t0 + 30.0))  # much later: the first passage has closed
    assert any("publishing" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    assert gateway.live.passages, "the closed passage is still shown although it could not be published"
