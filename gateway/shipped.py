"""Files shipped with the gateway: the example site file, the demo's configuration, scenario and data,
and editable copies of the flag rules and the agency routing.

In a checkout they are the top-level ``config/`` folder; a wheel carries the same folder inside the
package as ``gateway/examples`` (``setup.py`` maps one onto the other).  :func:`shipped` finds a file
in either, through :mod:`importlib.resources`, so the demo and ``config example`` work the same from
a checkout, an editable install and an installed wheel.

>>> shipped("site.example.yaml").name
'site.example.yaml'
>>> shipped("demo-data/declarations.json").is_file()
True
>>> shipped("no-such-file.yaml")
Traceback (most recent call last):
...
FileNotFoundError: no-such-file.yaml is not among the shipped files (...)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

INSTALLED = "examples"  # the folder's name inside an installed package


def shipped_dir() -> Path:
    """The folder of the shipped files: ``gateway/examples`` when installed, else the checkout's ``config/``."""
    package = Path(str(resources.files("gateway")))
    installed = package / INSTALLED
    return installed if installed.is_dir() else package.parent / "config"


def shipped(name: str) -> Path:
    """The path of one shipped file, e.g. ``shipped("scenarios/demo.yaml")``."""
    path = shipped_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not among the shipped files ({shipped_dir()})")
    return path
