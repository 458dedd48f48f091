"""The shipped Prometheus alert rules: valid for Prometheus, firing when they should, on metrics that exist.

``promtool`` (Debian package ``prometheus``; ``scripts/setup.sh test`` puts the binary alone into
``.venv/bin``) checks ``deploy/prometheus/alerts.yml`` and runs its unit tests (``alerts.test.yml``: input
series and the alerts expected at given times).  Without promtool the test is skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC_ROW = re.compile(r"^\| `(bx_\w+)` \|", re.MULTILINE)


def _promtool() -> str | None:
    local = Path(sys.executable).parent / "promtool"
    return str(local) if local.exists() else shutil.which("promtool")


def documented_metrics() -> set[str]:
    """The metric names of the README's table (section "Metrics and alerts")."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Metrics and alerts", 1)[1].split("\n### ", 1)[0]
    return set(METRIC_ROW.findall(section))


def test_the_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = _promtool()
    if promtool is None:
        pytest.skip("promtool is not installed (scripts/setup.sh test takes it from the Debian package prometheus)")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 3 rules found" in check.stdout
    unit = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=RULES.parent, capture_output=True,
                          text=True, timeout=60)
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_the_rules_use_documented_metrics_only() -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    assert [rule["alert"] for rule in rules] == ["BorderGatewayOutboxBackingUp", "BorderGatewaySourceDown",
                                                 "BorderGatewayClockUnsynchronised"]
    used = {name for rule in rules for name in re.findall(r"\bbx_\w+", rule["expr"])}
    assert used and used <= documented_metrics(), used - documented_metrics()
