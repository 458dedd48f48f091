"""Load a site YAML into :class:`~gateway.config.site.SiteConfig` with errors a person can act on.

Every problem names the file, the key path and what is wrong::

    config/site.yaml: lanes[1].readers[0].url: unknown scheme 'lrp' (known: ...)

Secrets come from the environment: any string value may be written ``${VAR}`` or
``${VAR:-default}``; a missing variable without a default is an error naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from gateway.config.site import SiteConfig
from gateway.logs import register_secret

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists each as ``(key path, message)``."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {path}: {msg}" if path else f"{source}: {msg}"
                                   for path, msg in self.problems))


def format_loc(loc: Sequence[int | str]) -> str:
    """``('lanes', 1, 'readers', 0, 'url')`` -> ``lanes[1].readers[0].url``."""
    out = ""
    for part in loc:
        if isinstance(part, int) or (str(part).isdigit() and out):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _substitute(node: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, f"{path}.{k}" if path else str(k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ.get(name, default)
            if value is None:
                problems.append((path, f"environment variable {name} is not set"))
                return ""
            return value

        return _ENV.sub(replace, node)
    return node


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `border-gateway config schema`)"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def parse_config(data: Any, source: str = "<config>") -> SiteConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "the file must contain a YAML mapping")])
    problems: list[tuple[str, str]] = []
    data = _substitute(data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        config = SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [(format_loc(e["loc"]), _message(e)) for e in exc.errors()]) from None
    _register_secrets(config)
    return config


def load_config(path: str | Path) -> SiteConfig:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [("", f"{where}invalid YAML: {problem}")]) from None
    return parse_config(data, source)


def _register_secrets(config: SiteConfig) -> None:
    secrets: list[SecretStr | None] = [config.mqtt.password, *config.api.tokens, *(config.api.read_tokens or [])]
    for secret in secrets:
        if secret is not None:
            register_secret(secret.get_secret_value())
