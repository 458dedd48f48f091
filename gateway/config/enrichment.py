"""``enrichment:`` section: declaration matching and flag rules."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gateway.config.common import Section


class EtaWindowConfig(Section):
    before_h: float = Field(24.0, ge=0, description="a vehicle may arrive this long before the declared ETA")
    after_h: float = Field(48.0, ge=0, description="... or this long after it")


class EnrichmentConfig(Section):
    border_office: str | None = Field(None, description="customs office reference number, e.g. DE004711")
    eta_window_before_h: float = Field(
        24.0, ge=0, description="declarations whose ETA is this long after now still match")
    eta_window_after_h: float = Field(48.0, ge=0, description="... or this long before now")
    eta_windows: dict[str, EtaWindowConfig] = Field(
        default_factory=dict, description="per customs office ETA window, overriding the two values above")
    agency_routing: Path | None = Field(None, description="HS chapter/heading -> agency table (default: built in)")
    rules: Path | None = Field(None, description="flag thresholds and stop-lists (default: built in)")
    intake_mqtt: bool = Field(False, description="subscribe to {base}/in/{site}/{gw}/declarations|products|parties")
    late_window_s: float = Field(
        86400.0, ge=0, le=30 * 86400.0,
        description="late data: a declaration, movement or master record stored (or amended) up to this long "
                    "after a passage closed re-enriches it and publishes the next revision of its enriched record "
                    "when the result changes (0: never); at most 30 days")

    def window(self, office: str | None = None) -> tuple[float, float]:
        """(before, after) in seconds for ``office`` (default: the border office)."""
        office = office or self.border_office
        if office is not None and office in self.eta_windows:
            w = self.eta_windows[office]
            return w.before_h * 3600.0, w.after_h * 3600.0
        return self.eta_window_before_h * 3600.0, self.eta_window_after_h * 3600.0
