"""Structured logging with redaction.

Log lines never carry secrets (passwords, tokens, URL credentials) or personal data: the
:class:`RedactingFilter` masks URL credentials, bearer tokens, ``password=``/``token=``
pairs and every secret value registered with :func:`register_secret` (the config loader
registers each secret it resolves).  Code must still not log names, EORIs or plates: the
filter is a safety net, not a licence.

>>> redact("connect mqtts://gw:hunter2@broker:8883 with Bearer abc.def")
'connect mqtts://gw:***@broker:8883 with Bearer ***'
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time

_SECRETS: set[str] = set()
_PATTERNS = (
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?P<post>@)", re.I), r"\g<pre>***\g<post>"),
    (re.compile(r"(?P<pre>\bBearer\s+)[^\s\"',]+", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>\b(?:password|passwd|token|secret|api_key)\s*[=:]\s*)[^\s\"',&]+", re.I),
     r"\g<pre>***"),
)


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in a log line (ignored when short or empty)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields."""

    _RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._RESERVED and not key.startswith("_"):
                out[key] = value if isinstance(value, (int, float, bool, type(None))) else redact(str(value))
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log level (default INFO)")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines on standard error")


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
