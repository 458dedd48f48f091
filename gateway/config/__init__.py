"""Site configuration: a validated pydantic model loaded from YAML, with a JSON Schema.

>>> cfg = parse_config({"site": "bx1", "gateway": "gw1", "lanes": [{"id": "lane1"}]})
>>> cfg.mqtt.qos, cfg.lanes[0].id
(1, 'lane1')
>>> bad = {"site": "bx1", "gateway": "gw1", "lanes": [{"id": "lane1", "rdrs": []}]}
>>> parse_config(bad, "s.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
gateway.config.loader.ConfigError: s.yaml: lanes[0].rdrs: unknown key (check the spelling; ...)
"""

from gateway.config.loader import ConfigError, format_loc, load_config, parse_config
from gateway.config.site import (
    AntennaConfig,
    ApiConfig,
    ApiTlsConfig,
    CameraConfig,
    LaneConfig,
    ReaderConfig,
    SiteConfig,
    StorageConfig,
)

__all__ = [
    "AntennaConfig",
    "ApiConfig",
    "ApiTlsConfig",
    "CameraConfig",
    "ConfigError",
    "LaneConfig",
    "ReaderConfig",
    "SiteConfig",
    "StorageConfig",
    "format_loc",
    "load_config",
    "parse_config",
]


def json_schema() -> dict[str, object]:
    """The JSON Schema of the site YAML (``border-gateway config schema``)."""
    schema = SiteConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gs1-border-gateway site configuration"
    return schema
