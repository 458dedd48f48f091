"""``llrp://`` source URLs -> :class:`ClientConfig`.

``llrp://host[:5084]?antennas=1,2&power=30&session=1&report=1&keepalive=5000``

==============  ===========================================================================
parameter       meaning (default)
==============  ===========================================================================
antennas        antenna ids, ``0`` or absent = all
power           transmit power in dBm; the nearest entry of the reader's power table is used
session         Gen2 session 0-3 (reader default)
population      expected tag population (32)
report          ``N`` = report every N tags (1), ``200ms`` = every 200 ms (LLRP 1.1 trigger)
start           ``immediate`` (ENABLE starts the ROSpec) or ``null`` (START_ROSPEC is sent)
keepalive       reader keepalive interval in ms (5000); ``0`` switches keepalives and the watchdog off
misses          keepalives missed before the connection is declared dead (3)
timeout         seconds to wait for a connection or a response (5)
rospec          ROSpec id (1234)
mode            C1G2 RF mode identifier (reader default)
backoff         reconnect backoff ``base,cap`` in seconds (``0.5,30``)
version         ``auto`` (negotiate LLRP 1.1, fall back to 1.0.1), ``1.0.1`` (never negotiate)
                or ``1.1`` (refuse a reader that cannot speak 1.1)
gpi             GPI ports to enable (``1,2``): each edge becomes a lane trigger (none)
gpi_start       ``PORT[:high|low]``: the ROSpec runs from this GPI edge (default ``high``)
gpi_stop        ``PORT[:high|low]``: ... until this one (default ``low``); needs ``gpi_start``
gpi_timeout     ms: the GPI stop trigger's fail-safe, stop anyway after this long (0 = none)
==============  ===========================================================================

GPI ports named by ``gpi_start`` / ``gpi_stop`` are enabled too (a trigger fires only on an enabled
port, LLRP 1.1 §13.2.6.2):

>>> c = ClientConfig.parse("llrp://10.0.0.5?gpi=1&gpi_start=2&gpi_stop=2&gpi_timeout=30000")
>>> c.gpi_ports, c.gpi_start, c.gpi_stop, c.gpi_timeout_ms
((1, 2), (2, True), (2, False), 30000)

>>> c = ClientConfig.parse("llrp://10.0.0.5?antennas=1,2&power=27.5&report=250ms&keepalive=1000")
>>> c.host, c.port, c.antennas, c.power_dbm, c.report_n, c.report_ms, c.dead_after_s
('10.0.0.5', 5084, (1, 2), 27.5, None, 250, 3.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from drivers.llrp.constants import DEFAULT_PORT, VERSION_1_0_1, VERSION_1_1

# URL spelling -> header version number; None = negotiate (§9.1 of LLRP 1.1)
VERSIONS: dict[str, int | None] = {"auto": None, "1.0.1": VERSION_1_0_1, "1.1": VERSION_1_1}


class ConfigError(ValueError):
    """The ``llrp://`` URL is not valid (the message names the parameter)."""


@dataclass(frozen=True, slots=True)
class ClientConfig:
    host: str
    port: int = DEFAULT_PORT
    antennas: tuple[int, ...] = (0,)
    power_dbm: float | None = None
    session: int | None = None
    population: int = 32
    report_n: int | None = 1
    report_ms: int | None = None
    start_immediately: bool = True
    keepalive_ms: int = 5000
    misses: int = 3
    timeout_s: float = 5.0
    rospec_id: int = 1234
    mode_id: int | None = None
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    version: int | None = None  # None: negotiate up to 1.1; 1: LLRP 1.0.1 only; 2: LLRP 1.1 required
    gpi_ports: tuple[int, ...] = ()  # GPI ports to enable: their edges are reported as GPIEvents
    gpi_start: tuple[int, bool] | None = None  # (port, edge): the ROSpec's GPI start trigger
    gpi_stop: tuple[int, bool] | None = None  # (port, edge): its GPI stop trigger
    gpi_timeout_ms: int = 0  # the stop trigger's fail-safe timeout (0 = none)

    @property
    def dead_after_s(self) -> float | None:
        """The keepalive watchdog's deadline: silence longer than this means the connection is dead."""
        if self.keepalive_ms <= 0:
            return None
        return self.misses * self.keepalive_ms / 1000.0 + 0.5

    @classmethod
    def parse(cls, url: str) -> ClientConfig:
        parts = urlsplit(url)
        if parts.scheme.lower() != "llrp" or not parts.hostname:
            raise ConfigError(f"{url!r}: expected llrp://host[:port]?...")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        known = {"antennas", "power", "session", "population", "report", "start", "keepalive", "misses",
                 "timeout", "rospec", "mode", "backoff", "version", "gpi", "gpi_start", "gpi_stop",
                 "gpi_timeout"}
        unknown = set(q) - known
        if unknown:
            raise ConfigError(f"{url!r}: unknown parameter(s) {', '.join(sorted(unknown))}")

        def num(name: str, kind: type[int] | type[float], lo: float, hi: float) -> int | float | None:
            if name not in q:
                return None
            try:
                v = kind(q[name])
            except ValueError:
                raise ConfigError(f"{url!r}: {name}={q[name]!r} is not a number") from None
            if not lo <= v <= hi:
                raise ConfigError(f"{url!r}: {name}={v} outside [{lo}, {hi}]")
            return v

        try:
            port = parts.port or DEFAULT_PORT
            antennas = tuple(int(a) for a in q.get("antennas", "0").split(",") if a.strip()) or (0,)
        except ValueError:
            raise ConfigError(f"{url!r}: bad port or antennas") from None
        report = q.get("report", "1").strip().lower()
        report_n: int | None = None
        report_ms: int | None = None
        try:
            if report.endswith("ms"):
                report_ms = int(report[:-2])
            elif report.endswith("s"):
                report_ms = int(float(report[:-1]) * 1000)
            else:
                report_n = int(report)
        except ValueError:
            raise ConfigError(f"{url!r}: report={report!r}: use N (tags) or e.g. 200ms") from None
        if (report_n is not None and not 1 <= report_n <= 0xFFFF) or (report_ms is not None and not
                                                                       1 <= report_ms <= 0xFFFF):
            raise ConfigError(f"{url!r}: report must be 1..65535 tags or ms (0 would mean 'never report')")
        start = q.get("start", "immediate").lower()
        if start not in ("immediate", "null"):
            raise ConfigError(f"{url!r}: start must be immediate or null")
        base, cap = 0.5, 30.0
        if "backoff" in q:
            try:
                base, cap = (float(x) for x in q["backoff"].split(","))
            except ValueError:
                raise ConfigError(f"{url!r}: backoff=base,cap in seconds") from None
            if not 0 < base <= cap <= 3600:  # also refuses nan and inf
                raise ConfigError(f"{url!r}: backoff=base,cap needs 0 < base <= cap <= 3600 seconds")
        version_text = q.get("version", "auto").strip().lower()
        if version_text not in VERSIONS:
            raise ConfigError(f"{url!r}: version must be one of {', '.join(VERSIONS)}")
        gpi_ports, gpi_start, gpi_stop, gpi_timeout = _gpi(url, q)
        power = num("power", float, -10.0, 40.0)
        session = num("session", int, 0, 3)
        mode = num("mode", int, 0, 2**32 - 1)
        return cls(
            host=parts.hostname, port=port, antennas=antennas,
            power_dbm=None if power is None else float(power),
            session=None if session is None else int(session),
            population=int(num("population", int, 1, 0xFFFF) or 32),
            report_n=report_n, report_ms=report_ms, start_immediately=start == "immediate",
            keepalive_ms=int(num("keepalive", int, 0, 2**32 - 1) if "keepalive" in q else 5000),  # type: ignore[arg-type]
            misses=int(num("misses", int, 1, 100) or 3),
            timeout_s=float(num("timeout", float, 0.05, 600.0) or 5.0),
            rospec_id=int(num("rospec", int, 1, 2**32 - 1) or 1234),
            mode_id=None if mode is None else int(mode),
            backoff_base_s=base, backoff_cap_s=cap, version=VERSIONS[version_text],
            gpi_ports=gpi_ports, gpi_start=gpi_start, gpi_stop=gpi_stop, gpi_timeout_ms=gpi_timeout,
        )


def _gpi(url: str, q: dict[str, str]) -> tuple[tuple[int, ...], tuple[int, bool] | None, tuple[int, bool] | None, int]:
    """``gpi``, ``gpi_start``, ``gpi_stop``, ``gpi_timeout``: ports 1..65535 (0 is invalid, §13.2.6.2)."""

    def port(text: str, name: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{url!r}: {name}: {text!r} is not a GPI port number") from None
        if not 1 <= value <= 0xFFFF:
            raise ConfigError(f"{url!r}: {name}: GPI ports are 1..65535, got {value}")
        return value

    def edge(name: str, default: bool) -> tuple[int, bool] | None:
        if name not in q:
            return None
        text, _, level = q[name].partition(":")
        level = level.strip().lower() or ("high" if default else "low")
        if level not in ("high", "low"):
            raise ConfigError(f"{url!r}: {name}={q[name]!r}: the edge is high or low")
        return port(text.strip(), name), level == "high"

    ports = [port(p.strip(), "gpi") for p in q.get("gpi", "").split(",") if p.strip()]
    start, stop = edge("gpi_start", True), edge("gpi_stop", False)
    if stop is not None and start is None:
        raise ConfigError(f"{url!r}: gpi_stop needs gpi_start (a GPI stop trigger ends what a GPI start began)")
    timeout = 0
    if "gpi_timeout" in q:
        try:
            timeout = int(q["gpi_timeout"])
        except ValueError:
            raise ConfigError(f"{url!r}: gpi_timeout={q['gpi_timeout']!r} is not a number of ms") from None
        if not 0 <= timeout <= 0xFFFFFFFF:
            raise ConfigError(f"{url!r}: gpi_timeout must be 0..4294967295 ms")
    for trigger in (start, stop):
        if trigger is not None and trigger[0] not in ports:
            ports.append(trigger[0])
    return tuple(sorted(set(ports))), start, stop, timeout


def check_url(url: str) -> None:
    """Config-time validation (``drivers.registry.validate_url``): raises :class:`ConfigError`."""
    ClientConfig.parse(url)
