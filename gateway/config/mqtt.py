"""``mqtt:`` section: the broker connection used for publishing and intake."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.config.common import Section, check_topic_segment


class MqttTls(Section):
    ca: Path | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate")
    cert: Path | None = Field(None, description="client certificate (PEM) for mutual TLS")
    key: Path | None = Field(None, description="client private key (PEM)")
    insecure_skip_verify: bool = Field(False, description="do not check the broker's host name (tests only)")

    @model_validator(mode="after")
    def _pair(self) -> MqttTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


class MqttConfig(Section):
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://host:port or mqtts://host:port (TLS)")
    client_id: str | None = Field(None, description="default: bx-{site}-{gateway}")
    username: str | None = None
    password: SecretStr | None = None
    tls: MqttTls | None = None
    qos: Literal[0, 1, 2] = 1
    protocol: Literal["5", "3.1.1", "auto"] = Field("auto", description="MQTT 5 with a 3.1.1 fallback")
    base_topic: str = Field("bx/v1", description="prefix of every topic")
    keepalive_s: int = Field(30, ge=5, le=3600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unknown scheme {parts.scheme!r} (use mqtt:// or mqtts://)")
        if not parts.hostname:
            raise ValueError("missing host")
        return value

    @field_validator("base_topic")
    @classmethod
    def _base(cls, value: str) -> str:
        for segment in value.split("/"):
            check_topic_segment(segment)
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if self.uses_tls else 1883)

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl") or self.tls is not None
