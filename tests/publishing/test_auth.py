"""Username/password on the broker's password listener (the same ACL as the mutual-TLS one)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.publishing.support import RESULT, Subscriber, make_publisher, passage
from tests.support.brokers import TlsBroker

pytestmark = pytest.mark.timeout(90)


def test_username_password_publishes_and_a_wrong_password_is_refused(tls_broker: TlsBroker, tmp_path: Path) -> None:
    port = tls_broker.password_port
    sps = Subscriber(tls_broker.host, port, "bx/v1/sps/#",
                     configure=lambda c: c.username_pw_set("sps-consumer", "pw-sps-secret")).start()
    good = make_publisher(tmp_path / "good", tls_broker.host, port, gateway="gw-a", username="gw-a",
                          password=SecretStr("pw-a-secret"))
    bad = make_publisher(tmp_path / "bad", tls_broker.host, port, gateway="gw-a", client_id="gw-a-bad",
                         username="gw-a", password=SecretStr("wrong"))
    good.start()
    bad.start()
    try:
        assert good.link.connected.wait(15)
        good.publish_enriched(passage("p-pw"), RESULT)
        assert good.wait_idle(15)
        got = sps.wait_for(lambda ms: bool(ms))
        time.sleep(1.5)  # the refused client has had its CONNACK (and a retry)
        assert not bad.link.connected.is_set()
        assert bad.link.last_error is not None and "authori" in bad.link.last_error.lower()
        # the dashboard (GET /api/state "mqtt") says why in one word: the credentials were refused
        state = bad.connection_state()
        assert state["connected"] is False and state["reason"] == "credentials" and state["since"] is not None
        assert good.connection_state() == {"connected": True, "broker": f"mqtt://{tls_broker.host}:{port}",
                                           "reason": None, "error": None, "since": None}
    finally:
        good.stop()
        bad.stop()
        sps.stop()
    assert [m.topic for m in got] == ["bx/v1/sps/s1/gw-a/referral/L1"]
    assert json.loads(got[0].payload)["data"]["audience"] == "sps"
