"""The one thing ``pyproject.toml`` cannot say: the top-level ``config/`` folder (the example site file,
the demo's configuration, scenario and data, the editable flag rules and agency routing) is shipped
inside the package as ``gateway.examples``, where :mod:`gateway.shipped` finds it.  Everything
else about the build is in ``pyproject.toml``."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["gateway*", "drivers*", "simulators*"], exclude=["*.__pycache__"]),
              "gateway.examples"],
    package_dir={"gateway.examples": "config"},
)
