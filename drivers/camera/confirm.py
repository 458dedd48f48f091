"""Confirmation and de-duplication of decoded symbols, per camera.

Background clutter makes 1D decoders "read" codes that are not there, and a blurred, small symbol
can be read as another value (mostly ITF and EAN, see reference/barcode.md 3.7).  A symbol is
**confirmed** when it was seen on ``min_frames`` frames, or at once when its data validates as
GS1 (check digits, and the length its symbology must have: ITF-14 is 14 digits, an ITF of any
other length is never GS1) - with two more conditions for EAN/UPC and ITF, whose one mod-10 check
digit lets one wrong value in ten through:

- the read rests on more than one look at the symbol: zxing-cpp's band of agreeing scan lines is
  at least ``min_band`` px wide (:attr:`Symbol.band`; a 1 px band is one or two adjacent rows, which
  is how the benchmark's 720p mis-reads were read), or zbar decoded it on ``min_quality`` passes;
- no other read of the same frame put a different value on the same symbol that it does not clearly
  outweigh (:func:`drivers.camera.decoders.contested`).

Anything else waits for a second frame.  The same data from the same camera within ``window``
seconds of its last sighting is **one observation**, with first/last seen, frame count and latest
position.  Times are the frames' own times, so a file replays identically at any speed.

>>> from drivers.camera.decoders import Symbol
>>> itf = Symbol("ITF", "]I0", "123456", ((0, 0), (9, 0), (9, 5), (0, 5)))
>>> c = Confirmer(window=1.0, validate=lambda raw: False)
>>> c.update("cam", 0, 0.00, [itf]), [o.frames for o in c.update("cam", 1, 0.04, [itf])]
([], [2])
>>> [o.confirmed for o in c.expire(5.0)]
[True]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drivers.camera.decoders import Corners, Symbol, clutter_prone, contested


@dataclass(frozen=True, slots=True)
class Observation:
    camera: str
    symbol: Symbol  # the latest sighting (its corners are the latest position)
    first_seen: float
    last_seen: float
    first_frame: int
    last_frame: int
    frames: int
    confirmed: bool
    valid: bool  # the data validated as GS1 (check digits included)

    @property
    def raw(self) -> str:
        return self.symbol.raw

    @property
    def position(self) -> Corners:
        return self.symbol.corners


def gs1_validates(raw: str) -> bool:
    """True when the GS1 core parses ``raw`` (identifier + data) without error: check digits, dates,
    lengths and character sets.  Association rules (``req``) are only warnings here because a label
    splits its data over several symbols (a logistic label's (02)(37) sits apart from its (00))."""
    try:
        from gateway.gs1 import LENIENT, parse
    except ImportError:  # pragma: no cover - GS1 core missing: nothing validates
        return False
    try:
        parse(raw, profile=LENIENT)
    except Exception:
        return False
    return True


class _Track:
    __slots__ = (
        "camera",
        "confirmed",
        "first_frame",
        "first_seen",
        "frames",
        "last_counted",
        "last_frame",
        "last_seen",
        "symbol",
        "valid",
    )

    def __init__(self, camera: str, symbol: Symbol, frame: int, t: float, valid: bool) -> None:
        self.camera, self.symbol, self.valid = camera, symbol, valid
        self.first_seen = self.last_seen = t
        self.first_frame = self.last_frame = self.last_counted = frame
        self.frames = 1
        self.confirmed = False

    def snapshot(self) -> Observation:
        return Observation(self.camera, self.symbol, self.first_seen, self.last_seen, self.first_frame,
                           self.last_frame, self.frames, self.confirmed, self.valid)


class Confirmer:
    """Feed it each decoded frame with :meth:`update`; it returns the observations that just became
    confirmed.  :meth:`expire` closes observations not seen for ``window`` s and returns them."""

    def __init__(self, *, window: float = 2.0, min_frames: int = 2, check_digit_confirms: bool = True,
                 validate: Callable[[str], bool] = gs1_validates, min_band: float = 3.0,
                 min_quality: int = 2) -> None:
        self.window, self.min_frames = window, min_frames
        self.check_digit_confirms, self.validate = check_digit_confirms, validate
        self.min_band, self.min_quality = min_band, min_quality
        self._tracks: dict[tuple[str, str], _Track] = {}

    def well_read(self, symbol: Symbol) -> bool:
        """Whether one sighting of ``symbol`` is enough evidence for its check digit to confirm it:
        always for symbologies that are not clutter-prone; for EAN/UPC and ITF, a band of zxing-cpp
        scan lines at least ``min_band`` px wide or ``min_quality`` zbar passes (another backend:
        never)."""
        if not clutter_prone(symbol.symbology_id):
            return True
        if symbol.backend.startswith("zxing-cpp"):
            return symbol.band >= self.min_band
        if symbol.backend.startswith("pyzbar"):
            return symbol.quality >= self.min_quality
        return False

    def update(self, camera: str, frame: int, t: float, symbols: Sequence[Symbol]) -> list[Observation]:
        confirmed: list[Observation] = []
        disputed = contested(symbols)
        for k, s in enumerate(symbols):
            key = (camera, s.raw)
            track = self._tracks.get(key)
            if track is None or t - track.last_seen > self.window:
                track = _Track(camera, s, frame, t, self.validate(s.raw))
                self._tracks[key] = track
            elif frame != track.last_counted:  # a symbol found twice in one frame counts once
                track.frames += 1
                track.last_counted = frame
                track.last_seen, track.last_frame, track.symbol = t, frame, s
            # the check digit confirms on one frame only if this sighting is sound (see the module docstring)
            if not track.confirmed and (track.frames >= self.min_frames
                                        or (self.check_digit_confirms and track.valid and k not in disputed
                                            and self.well_read(s))):
                track.confirmed = True
                confirmed.append(track.snapshot())
        return confirmed

    def expire(self, now: float) -> list[Observation]:
        gone = [k for k, tr in self._tracks.items() if now - tr.last_seen > self.window]
        return [self._tracks.pop(k).snapshot() for k in gone]

    def flush(self) -> list[Observation]:
        """Close every open observation (end of a file or shutdown)."""
        out = [tr.snapshot() for tr in self._tracks.values()]
        self._tracks.clear()
        return out

    def open(self) -> list[Observation]:
        return [tr.snapshot() for tr in self._tracks.values()]
