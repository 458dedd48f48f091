"""``camera:sim``: the camera simulator plugged into the camera driver.

The driver (:mod:`drivers.camera.source`) does not import the simulators: ``pyproject.toml`` registers
:func:`open_camera` under the entry-point group ``border_gateway.cameras`` as ``sim``, and the driver
looks it up when a URL says ``camera:sim?...``.  With ``timeline=FILE`` the camera shows scripted labels
at set times (:mod:`simulators.camera_sim.timeline`, the demo); otherwise it renders a scene scenario
(:mod:`simulators.camera_sim.stream`).

>>> camera = open_camera({"scenario": "clean", "frames": "1", "size": "320x180"}, live=False)
>>> camera().read().shape
(180, 320, 3)
>>> open_camera({"size": "320"}, live=False)
Traceback (most recent call last):
...
ValueError: size must be WxH, got '320'
"""

from __future__ import annotations

from collections.abc import Mapping

from simulators.camera_sim.stream import SimCamera
from simulators.camera_sim.timeline import TimelineError, from_options


def open_camera(options: Mapping[str, str], live: bool) -> SimCamera:
    """The simulated camera for the options of a ``camera:sim?...`` URL; ValueError names a bad option."""
    if "timeline" in options:
        try:
            return from_options(options, live=live)
        except TimelineError as exc:
            raise ValueError(str(exc)) from None
    text = options.get("size", "1920x1080")
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be WxH, got {text!r}") from None
    return SimCamera(scenario=options.get("scenario", "video"), seed=int(options.get("seed", 1)),
                     frames=int(options.get("frames", 0)), size=(width, height), fps=float(options.get("fps", 25.0)),
                     live=live, stall_after=int(options.get("stall_after", 0)),
                     drop_after=int(options.get("drop_after", 0)), fail_opens=int(options.get("fail_opens", 0)))
