"""The release: ``python -m build`` makes a wheel and an sdist, and the wheel alone runs the gateway.

The wheel is installed into a new virtual environment in a temporary folder, away from the checkout,
and the commands of the README's install section run there with that folder as working directory:
``config example`` / ``config check`` on the shipped example site file, and ``demo --duration 20``,
whose dashboard, JSON Schemas and AsyncAPI document are fetched while it runs.  Everything these need
(dashboard, schemas, GS1/EPC tables, the demo's configuration, scenario and data, flag rules, agency
routing) must therefore be package data.

No network: the build runs without isolation (``build``, ``setuptools`` and ``wheel`` are ``dev``
dependencies), and the new environment gets the project's dependencies, not the project, by a
``.pth`` line naming this environment's site-packages (a path line does not run the editable
install's hook, so ``gateway`` can only come from the wheel; the test checks that it does).  A
fully clean install (``pip install dist/*.whl`` with the dependencies from the index) behaves the
same and is how the README puts it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from gateway.service.broker import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("gateway", "drivers", "simulators", "config", "pyproject.toml", "setup.py", "README.md")
PACKAGE_DATA = (  # one file of each kind the service reads at run time
    "gateway/service/dashboard.html",
    "gateway/publishing/schemas/asyncapi.json",
    "gateway/publishing/schemas/enriched.v1.json",
    "gateway/enrichment/schemas/declaration.v1.json",
    "gateway/enrichment/data/flag_rules.yaml",
    "gateway/enrichment/data/agency_routing.yaml",
    "gateway/gs1/_ai_table.py",
    "gateway/gs1/epc/_tdt_tables.py",
    "gateway/examples/site.example.yaml",
    "gateway/examples/demo.yaml",
    "gateway/examples/scenarios/demo.yaml",
    "gateway/examples/demo-data/declarations.json",
    "gateway/examples/flag_rules.yaml",
    "gateway/examples/agency_routing.yaml",
    "gateway/examples/mosquitto/site-bridge.conf",
    "drivers/camera/decoders.py",
    "simulators/camera_sim/timeline.py",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` on a copy of the sources (the build writes egg-info next to them)."""
    work = tmp_path_factory.mktemp("release")
    src = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    out = work / "dist"
    run = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


def test_build_makes_a_wheel_and_an_sdist_with_the_package_data(dist: Path) -> None:
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    assert not [path for path in PACKAGE_DATA if path not in names]
    assert not [n for n in names if n.startswith(("tests/", "config/", "benchmarks/"))]
    with tarfile.open(sdists[0]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"setup.py", "pyproject.toml", "config/site.example.yaml", "config/demo-data/declarations.json",
            "gateway/service/dashboard.html"} <= members


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment, outside the checkout, with the wheel installed."""
    target = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    python = target / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "bx-test-dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    wheel = next(dist.glob("*.whl"))
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                          "--no-index", "--quiet", str(wheel)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    return target


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def test_the_installed_wheel_checks_the_shipped_example(venv: Path, tmp_path: Path) -> None:
    python, command = venv / "bin" / "python", venv / "bin" / "border-gateway"
    where = subprocess.run([str(python), "-c", "import gateway, gateway.shipped as s; "
                            "print(gateway.__file__); print(s.shipped('site.example.yaml'))"],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the wheel's files, not the checkout's
    example = subprocess.run([str(command), "config", "example"], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=60)
    assert example.returncode == 0, example.stderr
    (tmp_path / "site.yaml").write_text(example.stdout)
    env = {**_env(), "BX_MQTT_PASSWORD": "secret", "BX_API_TOKEN": "token"}
    for file in ("site.yaml", where[1]):
        check = subprocess.run([str(command), "config", "check", file], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        assert "ok (site de-frankfurt-oder, gateway gw-01, 2 lanes" in check.stdout


def test_the_installed_wheel_runs_the_demo(venv: Path, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([str(venv / "bin" / "border-gateway"), "demo", "--duration", "20",
                                "--api-port", str(port)], cwd=tmp_path, env=_env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not any(line.startswith("dashboard") for line in lines) and time.monotonic() < deadline:
            assert process.poll() is None, "".join(lines) + (process.stderr.read() if process.stderr else "")
            time.sleep(0.2)
        served = {}
        for path in ("/", "/api/schemas/enriched.v1.json", "/api/asyncapi", "/health"):
            for _ in range(50):  # the API comes up a moment after the dashboard line
                try:
                    served[path] = httpx.get(base + path, timeout=5)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
        assert {path: r.status_code for path, r in served.items()} == {
            "/": 200, "/api/schemas/enriched.v1.json": 200, "/api/asyncapi": 200, "/health": 200}
        assert "<title>Border gateway" in served["/"].text
        assert served["/api/asyncapi"].json()["asyncapi"].startswith("3.")
        process.wait(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    reader.join(10)
    stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, "".join(lines[-20:]) + stderr[-3000:]
    summary_line = next(line for line in lines if line.startswith("demo summary: "))
    summary = json.loads(summary_line.removeprefix("demo summary: "))
    # 20 s after the scenario start covers the first two trucks (at 4 s and 14 s of the scenario)
    assert summary["passages"] >= 2, summary_line
    assert {"EXPIRED", "SPS_DOC_MISSING"} <= set(summary["flags"]), summary_line
    assert not re.search(r"Traceback|ERROR", stderr), stderr[-3000:]
