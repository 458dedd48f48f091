"""The benchmark report (``benchmarks/report.py``) turns result JSON into the RESULTS.md table.

Nothing is measured here (no test asserts wall-clock time): this only checks the formatting of a
sample result, including the row shapes ``bench_pipeline.py`` writes (text values such as
``"p50 / p95 / p99"`` and rows without an anchor), so that ``benchmarks/run_all`` cannot fail at
its last step.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCHMARKS / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_formats_a_sample_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    report = _report()
    sample = {"benchmark": "End to end", "machine": "x86_64, 2 CPUs (loaded)", "rows": [
        {"metric": "sustained raw reads/s per lane", "ours": 5000, "anchor": None, "anchor_name": None,
         "ratio": None, "unit": "reads/s", "target": ">= 5,000"},
        {"metric": "read->broker p50 / p95 / p99", "ours": "3.1 / 9.8 / 21.4", "anchor": None,
         "anchor_name": None, "ratio": None, "unit": "ms", "target": "p99 < 50"},
        {"metric": "enriched messages/s", "ours": 1234.5, "anchor": 2469, "anchor_name": "bare paho QoS 1",
         "ratio": 0.5, "unit": "msg/s", "target": ">= 0.5x"},
    ]}
    (tmp_path / "pipeline.json").write_text(json.dumps(sample))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert report.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert "## End to end" in lines
    assert "| sustained raw reads/s per lane | 5,000 |  |  | reads/s | >= 5,000 |" in lines
    assert "| read->broker p50 / p95 / p99 | 3.1 / 9.8 / 21.4 |  |  | ms | p99 < 50 |" in lines
    assert "| enriched messages/s | 1,234 | 2,469 (bare paho QoS 1) | 0.50x | msg/s | >= 0.5x |" in lines


def test_pipeline_benchmark_is_run_by_run_all() -> None:
    """``run_all`` runs every ``bench_*.py``; the pipeline benchmark must be one of them."""
    assert (BENCHMARKS / "bench_pipeline.py").is_file()
    assert "bench_*.py" in (BENCHMARKS / "run_all").read_text()


def test_vehicles_benchmark_is_run_by_run_all() -> None:
    """Issue 17: plate events into passages is one of the benchmarks ``run_all`` runs."""
    assert (BENCHMARKS / "bench_vehicles.py").is_file()
