"""Log lines carry no secrets: URL credentials, bearer tokens and registered secrets are masked."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.config import parse_config
from gateway.logs import JsonFormatter, RedactingFilter, redact


def test_redact_patterns() -> None:
    assert redact("mqtts://gw:s3cr3t@host:8883") == "mqtts://gw:***@host:8883"
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer ***"
    assert redact("password=hunter2&x=1") == "password=***&x=1"


def test_config_secrets_are_masked_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    parse_config({"site": "s", "gateway": "g", "lanes": [{"id": "l"}],
                  "mqtt": {"password": "very-secret-pw"}, "api": {"tokens": ["tok-123456"]}})
    logger = logging.getLogger("bx-test")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("login with %s and %s failed", "very-secret-pw", "tok-123456")
    finally:
        logger.removeHandler(handler)
    assert records == ["login with *** and *** failed"]


def test_json_lines() -> None:
    record = logging.LogRecord("bx", logging.INFO, __file__, 1, "reader %s up", ("r1",), None)
    record.lane = "lane1"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "reader r1 up" and line["lane"] == "lane1" and line["level"] == "info"
