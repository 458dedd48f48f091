"""``enrichment:`` section: declaration matching and flag rules."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gateway.config.common import Section


class EnrichmentConfig(Section):
    border_office: str | None = Field(None, description="customs office reference number, e.g. DE004711")
    eta_window_before_h: float = Field(
        24.0, ge=0, description="declarations whose ETA is this long after now still match")
    eta_window_after_h: float = Field(48.0, ge=0, description="... or this long before now")
    agency_routing: Path | None = Field(None, description="HS chapter/heading -> agency table (default: built in)")
    rules: Path | None = Field(None, description="flag thresholds and stop-lists (default: built in)")
