"""The README's configuration keys and reader/camera URL options go through ``config check`` (issue #22 item 13).

What the README documents is read from the README itself, so that a documented option the code refuses
(``format=pipe`` was one), or a documented key the configuration does not have, fails here:

* every reader and camera URL written in the README (placeholders such as ``BROKER`` or ``LISTEN_IP``
  filled in from :data:`PLACEHOLDERS`, ``a|b|c`` alternatives expanded) passes ``config check``;
* every option named in a scheme's README section is accepted, with the sample value from
  :data:`OPTION_SAMPLES` (a new documented option without a sample fails the test: add one), and a
  made-up option is refused (except by cameras, where unknown parameters belong to the stream URL);
* every key of the README's configuration table is a key of the site file's JSON Schema, and one file
  that sets every documented key passes ``border-gateway config check``; a bad Mercury, ASCII or camera
  URL makes ``config check`` and ``run`` exit non-zero naming the key path.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.registry import scheme_of
from gateway.config import ConfigError, json_schema, parse_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
READER_SCHEMES = ("llrp", "mercury", "serial-ascii", "impinj-iot+http", "impinj-iot+mqtt", "impinj-iot+webhook",
                  "zebra-iot+mqtt")
CAMERA_SCHEMES = ("camera", "images")
PLACEHOLDERS = {"LISTEN_IP": "0.0.0.0", "PORT": "8081", "PATH": "impinj", "READER": "10.0.0.7", "BROKER": "broker",
                "EVENT_TOPIC": "events", "ip:port": "0.0.0.0:8081", "host:port": "127.0.0.1:4001"}

# scheme -> (the README section that documents its options: first and last line, as regexes;
#            words of that section that are values or prose, not options;
#            a URL to add one option to; option -> a valid sample value)
SECTIONS: dict[str, tuple[str, str, set[str], str]] = {
    "llrp": (r"^\*\*LLRP\*\* \(", r"^$", set(), "llrp://10.0.0.5:5084"),
    "mercury": (r"^- \*\*ThingMagic / JADAK Mercury modules\*\*", r"^- \*\*Readers that print",
                {"dialout"}, "mercury:///dev/ttyUSB0"),
    "serial-ascii": (r"^- \*\*Readers that print one tag per line\*\*", r"^$",
                     {"hex", "alien", "rifidi", "regex"}, "serial-ascii:///dev/ttyS1"),
    "impinj-iot+webhook": (r"^\* \*Webhook:\*", r"^\* In the event configuration", set(),
                           "impinj-iot+webhook://0.0.0.0:8081/impinj"),
    "camera": (r"^Options go in the query string\.", r"^Set-up for a lane:", {"combined"}, "camera:0"),
}
OPTION_SAMPLES: dict[str, dict[str, str]] = {
    "llrp": {"antennas": "1,2", "power": "30", "session": "1", "population": "64", "report": "200ms",
             "start": "null", "keepalive": "0", "misses": "5", "timeout": "3", "rospec": "7", "mode": "1002",
             "backoff": "0.5,10", "version": "1.0.1", "gpi": "1,2", "gpi_start": "1", "gpi_stop": "1:low&gpi_start=1",
             "gpi_timeout": "30000"},
    "mercury": {"baud": "230400", "region": "NA", "power": "2700", "antennas": "1,2", "metadata": "0x0057",
                "on_time": "250", "timeout": "2", "silence": "10", "backoff": "1", "backoff_max": "60"},
    "serial-ascii": {"baud": "57600", "format": "rifidi", "pattern": "(?P<epc>[0-9A-F]+)", "antenna": "2",
                     "silence": "30", "backoff": "1", "backoff_max": "60"},
    "impinj-iot+webhook": {"token": "t0k3n", "max_body": "65536", "request_timeout": "10", "max_connections": "4"},
    "camera": {"roi": "10,20,300,200", "width": "1920", "height": "1080", "fps": "25", "exposure": "10",
               "decoder": "zxing", "track": "2", "window": "1.5", "min_frames": "3", "stall": "5",
               "open_timeout": "4000", "read_timeout": "2000", "backoff": "1", "backoff_cap": "20"},
}


def _readme_urls() -> list[str]:
    """Every reader/camera URL written in backticks in the README, made concrete."""
    schemes = "|".join(re.escape(s) for s in (*READER_SCHEMES, *CAMERA_SCHEMES))
    urls: list[str] = []
    for raw in sorted(set(re.findall(rf"`((?:{schemes}):[^`]+)`", README))):
        text = raw.replace("\\|", "|")
        if "[" in text:  # a syntax line (llrp://host[:5084]?…), not an example
            continue
        for placeholder, value in PLACEHOLDERS.items():
            text = re.sub(rf"\b{re.escape(placeholder)}\b", value, text)
        base, _, query = text.partition("?")
        if query == "…":
            continue
        base = base.replace("…", "x")
        options: list[list[str]] = []
        for part in query.split("&") if query else []:
            name, _, value = part.partition("=")
            if value == "…":
                value = OPTION_SAMPLES[scheme_of(text)][name]
            options.append([f"{name}={alternative}" for alternative in value.split("|")])
        for combination in itertools.product(*options):
            urls.append(base + ("?" + "&".join(combination) if combination else ""))
    return urls


def _site(readers: list[str], cameras: list[str]) -> dict[str, Any]:
    return {"site": "bx1", "gateway": "gw1", "lanes": [{
        "id": "lane1",
        "readers": [{"id": f"r{i}", "url": url} for i, url in enumerate(readers)],
        "cameras": [{"id": f"c{i}", "url": url} for i, url in enumerate(cameras)]}]}


def _check(url: str) -> None:
    is_camera = scheme_of(url) in CAMERA_SCHEMES
    parse_config(_site([] if is_camera else [url], [url] if is_camera else []), "README.md")


def test_every_url_in_the_readme_passes_config_check() -> None:
    urls = _readme_urls()
    assert len(urls) >= 25, urls  # the extraction itself works
    assert "serial-ascii:///dev/ttyS1?format=rifidi&pattern=(?P<epc>[0-9A-F]+)" in urls
    for url in urls:
        try:
            _check(url)
        except ConfigError as exc:
            raise AssertionError(f"the README's {url!r} fails config check: {exc}") from None


def _documented_options(scheme: str) -> set[str]:
    first, last, not_options, _ = SECTIONS[scheme]
    lines = README.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(first, line))
    end = next(i for i in range(start + 1, len(lines)) if re.match(last, lines[i]))
    text = re.sub(r"\([^()]*\)", "", "\n".join(lines[start:end]))  # what a parenthesis says is about a value
    names: set[str] = set()
    for token in re.findall(r"`([^`]+)`", text):
        if ":" in token:  # a URL: its query's names
            names |= {part.partition("=")[0] for part in token.partition("?")[2].split("&") if "=" in part}
        elif m := re.fullmatch(r"\??([a-z][a-z0-9_]*)=.*", token):
            names.add(m.group(1))
        elif re.fullmatch(r"[a-z][a-z0-9_]*", token) and token not in not_options:
            names.add(token)
    return names


@pytest.mark.parametrize("scheme", sorted(SECTIONS))
def test_every_documented_option_passes_config_check(scheme: str) -> None:
    documented = _documented_options(scheme)
    samples = OPTION_SAMPLES[scheme]
    assert documented, f"no options found in the README section of {scheme}"
    missing = documented - set(samples)
    assert not missing, f"the README documents {sorted(missing)} for {scheme}: add a sample value to OPTION_SAMPLES"
    base = SECTIONS[scheme][3]
    for name in sorted(documented):
        url = f"{base}?{name}={samples[name]}"
        try:
            _check(url)
        except ConfigError as exc:
            raise AssertionError(f"{scheme}: the documented option {name} is refused: {exc}") from None
    if scheme not in CAMERA_SCHEMES:  # a camera keeps unknown parameters for the stream URL
        with pytest.raises(ConfigError, match="unknown parameter"):
            _check(f"{base}?no_such_option=1")


# -- configuration keys ---------------------------------------------------------------------------

# Keys without a default (or whose default is "absent") get these values; the others get their default
# from the JSON Schema.  A path is dotted, with [] for a list's items.
KEY_SAMPLES: dict[str, Any] = {
    "site": "bx1", "gateway": "gw1", "lanes[].id": "lane1", "lanes[].name": "Lane 1",
    "lanes[].read_point_gln": "4012345000009", "lanes[].plate_country": "DE", "lanes[].open_on": "trigger",
    "lanes[].readers[].id": "r1", "lanes[].readers[].url": "llrp://10.0.0.5",
    "lanes[].readers[].antennas": {1: {"zone": "entry", "rssi_min_dbm": -70.0, "min_reads": 2}},
    "lanes[].readers[].gpi_entry": 1, "lanes[].readers[].gpi_exit": 2, "lanes[].readers[].gpos": 4,
    "lanes[].gpo": {"stop": [{"reader": "r1", "port": 1}],
                    "proceed": [{"reader": "r1", "port": 2, "pattern": "pulse"}]},
    "lanes[].cameras[].id": "c1", "lanes[].cameras[].url": "camera:0", "lanes[].cameras[].decoders": ["zxing"],
    "lane_engine.key_types": ["sscc", "sgtin"],
    "mqtt.urls": ["mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1884"],
    "mqtt.username": "gw", "mqtt.password": "secret", "mqtt.tls": {"ca": "ca.pem", "cert": "gw.pem", "key": "gw.key"},
    "api.tls": {"cert": "api.crt", "key": "api.key"}, "api.tokens": ["write-token"], "api.read_tokens": ["read-token"],
    "enrichment.border_office": "DE004056", "enrichment.eta_windows": {"DE004056": {"before_h": 12, "after_h": 24}},
    "enrichment.agency_routing": "routing.yaml", "enrichment.rules": "rules.yaml",
}


SECTION_ROWS = ("lanes[].readers[]", "lanes[].cameras[]", "lane_engine", "mqtt", "api", "storage", "enrichment")
VALUE_WORDS = {"auto", "true", "false"}  # backticked values in the table's meaning column


def _documented_keys() -> list[str]:
    """Dotted key paths from the README's ``| key | meaning |`` table."""
    lines = README.splitlines()
    start = lines.index("| key | meaning |") + 2
    keys: list[str] = []
    for line in itertools.takewhile(lambda row: row.startswith("|"), lines[start:]):
        left, right = line.strip("|").split(" | ", 1)
        named = re.findall(r"`([^`]+)`", left)
        if named[0] in SECTION_ROWS:  # the meaning column lists the section's keys
            prefix = named[0] + "."
            for token in re.findall(r"`([^`]+)`", right):
                if m := re.fullmatch(r"([a-z_]+): \{(.*)\}", token):  # tls: {ca, cert, key}, one level deeper
                    keys.append(prefix + m.group(1))
                    inner = re.sub(r"\{[^{}]*\}", "", m.group(2))
                    keys += [f"{prefix}{m.group(1)}.{name}" for name in re.findall(r"[a-z_]+", inner)]
                elif re.fullmatch(r"[a-z][a-z0-9_]*", token) and token not in VALUE_WORDS:
                    keys.append(prefix + token)
        elif "." in named[0]:  # `lanes[].id`, `name`, ...: the first names the section of the others
            prefix = named[0].rsplit(".", 1)[0] + "."
            keys += [named[0], *(prefix + name for name in named[1:])]
        else:
            keys += named
    return keys


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node or "anyOf" in node:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        else:
            node = next(n for n in node["anyOf"] if n.get("type") != "null")
    return node


def _schema_node(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema of a key (as written under its parent: its default is there), or None if there is none."""
    node: dict[str, Any] = schema
    for part in path.replace("[]", ".[]").split("."):
        node = _resolve(schema, node)
        if part == "[]":
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif part == "port" and "additionalProperties" in node:
            node = node["additionalProperties"]  # antennas: {port: {...}}
        else:
            return None
    return node


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    node: Any = target
    parts = path.replace("[]", ".0").split(".")
    for i, part in enumerate(parts[:-1]):
        nxt: Any = [] if parts[i + 1] == "0" else {}
        if isinstance(node, list):
            if not node:
                node.append(nxt)
            node = node[0]
        else:
            node = node.setdefault(part, nxt)
    if isinstance(node, dict):
        node.setdefault(parts[-1], value)


def test_every_documented_key_is_in_the_schema_and_passes_config_check(tmp_path: Path) -> None:
    keys = _documented_keys()
    assert {"site", "mqtt.tls.ca", "mqtt.outbox.when_full", "lanes[].readers[].gpi_exit", "storage.path",
            "enrichment.intake_mqtt", "lane_engine.direction_agreement", "lane_engine.only_gs1_keys"} <= set(keys), keys
    schema = json_schema()
    site: dict[str, Any] = {}
    for key in sorted(set(keys), key=len, reverse=True):  # nested keys before the sections holding them
        node = _schema_node(schema, key)
        assert node is not None, f"the README documents {key!r}, which the site file does not have"
        if key.count(".") and key.rsplit(".", 1)[0] in ("mqtt.tls", "api.tls", "lanes[].readers[].antennas"):
            continue  # filled by the sample of the section
        value = KEY_SAMPLES.get(key, node.get("default"))
        if value is None and _resolve(schema, node).get("type") == "object":
            value = {}
        assert value is not None, f"{key}: add a sample value to KEY_SAMPLES"
        _set(site, key, value)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    out = subprocess.run([sys.executable, "-m", "gateway", "config", "check", str(path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr + yaml.safe_dump(site)


@pytest.mark.parametrize(("url", "problem"), [
    ("mercury:///dev/ttyUSB0?region=XX", "unknown region"),
    ("mercury:///dev/ttyUSB0?power=99999", "read power 99999"),
    ("mercury:///dev/ttyUSB0?antennas=1,17", "antenna list"),
    ("serial-ascii:///dev/ttyS1?format=pipe", "unknown format 'pipe'"),
    ("serial-ascii:///dev/ttyS1?format=regex", "format=regex needs pattern"),
    ("serial-ascii:///dev/ttyS1?baudrate=9600", "unknown parameter(s) baudrate"),
    ("serial-ascii:///dev/ttyS1?silence=nan", "silence must be a finite number"),
    ("camera:0?roi=1,2,3", "roi must be x,y,w,h"),
    ("camera:0?window=0", "window must be > 0"),
    ("camera:sim?size=big", "size must be WxH"),
    ("impinj-iot+http:///api/v1/data/stream", "no reader host"),
])
def test_config_check_and_run_refuse_a_bad_url_naming_its_key_path(tmp_path: Path, url: str, problem: str) -> None:
    is_camera = scheme_of(url) in CAMERA_SCHEMES
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(_site([] if is_camera else [url], [url] if is_camera else [])))
    where = f"lanes[0].{'cameras' if is_camera else 'readers'}[0].url"
    for command in (["config", "check", str(path)], ["run", "--config", str(path)]):
        out = subprocess.run([sys.executable, "-m", "gateway", *command], capture_output=True, text=True, cwd=ROOT,
                             timeout=60)
        assert out.returncode != 0 and where in out.stderr and problem in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
