"""Site configuration: examples validate, every error names file, key path and problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway.config import ConfigError, json_schema, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def _minimal(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {"site": "bx1", "gateway": "gw1", "lanes": [{"id": "lane1"}]}
    data.update(overrides)
    return data


def test_examples_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BX_MQTT_PASSWORD", "pw-from-env")
    monkeypatch.setenv("BX_API_TOKEN", "token-from-env")
    site = load_config(ROOT / "config/site.example.yaml")
    assert [lane.id for lane in site.lanes] == ["lane1", "lane2"]
    assert site.mqtt.password is not None and site.mqtt.password.get_secret_value() == "pw-from-env"
    assert site.mqtt.uses_tls and site.mqtt.port == 8883
    monkeypatch.delenv("BX_API_TOKEN")
    demo = load_config(ROOT / "config/demo.yaml")
    assert demo.api.tokens[0].get_secret_value() == "demo-token"


def test_unknown_scheme_names_file_and_key_path(tmp_path: Path) -> None:
    data = _minimal(lanes=[{"id": "lane1"}, {"id": "lane2", "readers": [{"id": "r1", "url": "lrp://x:5084"}]}])
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: lanes[1].readers[0].url: unknown scheme 'lrp'")


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        (_minimal(lanes=[{"id": "lane1", "readerz": []}]), "lanes[0].readerz", "unknown key"),
        (_minimal(mqtt={"qos": 3}), "mqtt.qos", "Input should be 0, 1 or 2"),
        (_minimal(site="a/b"), "site", "not a valid id"),
        (_minimal(gateway="gw+"), "gateway", "not a valid id"),
        (_minimal(lanes=[{"id": ""}]), "lanes[0].id", "not a valid id"),
        (_minimal(lanes=[]), "lanes", "at least 1"),
        (_minimal(mqtt={"base_topic": "bx/#"}), "mqtt.base_topic", "not a valid id"),
        (_minimal(mqtt={"url": "http://x"}), "mqtt.url", "unknown scheme 'http'"),
        (_minimal(mqtt={"urls": ["mqtt://a", "ws://b"]}), "mqtt.urls", "unknown scheme 'ws'"),
        (_minimal(mqtt={"urls": ["mqtt://a", "mqtts://b"]}), "mqtt.urls", "mixes mqtt:// and mqtts://"),
        (_minimal(mqtt={"url": "mqtt://a", "urls": ["mqtt://b"]}), "mqtt", "mqtt.url is not the first of mqtt.urls"),
        (_minimal(mqtt={"urls": ["mqtt://a", "mqtt://a:1883"]}), "mqtt", "the same broker is listed twice"),
        (_minimal(api={"bind": "nowhere"}), "api.bind", "expected host:port"),
        (_minimal(lanes=[{"id": "lane1", "read_point_gln": "4012345000008"}]),
         "lanes[0].read_point_gln", "check digit"),
        (_minimal(lanes=[{"id": "l1", "readers": [{"id": "r", "url": "llrp://h", "antennas": {0: {}}}]}]),
         "lanes[0].readers[0].antennas", "1..65535"),
        (_minimal(lanes=[{"id": "l1", "readers": [{"id": "r", "url": "llrp://h",
                                                   "antennas": {1: {"zone": "middle"}}}]}]),
         "lanes[0].readers[0].antennas[1].zone", "'entry', 'portal' or 'exit'"),
        (_minimal(lanes=[{"id": "l1", "cameras": [{"id": "c", "url": "rtsp://x"}]}]),
         "lanes[0].cameras[0].url", "unknown scheme 'rtsp'"),
    ],
)
def test_errors_name_the_key_path(data: dict[str, object], where: str, what: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "site.yaml")
    paths = [path for path, _ in err.value.problems]
    assert where in paths, err.value.problems
    assert what in str(err.value)


def test_shared_reader_must_not_map_an_antenna_twice() -> None:
    reader = {"id": "r", "url": "llrp://h:5084", "antennas": {1: {}}}
    with pytest.raises(ConfigError, match="antennas \\[1\\] are mapped to more than one lane"):
        parse_config(_minimal(lanes=[{"id": "a", "readers": [reader]}, {"id": "b", "readers": [reader]}]))


def test_missing_env_var_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BX_NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"mqtt\.password: environment variable BX_NOPE is not set"):
        parse_config(_minimal(mqtt={"password": "${BX_NOPE}"}))


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("site: x\nlanes: [\n")
    with pytest.raises(ConfigError, match="line 3"):
        load_config(path)


def test_schema_forbids_unknown_keys() -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert "SiteConfig" in json.dumps(schema) or "lanes" in schema["properties"]  # type: ignore[operator]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_cli_config_check_and_schema(tmp_path: Path) -> None:
    ok = _cli("config", "check", "config/demo.yaml")
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "s.yaml"
    bad.write_text(yaml.safe_dump(_minimal(lanes=[{"id": "l", "readers": [{"id": "r", "url": "lrp://h"}]}])))
    res = _cli("config", "check", str(bad))
    assert res.returncode == 1
    assert f"{bad}: lanes[0].readers[0].url: unknown scheme 'lrp'" in res.stderr
    schema = json.loads(_cli("config", "schema").stdout)
    assert schema["title"] == "gs1-border-gateway site configuration"


def test_failover_list_is_the_broker_order() -> None:
    site = parse_config(_minimal(mqtt={"urls": ["mqtts://a.example", "ssl://user:pw@b.example:8884"]}))
    assert [b.url for b in site.mqtt.brokers] == ["mqtts://a.example:8883", "mqtts://b.example:8884"]
    assert (site.mqtt.host, site.mqtt.port, site.mqtt.uses_tls) == ("a.example", 8883, True)
    assert [b.url for b in parse_config(_minimal()).mqtt.brokers] == ["mqtt://127.0.0.1:1883"]
    both = parse_config(_minimal(mqtt={"url": "mqtt://a", "urls": ["mqtt://a", "mqtt://b"]})).mqtt  # url kept first
    assert [b.url for b in both.brokers] == ["mqtt://a:1883", "mqtt://b:1883"]

