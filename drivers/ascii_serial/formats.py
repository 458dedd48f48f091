"""Line formats of ASCII tag readers, sans I/O: one line in, a :class:`LineRead` out.

Presets (``format=`` in the URL):

``hex``
    the bare EPC in hex (keyboard-wedge and "one tag per line" readers);
``alien``
    Alien's text taglist, ``Tag:<hex with spaces>, Disc:..., Last:..., Count:n, Ant:n, Proto:n``
    (``(No Tags)`` is the empty list, not garbage);
``rifidi``
    Rifidi's generic adapter line ``ID:<hex>|Antenna:<n>|Timestamp:<ms>|k:v...``;
``regex``
    a user pattern with named groups ``epc`` (required), ``antenna``, ``rssi``, ``count``,
    ``timestamp_ms``.

>>> parse_line(b"Tag:3074 257B F719 4E40 0000 1A85, Disc:2024/05/01 10:00:00.250, Count:3, Ant:1, Proto:2",
...            "alien")
LineRead(epc_hex='3074257bf7194e4000001a85', antenna=1, count=3, rssi_dbm=None, source_time=1714557600.25, extra={})
>>> parse_line(b"ID:3074257BF7194E4000001A85|Antenna:2|Timestamp:1714557600250", "rifidi").source_time
1714557600.25
>>> try:
...     parse_line(b"hello", "hex")
... except LineError as exc:
...     print(exc)
'hello': not a hex EPC
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

PRESETS = ("hex", "alien", "rifidi", "regex")
ALIASES = {"epc": "hex", "generic": "rifidi", "alien-text": "alien"}
_HEX = re.compile(r"[0-9A-Fa-f]{4,}")


class LineError(ValueError):
    """A line does not match the configured format (names the line)."""


@dataclass(frozen=True, slots=True)
class LineRead:
    epc_hex: str
    antenna: int | None = None
    count: int = 1
    rssi_dbm: float | None = None
    source_time: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _text(line: bytes) -> str:
    return line.decode("ascii", errors="replace").strip()


def _epc(text: str, line: str) -> str:
    compact = text.replace(" ", "").replace(":", "")
    if compact.startswith(("0x", "0X")):
        compact = compact[2:]
    if not _HEX.fullmatch(compact) or len(compact) % 2:
        raise LineError(f"{line!r}: not a hex EPC")
    return compact.lower()


def _int(value: str, what: str, line: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise LineError(f"{line!r}: {what} {value!r} is not an integer") from None


def _alien_time(value: str) -> float | None:
    try:
        return datetime.strptime(value.strip(), "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _alien(text: str) -> LineRead | None:
    if text == "(No Tags)":
        return None
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition(":")
        if not sep:
            raise LineError(f"{text!r}: {part.strip()!r} is not Key:value")
        fields[key.strip().lower()] = value.strip()
    if "tag" not in fields:
        raise LineError(f"{text!r}: no Tag: field")
    when = fields.get("last") or fields.get("disc")
    rssi = fields.get("rssi")
    return LineRead(
        _epc(fields["tag"], text),
        antenna=_int(fields["ant"], "Ant", text) if "ant" in fields else None,
        count=_int(fields["count"], "Count", text) if "count" in fields else 1,
        rssi_dbm=float(rssi) if rssi and re.fullmatch(r"-?\d+(\.\d+)?", rssi) else None,
        source_time=_alien_time(when) if when else None,
    )


def _rifidi(text: str) -> LineRead:
    fields: dict[str, str] = {}
    for part in text.split("|"):
        key, sep, value = part.partition(":")
        if not sep:
            raise LineError(f"{text!r}: {part!r} is not key:value")
        fields[key.strip()] = value.strip()
    if "ID" not in fields:
        raise LineError(f"{text!r}: no ID: field")
    ts = fields.pop("Timestamp", None)
    ant = fields.pop("Antenna", None)
    epc = _epc(fields.pop("ID"), text)
    return LineRead(epc, antenna=_int(ant, "Antenna", text) if ant is not None else None,
                    source_time=_int(ts, "Timestamp", text) / 1000.0 if ts is not None else None, extra=fields)


def _regex(text: str, pattern: re.Pattern[str]) -> LineRead:
    m = pattern.search(text)
    if m is None:
        raise LineError(f"{text!r}: does not match {pattern.pattern!r}")
    groups = {k: v for k, v in m.groupdict().items() if v is not None}
    if "epc" not in groups:
        raise LineError(f"{text!r}: the pattern matched without an 'epc' group")
    rssi = groups.get("rssi")
    try:
        rssi_value = float(rssi) if rssi is not None else None
    except ValueError:
        raise LineError(f"{text!r}: rssi {rssi!r} is not a number") from None
    ts = groups.get("timestamp_ms")
    return LineRead(
        _epc(groups["epc"], text),
        antenna=_int(groups["antenna"], "antenna", text) if "antenna" in groups else None,
        count=_int(groups["count"], "count", text) if "count" in groups else 1,
        rssi_dbm=rssi_value,
        source_time=_int(ts, "timestamp", text) / 1000.0 if ts is not None else None,
    )


def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise LineError(f"pattern {pattern!r}: {exc}") from None
    if "epc" not in compiled.groupindex:
        raise LineError(f"pattern {pattern!r} has no (?P<epc>...) group")
    return compiled


def parse_line(line: bytes, fmt: str, pattern: re.Pattern[str] | None = None) -> LineRead | None:
    """One line -> a read, ``None`` for an explicit "no tags" line, :class:`LineError` otherwise."""
    text = _text(line)
    fmt = ALIASES.get(fmt, fmt)
    if fmt == "hex":
        return LineRead(_epc(text, text))
    if fmt == "alien":
        return _alien(text)
    if fmt == "rifidi":
        return _rifidi(text)
    if fmt == "regex":
        if pattern is None:
            raise LineError("format=regex needs a pattern")
        return _regex(text, pattern)
    raise LineError(f"unknown format {fmt!r}; one of {PRESETS}")
