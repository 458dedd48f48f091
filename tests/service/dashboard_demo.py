"""The dashboard of a running ``border-gateway demo`` in headless Chromium, as an officer works from it.

:func:`watch_dashboard` runs while the demo plays its scenario (the shared 60-second run of
``tests/service/test_demo.py``, so no second demo is started) and notes what the page showed; the
tests assert on the notes.  A failure here is kept in the notes (``error``), not raised: the demo's
other tests share the run and must still see it end.

What it looks at, in the scenario's order (seed 5): lane 1's clean truck proceeds (words and green beside
its SSCCs and declaration), lane 2's frozen beef goes to the bay (amber) with SPS_DOC_MISSING, whose rule and
evidence open in place, and an SPS referral; the recent flags name time, lane, passage and declaration; the
history holds the closed passages and filters by flag, lane and declaration; then the demo stops its LLRP
simulator (``--stop-llrp-at``) and lane 1 says so in plain words.  Every console message of type error and
every uncaught page error is collected.  Waits are bounded and assert nothing about time.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.service.browser import chromium_path

ROOT = Path(__file__).resolve().parents[2]
LLRP_STOP_AT = 57.0  # scenario seconds: after the last truck's passage closed (56.3 s), before the run ends


@dataclass
class DashboardSeen:
    skipped: str | None = None
    error: str | None = None
    proceed: dict[str, Any] = field(default_factory=dict)  # lane 1's "now" block when it said Proceed
    bay: dict[str, Any] = field(default_factory=dict)  # lane 2's when it sent the beef truck to the bay
    flag_closed: str = ""  # the SPS_DOC_MISSING flag's text before it is opened
    flag_opened: str = ""  # ... and once opened (rule, evidence)
    referral: str = ""
    recent_flag: dict[str, Any] = field(default_factory=dict)
    history_all: list[str] = field(default_factory=list)  # each row's text
    history_by_flag: list[str] = field(default_factory=list)
    history_by_flag_and_lane: list[str] = field(default_factory=list)
    history_by_mrn: list[str] = field(default_factory=list)
    warning: str = ""
    sources_row: str = ""
    console_errors: list[str] = field(default_factory=list)
    requests_failed: list[str] = field(default_factory=list)


NOW = "section[data-lane={lane}] .now"


def _now(page: Any, lane: str) -> dict[str, Any]:
    return dict(page.evaluate(
        """sel => { const el = document.querySelector(sel); const css = getComputedStyle(el);
                    return { signal: el.dataset.signal, source: el.dataset.source, text: el.innerText,
                             words: el.querySelector('.do').innerText, border: css.borderTopColor,
                             colour: getComputedStyle(el.querySelector('.do')).color,
                             identity: el.querySelector('.who').innerText }; }""", NOW.format(lane=lane)))


def _rows(page: Any) -> list[str]:
    return [str(text) for text in page.eval_on_selector_all(
        "#history tbody tr[data-passage]", "rows => rows.map(r => r.innerText)")]


def watch_dashboard(base: str, seen: DashboardSeen, timeout_ms: float = 45_000) -> None:
    if chromium_path() is None:
        seen.skipped = "Debian chromium is not installed (./run.sh test installs it)"
        return
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        seen.skipped = "playwright is not installed"
        return
    from tests.service.browser import chromium_page

    try:
        with chromium_page() as page:
            page.on("console", lambda m: seen.console_errors.append(f"{m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.console_errors.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: seen.requests_failed.append(f"{r.url} {r.failure}")
                    if "/api/events" not in r.url else None)  # the event stream is aborted on close
            page.goto(base + "/")
            page.wait_for_selector("section[data-lane=lane1]", timeout=timeout_ms)

            # lane 2: the frozen beef without its CHED-P goes to the bay
            page.wait_for_function(
                f"(() => {{ const el = document.querySelector('{NOW.format(lane='lane2')}');"
                " return el.dataset.signal === 'bay' && el.innerText.includes('SPS_DOC_MISSING'); })()",
                timeout=timeout_ms)
            seen.bay = _now(page, "lane2")
            flag = "section[data-lane=lane2] details.flag[data-flag=SPS_DOC_MISSING]"
            seen.flag_closed = page.inner_text(flag)
            page.click(flag + " > summary")
            page.wait_for_selector(flag + "[open] .evidence", state="visible", timeout=timeout_ms)
            seen.flag_opened = page.inner_text(flag)
            seen.referral = page.inner_text("section[data-lane=lane2] [data-referral=sps]")

            # recent flags: time, lane, passage, declaration
            row = "#flags tbody tr[data-lane=lane2]:has(details[data-flag=SPS_DOC_MISSING])"
            page.wait_for_selector(row, timeout=timeout_ms)
            seen.recent_flag = dict(page.eval_on_selector(row, """r => ({ passage: r.dataset.passage,
                lane: r.dataset.lane, cells: [...r.cells].map(c => c.innerText) })"""))

            # history: the closed passages, then filtered (the list reloads on each closed passage)
            page.wait_for_function("document.querySelectorAll('#history tbody tr[data-passage]').length >= 6",
                                   timeout=timeout_ms)
            seen.history_all = _rows(page)
            page.wait_for_function("[...document.querySelectorAll('#history-filters [name=flag] option')]"
                                   ".some(o => o.value === 'NO_DECLARATION')", timeout=timeout_ms)
            page.select_option("#history-filters [name=flag]", "NO_DECLARATION")
            page.wait_for_function("[...document.querySelectorAll('#history tbody tr[data-passage]')]"
                                   ".every(r => r.innerText.includes('NO_DECLARATION'))", timeout=timeout_ms)
            seen.history_by_flag = _rows(page)
            page.select_option("#history-filters [name=lane]", "lane2")
            page.wait_for_function("[...document.querySelectorAll('#history tbody tr[data-passage]')]"
                                   ".every(r => r.dataset.lane === 'lane2')", timeout=timeout_ms)
            seen.history_by_flag_and_lane = _rows(page)
            page.select_option("#history-filters [name=lane]", "")
            page.select_option("#history-filters [name=flag]", "")
            page.fill("#history-filters [name=mrn]", "25DE0040560000003A")
            page.press("#history-filters [name=mrn]", "Enter")
            page.wait_for_function("(() => { const rows = document.querySelectorAll('#history tbody tr[data-passage]');"
                                   " return rows.length > 0 && [...rows].every(r => r.innerText.includes("
                                   "'25DE0040560000003A')); })()", timeout=timeout_ms)
            seen.history_by_mrn = _rows(page)

            # lane 1: a pre-cleared truck proceeds (truck 6: its plate, a released movement; late in the run)
            page.wait_for_function(f"document.querySelector('{NOW.format(lane='lane1')}').dataset.signal === 'go'",
                                   timeout=timeout_ms)
            seen.proceed = _now(page, "lane1")
            # the LLRP simulator stops: lane 1 (and 2) say so in plain words, with the gateway retrying
            warning = "section[data-lane=lane1] [data-warning=llrp-sim]"
            page.wait_for_function(f"(document.querySelector('{warning}') || {{}}).innerText?.includes('unreachable')",
                                   timeout=timeout_ms)
            seen.warning = page.inner_text(warning)
            seen.sources_row = page.inner_text("#sources tr[data-source=llrp-sim]")
            shots = ROOT / "build" / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "dashboard-demo.png"), full_page=True)
    except Exception:
        seen.error = traceback.format_exc(limit=4)
