"""The data-driven parts of matching: flag rules (``flag_rules.yaml``) and agency routing
(``agency_routing.yaml``).  Built-in copies ship in ``gateway/enrichment/data/``; the site config's
``enrichment.rules`` / ``enrichment.agency_routing`` point at edited copies (``config/`` has them).

>>> rules = load_rules()
>>> rules.rule("HS_MISMATCH").ref.id, rules.linking.confidence["declared-sscc-list"]
('R-HS-DIST', 1.0)
>>> [e.agency for e in load_routing().match("020230")]
['VET', 'EUDR']
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.enrichment.result import RuleRef, Severity

DATA = Path(__file__).parent / "data"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _severity(value: Any) -> Any:
    """Rule files may say ``info``: the flag is published as ``low`` (the wire has no lower level)."""
    return "low" if value == "info" else value


_SEVERITIES = get_args(Severity)


class Rule(_Strict):
    """One flag rule: id, version and severity; the other keys are the rule's own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    version: str
    severity: Annotated[Severity, BeforeValidator(_severity)] | None = None

    @property
    def ref(self) -> RuleRef:
        return RuleRef(id=self.id, version=self.version)

    def param(self, name: str, default: Any = None) -> Any:
        extra = self.model_extra or {}
        return extra.get(name, default)

    def sev(self, name: str | None = None, default: Severity = "medium") -> Severity:
        value = self.param(name) if name else self.severity
        if value is None:
            value = self.severity or default
        value = _severity(value)
        if value not in _SEVERITIES:
            raise ValueError(f"rule {self.id}: severity {value!r} is not {'/'.join(_SEVERITIES)} (or info)")
        return value  # type: ignore[no-any-return]


class Linking(_Strict):
    confidence: dict[str, float] = Field(default_factory=dict)
    gtin_weakest_level: Literal["hs6", "heading", "chapter"] = "chapter"
    plate_min_confidence: float = Field(0.6, ge=0, le=1, description="plates read with less link nothing alone")
    plate_max_confusable: int = Field(1, ge=0, le=2, description="OCR-confusable characters a plate link allows")

    def conf(self, via: str) -> float:
        return self.confidence.get(via, 0.5)


class RuleSet(_Strict):
    version: str
    linking: Linking = Field(default_factory=Linking)
    rules: dict[str, Rule]

    def rule(self, code: str) -> Rule:
        try:
            return self.rules[code]
        except KeyError:
            raise KeyError(f"flag rule {code!r} is missing from the rule set {self.version}") from None


class AgencyEntry(_Strict):
    agency: str
    name: str | None = None
    hs: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    expected_docs: list[str] = Field(default_factory=list)
    audience: Literal["sps", "cites"] | None = None

    def matches(self, hs6: str) -> str | None:
        """The matching prefix (the basis), or ``None``."""
        if any(hs6.startswith(prefix) for prefix in self.exclude):
            return None
        best = max((p for p in self.hs if hs6.startswith(p)), key=len, default=None)
        return best


class RoutingTable(_Strict):
    version: str
    agencies: list[AgencyEntry]

    def match(self, hs6: str) -> list[AgencyEntry]:
        return [entry for entry in self.agencies if entry.matches(hs6)]


REQUIRED_FLAGS = ("NO_DECLARATION", "SSCC_NOT_DECLARED", "GTIN_UNDECLARED", "HS_MISMATCH", "ORIGIN_MISMATCH",
                  "COUNT_MISMATCH", "EXPIRED", "RECALLED", "KEY_CHECKDIGIT_INVALID", "DG_UNDECLARED",
                  "SPS_DOC_MISSING", "CITES_CANDIDATE", "VAGUE_DESCRIPTION", "PARTY_ID_INVALID",
                  "PLATE_LINK_UNCERTAIN", "TRANSPORT_MISMATCH", "CONTAINER_NOT_SEEN", "CONTAINER_NOT_DECLARED")


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _stamp(path: Path) -> tuple[int, int, int]:
    """What tells an edited file from the one read before (a configuration reload reads the edit)."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)  # reading it will say why
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _rules(path: Path, stamp: tuple[int, int, int]) -> RuleSet:
    rules = RuleSet.model_validate(_load_yaml(path))
    missing = [code for code in REQUIRED_FLAGS if code not in rules.rules]
    if missing:
        raise ValueError(f"{path}: rule set lacks {missing}")
    return rules


@lru_cache(maxsize=8)
def _routing(path: Path, stamp: tuple[int, int, int]) -> RoutingTable:
    return RoutingTable.model_validate(_load_yaml(path))


def load_rules(path: Path | str | None = None) -> RuleSet:
    file = Path(path) if path else DATA / "flag_rules.yaml"
    return _rules(file, _stamp(file))


def load_routing(path: Path | str | None = None) -> RoutingTable:
    file = Path(path) if path else DATA / "agency_routing.yaml"
    return _routing(file, _stamp(file))
